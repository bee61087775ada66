"""Reports on a run directory: the county workbooks (the one list in Excel), the import of
returned workbooks, indicators, charts and inspection samples. Free of CLI concerns: the
CLI (cli/report_cmds.py) and the web application call these functions."""

from yidan.reports.charts import draw_charts
from yidan.reports.indicators import compute_indicators, write_indicators
from yidan.reports.sample import SampleResult, draw_sample
from yidan.reports.verify_import import ImportResult, import_verifications
from yidan.reports.workbook import write_workbooks

__all__ = [
    "ImportResult", "SampleResult", "compute_indicators", "draw_charts", "draw_sample", "import_verifications",
    "write_indicators", "write_workbooks",
]
