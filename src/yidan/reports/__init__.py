"""Reports on a run directory: the county workbooks (the one list in Excel), the import of
returned workbooks, indicators, charts and inspection samples. Free of CLI concerns: the
CLI (cli/report_cmds.py) and the web application call these functions."""

from yidan.reports.verify_import import ImportResult, import_verifications
from yidan.reports.workbook import write_workbooks

__all__ = ["ImportResult", "import_verifications", "write_workbooks"]
