"""What changed between two comparison runs (`yidan diff OLD NEW`).

Children newly dropped out, children who returned, children who dropped out again after
a verified return, and findings opened and closed — findings are matched by their stable
key (code|term|programme|person), so a finding that persists is neither opened nor closed.
Runs of different terms are compared person by person; a finding of a run's own term is matched
with the same code, programme and person in the other run's own term (the problem persists), while
findings of earlier audit terms are matched by their full key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ibis
import pyarrow as pa

from yidan.outfiles import atomic_output, output_dir
from yidan.pipeline.keys import finding_key_expr
from yidan.runs.rundir import RunDir

DROPPED = ("DROPPED_OUT",)
IN_SCHOOL = ("IN_SCHOOL", "HOME_TEACHING")
RETURNED_CONCLUSION = "已劝返复学"

PERSON_COLUMNS = {
    "person_id": "身份证号", "name": "姓名", "hukou_county": "户籍县", "age": "年龄",
    "old_status_label": "上次状态", "status_label": "本次状态", "school_code": "学校标识码",
}
FINDING_COLUMNS = {
    "finding_key": "问题编号", "code": "问题代码", "label": "问题类型", "person_id": "身份证号", "name": "姓名",
    "county": "责任县", "term": "学期", "programme_code": "资助项目", "detail": "问题说明",
}
SHEETS = {
    "newly_dropped": ("新增辍学", PERSON_COLUMNS),
    "returned": ("复学", PERSON_COLUMNS),
    "dropped_again": ("复学后再次辍学", PERSON_COLUMNS),
    "opened": ("新增问题", FINDING_COLUMNS),
    "closed": ("已销号问题", FINDING_COLUMNS),
}


@dataclass
class RunDiff:
    old: RunDir
    new: RunDir
    newly_dropped: pa.Table
    returned: pa.Table
    dropped_again: pa.Table
    opened: pa.Table
    closed: pa.Table

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name).num_rows for name in SHEETS}

    def labelled_counts(self) -> list[tuple[str, int]]:
        return [(SHEETS[name][0], n) for name, n in self.counts().items()]


def diff_runs(old: RunDir, new: RunDir) -> RunDiff:
    """Compare two complete runs; both are read from their Parquet files by DuckDB."""
    old.require_complete()
    new.require_complete()
    con = ibis.duckdb.connect()
    try:
        op = con.read_parquet(old.parquet_path("persons"))
        np_ = con.read_parquet(new.parquet_path("persons"))
        returned_flag = (
            op.verified_conclusion == RETURNED_CONCLUSION if "verified_conclusion" in op.columns
            else ibis.literal(False)
        )
        before = op.select(
            "person_id", old_status=op.status, old_status_label=op.status_label, old_returned=returned_flag
        )
        j = np_.left_join(before, "person_id")
        cols = [c for c in PERSON_COLUMNS if c in [*np_.columns, "old_status_label"]]
        dropped_now = j.status.isin(DROPPED) & ~j.old_status.fill_null("").isin(DROPPED)
        again = dropped_now & j.old_status.isin(IN_SCHOOL) & j.old_returned.fill_null(False)
        returned = j.old_status.isin(DROPPED) & j.status.isin(IN_SCHOOL)

        def take(expr: ibis.Table) -> pa.Table:
            return expr.select(*cols).order_by(["hukou_county", "person_id"]).to_pyarrow()

        of = _with_match_key(con.read_parquet(old.parquet_path("findings")), old.term)
        nf = _with_match_key(con.read_parquet(new.parquet_path("findings")), new.term)
        fcols = list(FINDING_COLUMNS)
        return RunDiff(
            old=old,
            new=new,
            newly_dropped=take(j.filter(dropped_now & ~again)),
            returned=take(j.filter(returned)),
            dropped_again=take(j.filter(again)),
            opened=nf.anti_join(of, "match_key").select(*fcols).order_by("finding_key").to_pyarrow(),
            closed=of.anti_join(nf, "match_key").select(*fcols).order_by("finding_key").to_pyarrow(),
        )
    finally:
        con.disconnect()


def _with_match_key(findings: ibis.Table, run_term: str) -> ibis.Table:
    """The key two runs' findings are matched on: the stable finding key, except that a finding of the
    run's own term matches the same code, programme and person in the other run's own term — a child
    still unmatched this term is the same open problem, not one closed and another opened."""
    current = findings.term == run_term
    same_problem = finding_key_expr(findings.code, "@run", findings.programme_code, findings.person_id)
    return findings.mutate(match_key=current.ifelse(same_problem, findings.finding_key))


def write_diff_xlsx(diff: RunDiff, path: Path) -> Path:
    """One workbook: a summary sheet, then one sheet per kind of change, Chinese headers;
    written under a temporary name and renamed when complete."""
    path = Path(path)
    output_dir(path.parent)
    with atomic_output(path) as tmp:
        _write_diff_book(diff, tmp)
    return path


def _write_diff_book(diff: RunDiff, path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    try:
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        text = wb.add_format({"num_format": "@"})
        ws = wb.add_worksheet("概要")
        ws.set_column(0, 0, 22)
        ws.set_column(1, 1, 36)
        rows: list[tuple[str, str | int]] = [("上次比对", f"{diff.old.run_id}（{diff.old.term}）"), ("本次比对", f"{diff.new.run_id}（{diff.new.term}）")]
        rows += [(label, n) for label, n in diff.labelled_counts()]
        ws.write_row(0, 0, ("项目", "数量"), head)
        for i, (k, v) in enumerate(rows, start=1):
            ws.write_string(i, 0, k)
            if isinstance(v, int):
                ws.write_number(i, 1, v)
            else:
                ws.write_string(i, 1, v)
        for name, (title, columns) in SHEETS.items():
            table: pa.Table = getattr(diff, name)
            ws = wb.add_worksheet(title)
            present = [c for c in columns if c in table.column_names]
            ws.write_row(0, 0, [columns[c] for c in present], head)
            for c, col in enumerate(present):
                ws.set_column(c, c, 60 if col == "detail" else 20)
            data = [table.column(c).to_pylist() for c in present]
            for r in range(table.num_rows):
                for c in range(len(present)):
                    v = data[c][r]
                    if v is None:
                        continue
                    if isinstance(v, int | float):
                        ws.write_number(r + 1, c, v)
                    else:
                        ws.write_string(r + 1, c, str(v), text)
            ws.freeze_panes(1, 0)
    finally:
        wb.close()
