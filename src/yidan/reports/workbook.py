"""The one list in Excel: one workbook per county (or city / province aggregate).

A county workbook has a cover, one sheet per finding family, and a very hidden
`_yidan` sheet naming the run and the county, so a returned workbook maps back
exactly (see verify_import.py). Sheets are written with XlsxWriter in constant-memory
mode: rows stream from DuckDB in order and are flushed as written, so the largest
county never sits in memory as a sheet.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from yidan.contract import aid_needs
from yidan.contract.codes import CONCLUSIONS, FINDING_CODES, STATUSES, conclusions_for
from yidan.contract.outputs import poverty_rank_sql
from yidan.errors import ConfigError
from yidan.outfiles import atomic_output, output_dir
from yidan.reports import approved_share, styles
from yidan.reports.approved_share import over_share
from yidan.reports.cover import cover_figures, region_predicate, run_made_at, write_cover
from yidan.reports.regions import parent_of, region_name
from yidan.reports.runsql import connect, rows, sql_literal, with_due_dates
from yidan.runs.rundir import RunDir
from yidan.web.masking import mask_phone

LEVELS = ("county", "city", "province")
BATCH = 20_000
_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


def write_workbooks(
    run: RunDir, out: Path, level: str = "county", *, regions: list[str] | None = None,
    teams: dict[str, str] | None = None, due_dates: Any = None, aid_totals: dict[str, Any] | None = None,
) -> list[Path]:
    """Write one workbook per region of `level` into `out`; returns the paths in region order.

    `regions` limits the output to those region codes (a county exporting its own list); `teams`
    maps a finding key to its 三帮一 team as the web database holds it (the web's download).
    `due_dates`: an Arrow table (finding_key, due_date text) from the application's deadlines.
    `aid_totals`: the county's 补发 / 追回 figures from the application (store/aid_casework.py, issue 15),
    written as the sheet 资助台账 of a county workbook.
    """
    if level not in LEVELS:
        raise ConfigError(f"不支持的层级：{level}", hint="层级可选 county（县）、city（市州）、province（省）。")
    run.require_complete()
    out = output_dir(out)
    con = connect(run)
    with_due_dates(con, due_dates)
    try:
        counties = [
            r["county"]
            for r in rows(
                con,
                "SELECT DISTINCT county FROM (SELECT county FROM findings UNION ALL "
                "SELECT county FROM summary WHERE dimension = 'status') WHERE county IS NOT NULL ORDER BY 1",
            )
        ]
        wanted = sorted({parent_of(c, level) for c in counties})
        if regions is not None:
            wanted = [r for r in wanted if r in set(regions)]
        paths = []
        for region in wanted:
            path = out / workbook_name(run, level, region)
            with atomic_output(path) as tmp:  # a killed report leaves no half workbook under this name
                if level == "county":
                    _write_county(con, run, region, tmp, teams, aid_totals)
                else:
                    _write_aggregate(con, run, level, region, tmp)
            paths.append(path)
        return paths
    finally:
        con.close()


def workbook_name(run: RunDir, level: str, region: str) -> str:
    name = _UNSAFE.sub("_", region_name(region))
    return f"{region}_{name}_一单_{run.term}.xlsx"


def _new_workbook(path: Path) -> tuple[Any, dict[str, Any]]:
    wb = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
         "strings_to_urls": False},
    )
    return wb, styles.formats(wb)


def _write_meta(wb: Any, run: RunDir, level: str, region: str) -> None:
    ws = wb.add_worksheet(styles.META_SHEET)
    for i, (k, v) in enumerate(
        (("run_id", run.run_id), ("term", run.term), ("level", level), ("region", region),
         ("layout", styles.LAYOUT_VERSION), ("run_made_at", run_made_at(run)))
    ):
        ws.write_string(i, 0, k)
        ws.write_string(i, 1, v)
    ws.very_hidden()
    ws.protect()


def _title(level: str, region: str, term: str) -> str:
    return f"{region_name(region)} {term} 控辍保学与学生资助一单"


def _write_county(con: Any, run: RunDir, county: str, path: Path, teams: dict[str, str] | None = None,
                  aid_totals: dict[str, Any] | None = None) -> None:
    wb, fmt = _new_workbook(path)
    cover = wb.add_worksheet("封面")
    write_cover(cover, fmt, run, cover_figures(con, "county", county), title=_title("county", county, run.term))
    cover.protect()
    for family in styles.FAMILIES:
        _write_family_sheet(wb, fmt, con, run, county, family, teams)
    _write_places(wb, fmt, con, county, run.term)
    shares = over_share(run, county)
    if aid_totals is not None or shares:
        _write_aid_totals(wb, fmt, county, aid_totals, shares)
    _write_meta(wb, run, "county", county)
    wb.close()


def _write_aid_totals(wb: Any, fmt: dict[str, Any], county: str, figures: dict[str, Any] | None,
                      shares: list[dict[str, Any]]) -> None:
    """资助台账: what the county must pay and recover, and what it recorded (the application's figures at the
    time of the download, `figures["rows"]`: (label, amount, count, what it counts); None in a workbook
    written by `yidan report`), then the programmes it paid to more pupils than approved (`shares`)."""
    ws = wb.add_worksheet("资助台账")
    ws.write_string(0, 0, f"{region_name(county)} 资助台账：应补发、已补发、应追回、已追回", fmt["title"])
    row = 3
    if figures is not None:
        ws.write_string(1, 0, str(figures.get("note") or ""), fmt["note"])
        for col, head in enumerate(("项目", "金额（元）", "件数", "口径")):
            ws.write_string(row, col, head, fmt["header"])
        for label, amount, count, what in figures.get("rows") or ():
            row += 1
            ws.write_string(row, 0, str(label), fmt["text"])
            ws.write_number(row, 1, float(amount), fmt["amount"])
            ws.write_number(row, 2, int(count), fmt["int"])
            ws.write_string(row, 3, str(what), fmt["long"])
        note = figures.get("z07_note")
        if note:
            row += 1
            ws.write_string(row, 0, str(note), fmt["note"])
    else:
        ws.write_string(1, 0, "补发、追回的登记在网页应用中；从网页下载的工作簿在此列出应补发、已补发、应追回、已追回。", fmt["note"])
        row = 1
    row += 2
    ws.write_string(row, 0, "超过核定比例的资助项目（按比例资助）", fmt["subtitle"])
    ws.write_string(row + 1, 0, approved_share.NOTE if shares else "本县没有超过核定比例的资助项目。", fmt["note"])
    if shares:
        row += 3
        heads = ("资助项目", "学期", "受助人数（分子）", "在读学生数（分母）", "实际比例（%）", "核定比例（%）")
        for col, head in enumerate(heads):
            ws.write_string(row, col, head, fmt["header"])
        for r in shares:
            row += 1
            ws.write_string(row, 0, str(r["programme_code"]), fmt["text"])
            ws.write_string(row, 1, str(r["term"]), fmt["text"])
            ws.write_number(row, 2, int(r["recipients"]), fmt["int"])
            ws.write_number(row, 3, int(r["pupils"]), fmt["int"])
            if r["actual_share"] is None:
                ws.write_string(row, 4, "无在读学生", fmt["text"])
            else:
                ws.write_number(row, 4, float(r["actual_share"]), fmt["amount"])
            ws.write_number(row, 5, float(r["approved_share"]), fmt["amount"])
    ws.set_column(0, 0, 16)
    ws.set_column(1, 5, 14)
    ws.set_column(3, 3, 60 if figures is not None else 14)
    ws.protect()


PLACE_HEADERS = ("乡镇", "村", "学龄儿童", "其中义务教育年龄", "未脱贫、返贫", "未在校", "其中义务教育年龄未在校",
                 "问题（控辍保学）", "问题（学生资助）", "问题（数据质量）")


def _write_places(wb: Any, fmt: dict[str, Any], con: Any, county: str, term: str) -> None:
    """分乡镇村统计: children and findings by township and village, by name, for the teams that visit them.

    Children come from the summary's status_detail rows, findings from findings.parquet; a
    township's row is the sum of its villages (the township row first, then its villages)."""
    in_school = "('IN_SCHOOL', 'HOME_TEACHING', 'OUT_OF_PROVINCE', 'COMPLETED')"
    c = sql_literal(county)
    got = rows(con, f"""
        WITH kids AS (
            SELECT township AS t, village AS v, sum(count) AS n,
                   sum(count) FILTER (WHERE age_group = '义务教育') AS k,
                   sum(count) FILTER (WHERE poverty_status IN ('未脱贫', '返贫')) AS pr,
                   sum(count) FILTER (WHERE key NOT IN {in_school}) AS o,
                   sum(count) FILTER (WHERE key NOT IN {in_school} AND age_group = '义务教育') AS ko
            FROM summary WHERE dimension = 'status_detail' AND county = {c} GROUP BY ALL),
        f AS (
            SELECT township AS t, village AS v, count(*) FILTER (WHERE family = 'schooling') AS fs,
                   count(*) FILTER (WHERE family = 'aid') AS fa, count(*) FILTER (WHERE family = 'quality') AS fq
            FROM findings WHERE county = {c} GROUP BY ALL),
        names_t AS (SELECT t, max(tn) AS tn FROM (
                        SELECT hukou_township AS t, township_name AS tn FROM persons WHERE hukou_county = {c}
                        UNION ALL  -- a finding of this county about a child of another (Z02's second payer, Z10)
                        SELECT township, township_name FROM findings WHERE county = {c}) GROUP BY ALL),
        names_v AS (SELECT v, max(vn) AS vn FROM (
                        SELECT hukou_village AS v, village_name AS vn FROM persons WHERE hukou_county = {c}
                        UNION ALL
                        SELECT village, village_name FROM findings WHERE county = {c}) GROUP BY ALL),
        j AS (SELECT coalesce(kids.t, f.t) AS t, coalesce(kids.v, f.v) AS v, coalesce(n, 0) AS n, coalesce(k, 0) AS k,
                     coalesce(pr, 0) AS pr, coalesce(o, 0) AS o, coalesce(ko, 0) AS ko, coalesce(fs, 0) AS fs,
                     coalesce(fa, 0) AS fa, coalesce(fq, 0) AS fq
              FROM kids FULL JOIN f ON kids.t IS NOT DISTINCT FROM f.t AND kids.v IS NOT DISTINCT FROM f.v),
        g AS (SELECT t, v, sum(n) AS n, sum(k) AS k, sum(pr) AS pr, sum(o) AS o, sum(ko) AS ko, sum(fs) AS fs,
                     sum(fa) AS fa, sum(fq) AS fq, grouping(v) = 1 AS is_town
              FROM j GROUP BY GROUPING SETS ((t), (t, v)))
        SELECT g.*, tn, vn FROM g
        LEFT JOIN names_t USING (t) LEFT JOIN names_v USING (v)
        ORDER BY t NULLS LAST, is_town DESC, v""")
    ws = wb.add_worksheet("分乡镇村统计")
    styles.print_setup(ws, region=region_name(county), term=term, made=_made_now())
    ws.set_column(0, 1, 18)
    ws.set_column(2, len(PLACE_HEADERS) - 1, 12)
    ws.set_row(0, 30)
    ws.write_row(0, 0, PLACE_HEADERS, fmt["header"])
    n = 0
    for r in got:
        if not r["is_town"] and r["v"] is None:
            continue  # children without a village code are in their township's row already
        n += 1
        town = r["tn"] or r["t"] or "（户籍地不详）"
        ws.write_string(n, 0, town, fmt["label"] if r["is_town"] else fmt["text"])
        ws.write_string(n, 1, "（乡镇合计）" if r["is_town"] else (r["vn"] or r["v"]), fmt["text"])
        ws.write_row(n, 2, [int(r[x] or 0) for x in ("n", "k", "pr", "o", "ko", "fs", "fa", "fq")], fmt["int"])
    ws.freeze_panes(1, 2)
    ws.autofilter(0, 0, max(n, 1), len(PLACE_HEADERS) - 1)
    ws.protect("", {"autofilter": True, "sort": True, "format_columns": True})


def _codes_of(family: str) -> list[str]:
    return [c.code for c in FINDING_CODES.values() if c.family == family]


def _column_widths(con: Any, where: str) -> dict[str, int]:
    """Widths that fit the data, measured in SQL (CJK characters count double)."""
    exprs = ", ".join(
        f"max(length({c.field}::VARCHAR) + (strlen({c.field}::VARCHAR) - length({c.field}::VARCHAR)) // 2)"
        f" AS {c.field}"
        for c in styles.FINDING_COLUMNS if not c.clerk and not c.web
    )
    got = rows(con, f"SELECT {exprs} FROM findings WHERE {where}")[0]
    widths = {}
    for c in styles.FINDING_COLUMNS:
        data = int(got.get(c.field) or 0) if not c.clerk and not c.web else 0
        widths[c.field] = max(min(max(data, styles.text_width(c.header)) + 2, c.max_width), 8)
    return widths


def _write_family_sheet(wb: Any, fmt: dict[str, Any], con: Any, run: RunDir, county: str, family: str,
                        teams: dict[str, str] | None = None) -> None:
    ws = wb.add_worksheet(styles.family_sheet_name(family))
    codes = ", ".join(sql_literal(c) for c in _codes_of(family))
    where = f"county = {sql_literal(county)} AND code IN ({codes})"
    widths = _column_widths(con, where)
    columns = styles.sheet_columns(family)
    for i, c in enumerate(columns):
        cell_fmt = _clerk_format(fmt, c) if c.clerk else None
        ws.set_column(i, i, widths[c.field], cell_fmt, {"hidden": True} if c.hidden else {})
    ws.set_row(0, 30)
    styles.print_setup(ws, region=region_name(county), term=run.term, made=_made_now())
    for i, c in enumerate(columns):
        ws.write_string(0, i, c.header, fmt["clerk_header"] if c.clerk else fmt["header"])
        if c.web and teams is None:
            ws.write_comment(0, i, styles.TEAM_NOTE, {"x_scale": 2, "y_scale": 1.5})
    fields = ", ".join(styles.FINDING_FIELDS)
    cur = con.execute(
        f"SELECT {fields}, township AS _township FROM findings WHERE {where} ORDER BY {ROW_ORDER}"
    )  # by township, so that each township's team takes its own pages; priority children first in each
    cols = [c for c in styles.FINDING_COLUMNS if not c.clerk and not c.web]
    clerk = [(i, c) for i, c in enumerate(columns) if c.clerk]
    team_at = next(i for i, c in enumerate(columns) if c.web)
    long_width = {c.field: widths[c.field] for c in cols if c.kind == "long"}
    n = 0
    breaks: list[int] = []  # a page break before the first row of each township after the first
    township: Any = ()
    while batch := cur.fetchmany(BATCH):
        for *record, town in batch:
            n += 1
            if town != township:
                if township != ():
                    breaks.append(n)
                township = town
            record = tuple(_shown(c.field, v) for c, v in zip(cols, record, strict=True))
            lines = max((styles.wrapped_lines(str(v), long_width[c.field])
                         for c, v in zip(cols, record, strict=True) if c.kind == "long" and v), default=1)
            if lines > 1:
                ws.set_row(n, 15 * min(lines, 12))
            for i, (c, value) in enumerate(zip(cols, record, strict=True)):
                if value is None:
                    continue
                if c.kind == "amount":
                    ws.write_number(n, i, float(value), fmt["amount"])
                else:
                    ws.write_string(n, i, str(value)[: styles.MAX_CELL], fmt[c.kind if c.kind == "long" else "text"])
            if teams and (team := teams.get(str(record[0]))):  # record[0]: the finding key
                ws.write_string(n, team_at, team, fmt["long"])
            for i, c in clerk:  # written blank so every reader sees the cells unlocked
                ws.write_blank(n, i, None, _clerk_format(fmt, c))
    last_col = len(columns) - 1
    ws.set_h_pagebreaks(breaks[: styles.MAX_PAGE_BREAKS])
    ws.freeze_panes(1, 2)
    ws.autofilter(0, 0, max(n, 1), last_col)
    if n:
        _clerk_validation(ws, run, n, _row_codes(con, where), columns)
        ws.ignore_errors({"number_stored_as_text": f"A2:{xlsxwriter.utility.xl_col_to_name(last_col)}{n + 1}"})
    ws.protect("", {"autofilter": True, "sort": False, "format_columns": True, "select_locked_cells": True})


# 未脱贫 and 返贫 children first in every list: the speech calls them the priority
PRIORITY_ORDER = poverty_rank_sql("poverty_status")
# the rows of a findings sheet: by township (each township's team takes its own pages), priority first
ROW_ORDER = (f"township NULLS LAST, {PRIORITY_ORDER}, code, village NULLS LAST, person_id, term, "
             "programme_code NULLS FIRST")


def _made_now() -> str:
    """The time a list is made, for its printed footer."""
    return datetime.now().strftime("%Y-%m-%d %H:%M")


def _shown(field: str, value: Any) -> Any:
    """A finding's value as the sheet shows it: evidence in words, the phone masked."""
    if not value:
        return value
    if field == "evidence":
        return styles.readable_evidence(value)
    if field == "phone":
        return mask_phone(value)
    return value


def _row_codes(con: Any, where: str) -> list[str]:
    """The finding code of each sheet row, in the sheet's order (for the per-code drop-down lists)."""
    return [r[0] for r in con.execute(f"SELECT code FROM findings WHERE {where} ORDER BY {ROW_ORDER}").fetchall()]


def _clerk_format(fmt: dict[str, Any], c: styles.SheetColumn) -> Any:
    return fmt["clerk_date"] if c.kind == "date" else fmt["clerk_amount"] if c.kind == "amount" else fmt["clerk"]


def _clerk_validation(ws: Any, run: RunDir, n: int, codes: list[str] | None = None,
                      columns: tuple[styles.SheetColumn, ...] = styles.FINDING_COLUMNS) -> None:
    index = {c.field: i for i, c in enumerate(columns)}
    # the conclusions a row's code allows (contract.codes.CASE_RULES), one list per run of rows with the
    # same list: a 漏助 offers 已补发, a wrong payment 已追回, a dropout 确系辍学 …
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    for row, code in enumerate(codes or [""] * n, start=1):
        allowed = conclusions_for(code) if code else CONCLUSIONS
        if spans and spans[-1][2] == allowed and spans[-1][1] == row - 1:
            spans[-1] = (spans[-1][0], row, allowed)
        else:
            spans.append((row, row, allowed))
    for first, last, allowed in spans:
        ws.data_validation(
            first, index["conclusion"], last, index["conclusion"],
            {"validate": "list", "source": list(allowed), "error_title": "核实结论",
             "error_message": "请从下拉列表中选择核实结论。", "input_title": "核实结论",
             "input_message": "请选择：" + "、".join(allowed)},
        )
    made = run_made_at(run)[:10]
    try:
        earliest = datetime.strptime(made, "%Y-%m-%d")
    except ValueError:
        earliest = datetime(2000, 1, 1)
    ws.data_validation(
        1, index["verified_on"], n, index["verified_on"],
        {"validate": "date", "criteria": ">=", "value": earliest, "error_title": "核实日期",
         "error_message": f"请填写 {earliest:%Y-%m-%d} 之后的日期，如 {earliest:%Y-%m-%d}。"},
    )
    if aid_needs.AMOUNT in index:  # the aid sheet: what each aid conclusion needs (contract/aid_needs.py)
        _aid_need_validation(ws, n, index)


def _aid_need_validation(ws: Any, n: int, index: dict[str, int]) -> None:
    """Checks and input help on the aid sheet's own columns: an amount in yuan to the fen, a date, a
    voucher number of at most 64 characters, and what each conclusion needs."""
    at = index[aid_needs.AMOUNT]
    ws.data_validation(1, at, n, at, {
        "validate": "decimal", "criteria": "between", "minimum": 0.01, "maximum": float(aid_needs.MAX_AMOUNT) - 0.01,
        "error_title": "补发或追回金额", "error_message": "请填写以元为单位的金额，如 625.00。",
        "input_title": "补发或追回金额", "input_message": "“已补发”“已追回”须填写金额、日期和凭证号。"})
    at = index[aid_needs.ON_DATE]
    ws.data_validation(1, at, n, at, {
        "validate": "date", "criteria": ">=", "value": datetime(2000, 1, 1), "error_title": "补发或追回日期",
        "error_message": "请填写实际补发或追回的日期，如 2021-05-08。"})
    at = index[aid_needs.VOUCHER]
    ws.data_validation(1, at, n, at, {
        "validate": "length", "criteria": "<=", "value": 64, "error_title": "凭证号",
        "error_message": "只填写凭证上的编号（不超过 64 个字符）。"})
    needs = "；".join(f"{k}：{v}" for k, v in aid_needs.AID_CONCLUSION_NEEDS.items())
    for field in (aid_needs.GROUND, aid_needs.WRONG_FIELD):
        at = index[field]
        ws.data_validation(1, at, n, at, {"validate": "any", "input_title": "各核实结论须填写",
                                          "input_message": needs[:255]})


def _write_aggregate(con: Any, run: RunDir, level: str, region: str, path: Path) -> None:
    """A city or province workbook: the cover plus one row per region of the level below."""
    wb, fmt = _new_workbook(path)
    cover = wb.add_worksheet("封面")
    write_cover(cover, fmt, run, cover_figures(con, level, region), title=_title(level, region, run.term))
    cover.protect()
    below = "county" if level == "city" else "city"
    width = 6 if below == "county" else 4
    where = region_predicate(level, region)
    part = f"rpad(left(county, {width}), 6, '0')"
    status_rows = rows(
        con,
        f"SELECT {part} AS r, key, sum(count)::BIGINT AS n FROM summary "
        f"WHERE dimension = 'status' AND {where} GROUP BY ALL",
    )
    code_rows = rows(con, f"SELECT {part} AS r, code AS key, count(*) AS n FROM findings WHERE {where} GROUP BY ALL")
    table: dict[str, dict[str, int]] = {}
    for r in status_rows + code_rows:
        table.setdefault(r["r"], {})[r["key"]] = int(r["n"])
    ws = wb.add_worksheet("分县统计" if below == "county" else "分市州统计")
    styles.print_setup(ws, region=region_name(region), term=run.term, made=_made_now())
    headers = ["地区代码", "地区"] + list(STATUSES.values()) + ["学龄儿童合计"]
    headers += [f"{c.code} {c.label}" for c in FINDING_CODES.values()] + ["问题合计"]
    ws.set_row(0, 45)
    ws.set_column(0, 0, 10)
    ws.set_column(1, 1, 16)
    ws.set_column(2, len(headers) - 1, 11)
    ws.write_row(0, 0, headers, fmt["header"])
    for i, code in enumerate(sorted(table), start=1):
        v = table[code]
        children = [v.get(s, 0) for s in STATUSES]
        findings = [v.get(c, 0) for c in FINDING_CODES]
        ws.write_string(i, 0, code, fmt["text"])
        ws.write_string(i, 1, region_name(code), fmt["text"])
        ws.write_row(i, 2, children + [sum(children)] + findings + [sum(findings)], fmt["int"])
    ws.freeze_panes(1, 2)
    ws.autofilter(0, 0, max(len(table), 1), len(headers) - 1)
    ws.protect("", {"autofilter": True, "sort": True, "format_columns": True})
    _write_meta(wb, run, level, region)
    wb.close()
