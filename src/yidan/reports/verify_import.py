"""Reading returned county workbooks back: every filled row is accepted or returned.

A row counts as filled when any clerk column (核实结论, 就读省份, 核实日期, 核实人, 说明)
holds something. Filled rows are validated together in SQL against the run's
findings: the hidden finding key must exist and belong to the workbook's county, the
protected cells must still say what the run says, the conclusion must be one of the
contract's, the date must fall between the run and today, and one finding must not
get two different answers. Accepted rows become the contract table `verifications`
for the next run; returned rows go to a problems workbook with the reason in Chinese.
filled = accepted + returned, always.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import xlsxwriter
from python_calamine import CalamineWorkbook

from yidan.contract import aid_needs
from yidan.contract.codes import CASE_RULES, CONCLUSIONS, FINDING_CODES
from yidan.contract.verifications import VERIFICATIONS
from yidan.errors import ConfigError, InputError
from yidan.ingest.xlsx_reader import calamine_failure
from yidan.outfiles import atomic_output, output_error, write_csv
from yidan.reports import styles
from yidan.reports.cover import run_made_at
from yidan.reports.dates import parse_typed_date
from yidan.reports.regions import region_name
from yidan.reports.runsql import connect
from yidan.runs.rundir import RunDir

# the aid sheet's own columns (what an aid conclusion needs, contract/aid_needs.py), as typed
AID_NEED_HEADERS = tuple(c.header for c in styles.AID_NEED_COLUMNS)
PROBLEM_HEADERS = ("工作簿", "工作表", "行号", "问题标识", "身份证号", "姓名", "核实结论", "就读省份",
                   "核实日期", "核实人", "说明", *AID_NEED_HEADERS, "退回原因")


@dataclass
class ImportResult:
    filled: int
    accepted: int
    returned: int
    verifications: Path  # the contract table for the next run
    problems: Path  # every returned row with its reason
    written: int = 0  # verification rows written (identical repeats once)
    unreadable: list[str] = field(default_factory=list)  # workbooks that could not be opened
    aid: Path | None = None  # accepted aid conclusions (已补发, 已追回 …), kept apart: not verifications
    aid_written: int = 0
    aid_returned: int = 0  # returned rows of aid findings (among `returned`)


def aid_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}_资助核实结论.csv")


AID_HEADERS = ("问题标识", "问题编码", "身份证号", "姓名", "核实结论", "核实日期", "核实人", "说明", "就读省份",
               *AID_NEED_HEADERS)


def problems_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}_退回.xlsx")


def import_verifications(workbooks: list[Path], run: RunDir, out: Path) -> ImportResult:
    """Validate the filled rows of returned workbooks; write `out` and its problems workbook."""
    out = Path(out)
    if out.suffix.lower() not in (".xlsx", ".csv"):
        raise ConfigError(f"核实结果文件须为 .xlsx 或 .csv：{out}", hint="例如 --out 核实结果.xlsx")
    run.require_complete()
    filled: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for path in workbooks:
        try:
            filled.extend(_read_workbook(Path(path)))
        except InputError:
            raise  # a workbook read whole but without its conclusion column: refused, nothing written
        except BaseException as exc:  # noqa: BLE001 - any unreadable file is reported, not fatal
            calamine_failure(exc)  # re-raises Ctrl-C and exit; a Rust panic of calamine is a broken file too
            unreadable.append(str(path))
            problems.append(_blank_problem(Path(path), f"无法读取该工作簿（{type(exc).__name__}），请确认是导出的 .xlsx 原文件"))
    con = connect(run)
    try:
        accepted, returned = _validate(con, run, filled)
    finally:
        con.close()
    problems_file = problems_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(out.parent, exc) from exc
    # both files appear under their names only once both are written (a failure leaves the old ones)
    # aid conclusions (per code: 已补发, 已追回 …) are no schooling verification: the next run's
    # verifications table would refuse them; they go to their own file, for the aid casework
    aid = [r for r in accepted if FINDING_CODES.get(r.get("run_code") or "") and
           FINDING_CODES[r["run_code"]].family == "aid"]
    accepted_schooling = [r for r in accepted if r not in aid]
    with atomic_output(problems_file) as tmp_problems:
        _write_problems(problems + returned, tmp_problems)
        written = _write_verifications(accepted_schooling, out)
    aid_file = None
    if aid:
        aid_file = aid_path(out)
        write_csv(aid_file, list(AID_HEADERS), [
            (r["finding_key"], r["run_code"], r["run_person_id"], r["run_name"] or "", r["conclusion"],
             r["verified_on"].isoformat() if isinstance(r["verified_on"], date) else "", r["verified_by"], r["note"],
             r["province"], *(r[c.field] for c in styles.AID_NEED_COLUMNS))
            for r in aid])
    return ImportResult(
        filled=len(filled), accepted=len(accepted), returned=len(returned), verifications=out,
        problems=problems_file, written=written, unreadable=unreadable, aid=aid_file, aid_written=len(aid),
        aid_returned=sum(1 for r in returned if r.get("_aid")),
    )


# --- reading -------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _amount_text(value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except InvalidOperation:
        return str(value)


KEY_HEADER = next(c.header for c in styles.FINDING_COLUMNS if c.field == "finding_key")
CONCLUSION_HEADER = next(c.header for c in styles.FINDING_COLUMNS if c.field == "conclusion")
HEADER_SCAN_ROWS = 10  # a clerk may insert a few rows above the header


def _finding_header(grid: list[list[Any]]) -> int | None:
    """0-based row of a finding sheet's header: the hidden key column plus most of the layout's headers.

    A sheet whose key header was lost but that still has the conclusion column and the layout counts
    too: its filled rows come back with their reasons (no key), rather than vanish unread.
    """
    layout = {c.header for c in styles.FINDING_COLUMNS}
    for i, row in enumerate(grid[:HEADER_SCAN_ROWS]):
        cells = {_text(v) for v in row}
        if (KEY_HEADER in cells or CONCLUSION_HEADER in cells) and len(cells & layout) * 2 >= len(layout):
            return i
    return None


def _no_conclusion(path: Path, sheets: list[str]) -> InputError:
    if sheets:
        where = "、".join(f"「{s}」" for s in sheets)
        return InputError(
            f"工作簿 {path} 的问题工作表 {where} 中找不到「{CONCLUSION_HEADER}」列：该列被删除或改名，核实结论无法导入。",
            hint=f"请在导出的原工作簿中填写（不要删除、改名或移动「{CONCLUSION_HEADER}」列），然后重新导入。")
    return InputError(
        f"工作簿 {path} 中没有找到一单的问题工作表（带隐藏「{KEY_HEADER}」列和「{CONCLUSION_HEADER}」列的表），"
        "无法导入任何核实结论。",
        hint="请确认交回的是 yidan report 导出的一单工作簿（可改工作表名，但不要删除或改动表头）。")


def _read_workbook(path: Path) -> list[dict[str, Any]]:
    """The filled rows of every finding sheet, found by its header (the hidden key column), not its name.

    Raises `InputError` when no finding sheet with a conclusion column is found: the clerk's
    answers would otherwise vanish without a word.
    """
    wb = CalamineWorkbook.from_path(str(path))
    meta: dict[str, str] = {}
    if styles.META_SHEET in wb.sheet_names:
        for r in wb.get_sheet_by_name(styles.META_SHEET).to_python():
            if len(r) >= 2:
                meta[_text(r[0])] = _text(r[1])
    out: list[dict[str, Any]] = []
    found, without_conclusion = 0, []
    for name in wb.sheet_names:
        if name == styles.META_SHEET:
            continue
        grid = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        at = _finding_header(grid)
        if at is None:
            continue
        where: dict[str, int] = {}
        for i, h in enumerate(grid[at]):
            where.setdefault(_text(h), i)
        if CONCLUSION_HEADER not in where:
            without_conclusion.append(name)
            continue
        found += 1
        # a web-held column (the team) or one added later (办理期限) is absent from older workbooks: not a changed header
        missing = [c.header for c in styles.FINDING_COLUMNS if c.header not in where and not c.web and not c.optional]
        for n, raw in enumerate(grid[at + 1:], start=at + 2):
            cell = {c.field: (raw[where[c.header]] if c.header in where and where[c.header] < len(raw) else None)
                    for c in styles.FINDING_COLUMNS}
            if not any(_text(cell[c.field]) for c in styles.CLERK_COLUMNS):
                continue
            typed_date = cell["verified_on"]
            parsed = parse_typed_date(typed_date) if _text(typed_date) else None
            row = {
                "workbook": path.name, "sheet": name, "row_number": n,
                "wb_run_id": meta.get("run_id", ""), "wb_region": meta.get("region", ""),
                "wb_level": meta.get("level", ""), "headers_missing": "、".join(missing),
                "verified_on_text": parsed.isoformat() if parsed else _text(typed_date),
                "verified_on": parsed,
            }
            for c in styles.FINDING_COLUMNS:
                if c.field == "verified_on":
                    continue
                if c.kind == "date":  # a 补发 / 追回 date: kept as typed when it cannot be read (its reason says so)
                    when = parse_typed_date(cell[c.field]) if _text(cell[c.field]) else None
                    row[c.field] = when.isoformat() if when else _text(cell[c.field])
                else:
                    # a run's amount as the sheet shows it (compared); a clerk's amount as typed (checked to the fen)
                    row[c.field] = (_amount_text(cell[c.field]) if c.kind == "amount" and not c.clerk
                                    else _text(cell[c.field]))
            out.append(row)
    if without_conclusion or not found:
        raise _no_conclusion(path, without_conclusion)
    return out


# --- validating ----------------------------------------------------------------------------------------


def _validate(con: Any, run: RunDir, filled: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    if not filled:
        return [], []
    names = list(filled[0])
    schema = pa.schema([(n, pa.date32() if n == "verified_on" else pa.int64() if n == "row_number" else pa.string())
                        for n in names])
    con.register("filled_rows", pa.Table.from_pylist(filled, schema=schema))
    made = run_made_at(run)[:10] or "1900-01-01"
    protected = [c for c in styles.PROTECTED_COLUMNS]
    mismatch = ", ".join(
        f"CASE WHEN r.{c.field} <> {_finding_text(c)} THEN "
        f"'{c.header}（原为「' || {_finding_text(c)} || '」，现为「' || r.{c.field} || '」）' END"
        for c in protected
    )
    answer = "concat_ws('\x1f', " + ", ".join(f"r.{c.field}" for c in styles.CLERK_COLUMNS if c.field != "verified_on") + \
        ", r.verified_on_text)"
    # each row's code has its own conclusions (contract.codes.CASE_RULES): a 漏助 takes 已补发, not 确系辍学
    allowed_rows = ", ".join(f"('{code}', '{c}')" for code, rule in CASE_RULES.items() for c in rule.conclusions)
    allowed = ", ".join(f"'{c}'" for c in CONCLUSIONS)
    sql = f"""
    WITH r AS (SELECT *, row_number() OVER () AS seq FROM filled_rows),
    allowed(a_code, a_conclusion) AS (VALUES {allowed_rows}),
    conflicts AS (
        SELECT finding_key FROM r WHERE finding_key <> ''
        GROUP BY finding_key HAVING count(DISTINCT {answer}) > 1
    ),
    checked AS (
        SELECT r.*, f.person_id AS run_person_id, f.name AS run_name, f.county AS run_county, f.code AS run_code,
            list_filter([
                CASE WHEN r.wb_run_id = '' THEN '工作簿缺少隐藏标识页，无法确认来源；请使用 yidan report 导出的工作簿填写' END,
                CASE WHEN r.wb_run_id <> '' AND r.wb_run_id <> $run_id
                     THEN '工作簿来自另一次比对（批次 ' || r.wb_run_id || '），本次导入的比对批次为 ' || $run_id END,
                CASE WHEN r.headers_missing <> '' THEN '表头被改动，缺少列：' || r.headers_missing END,
                CASE WHEN r.finding_key = '' THEN '问题标识为空：该行不是导出的问题行，请在原问题行填写' END,
                CASE WHEN r.finding_key <> '' AND f.finding_key IS NULL
                     THEN '问题标识「' || r.finding_key || '」不属于本次比对，请勿改动或复制问题行' END,
                CASE WHEN f.county IS NOT NULL AND r.wb_region <> '' AND f.county <> r.wb_region
                     THEN '该问题属于其他县（' || f.county || '），不能由本工作簿（' || r.wb_region || '）核实' END,
                CASE WHEN f.finding_key IS NOT NULL THEN '受保护的单元格被改动：' ||
                     nullif(array_to_string(list_filter([{mismatch}], lambda x: x IS NOT NULL), '；'), '') END,
                CASE WHEN r.conclusion = '' THEN '未填写核实结论，请从下拉列表选择' END,
                CASE WHEN r.conclusion <> '' AND f.code IS NULL AND r.conclusion NOT IN ({allowed})
                     THEN '核实结论「' || r.conclusion || '」不是可选结论' END,
                CASE WHEN r.conclusion <> '' AND f.code IS NOT NULL AND NOT EXISTS (
                         SELECT 1 FROM allowed a WHERE a.a_code = f.code AND a.a_conclusion = r.conclusion)
                     THEN '核实结论「' || r.conclusion || '」不是可选结论（' || f.code || ' 可选：' ||
                          (SELECT string_agg(a_conclusion, '、') FROM allowed WHERE a_code = f.code) || '）' END,
                CASE WHEN r.conclusion = '省外就读' AND r.province = ''
                     THEN '核实结论为省外就读时请填写就读省份' END,
                CASE WHEN r.verified_on_text = '' THEN '未填写核实日期' END,
                CASE WHEN r.verified_on_text <> '' AND r.verified_on IS NULL
                     THEN '核实日期「' || r.verified_on_text || '」无法识别，请写成 2021-03-10 的格式' END,
                CASE WHEN r.verified_on > current_date THEN '核实日期 ' || r.verified_on || ' 晚于今天' END,
                CASE WHEN r.verified_on < $made::DATE
                     THEN '核实日期 ' || r.verified_on || ' 早于本次比对（' || $made || '）' END,
                CASE WHEN r.finding_key IN (SELECT finding_key FROM conflicts)
                     THEN '同一问题被填报了不同的核实结果，请只保留一个' END
            ], lambda x: x IS NOT NULL) AS reasons
        FROM r LEFT JOIN findings f ON f.finding_key = r.finding_key
    )
    SELECT * EXCLUDE (seq) FROM checked ORDER BY seq
    """
    cur = con.execute(sql, {"run_id": run.run_id, "made": made})
    cols = [d[0] for d in cur.description]
    accepted, returned = [], []
    hints = _conclusion_hints({r["conclusion"] for r in filled})
    for rec in (dict(zip(cols, v, strict=True)) for v in cur.fetchall()):
        reasons = list(rec["reasons"])
        if rec["conclusion"] in hints:
            reasons = [r.replace("不是可选结论", "不是可选结论" + hints[rec["conclusion"]], 1)
                       if r.startswith("核实结论「") else r for r in reasons]
        if rec["wb_region"] and rec["run_county"] and rec["run_county"] != rec["wb_region"]:
            reasons = [r.replace(f"（{rec['run_county']}）", f"（{region_name(rec['run_county'])}）", 1)
                       for r in reasons]
        aid = FINDING_CODES.get(rec["run_code"] or "") is not None and FINDING_CODES[rec["run_code"]].family == "aid"
        if aid and not reasons:
            reasons = _aid_needs(rec)
        if reasons:
            rec["reason"] = "；".join(reasons)
            returned.append(_problem(rec) | {"_aid": aid})
        else:
            accepted.append(rec)
    return accepted, returned


def _aid_needs(rec: dict[str, Any]) -> list[str]:
    """What an accepted aid conclusion still lacks (contract/aid_needs.py, the rule the web applies too),
    and whether its amount and date can be read (one accepted row at a time: a returned workbook's few)."""
    reasons = []
    if (gap := aid_needs.missing_reason(rec["conclusion"], rec)) is not None:
        where = {c.field: c.header for c in styles.FINDING_COLUMNS}
        heads = dict.fromkeys(where[k] for k in aid_needs.missing_keys(rec["conclusion"], rec))
        reasons.append(gap + "（填在本行“" + "”“".join(heads) + "”列）")
    if rec["conclusion"] in aid_needs.MONEY_CONCLUSIONS:
        if rec[aid_needs.AMOUNT] and (bad := aid_needs.amount_problem(rec[aid_needs.AMOUNT])):
            reasons.append(bad)
        typed = rec[aid_needs.ON_DATE]
        if typed and not _iso(typed):
            reasons.append(f"补发或追回日期「{typed}」无法识别，请写成 2021-05-08 的格式")
        elif typed and date.fromisoformat(typed) > date.today():
            reasons.append(f"补发或追回日期 {typed} 晚于今天")
    return reasons


def _iso(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _finding_text(c: styles.SheetColumn) -> str:
    if c.kind == "amount":
        return f"coalesce(printf('%.2f', f.{c.field}), '')"
    return f"coalesce(left(f.{c.field}::VARCHAR, {styles.MAX_CELL}), '')"


def _conclusion_hints(values: set[str]) -> dict[str, str]:
    """'Did you mean' for conclusions typed by hand (a loop over the few distinct values)."""
    hints = {}
    known = set(CONCLUSIONS).union(*(r.conclusions for r in CASE_RULES.values()))
    for v in values:
        if v and v not in known:  # a known conclusion of another code: the row's own list says enough
            close = difflib.get_close_matches(v, CONCLUSIONS, n=1, cutoff=0.3)
            hints[v] = f"，是否应为「{close[0]}」？" if close else "，请从下拉列表选择"
    return hints


# --- writing -------------------------------------------------------------------------------------------


def _problem(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "工作簿": rec["workbook"], "工作表": rec["sheet"], "行号": rec["row_number"],
        "问题标识": rec["finding_key"], "身份证号": rec["person_id"], "姓名": rec["name"],
        "核实结论": rec["conclusion"], "就读省份": rec["province"], "核实日期": rec["verified_on_text"],
        "核实人": rec["verified_by"], "说明": rec["note"], "退回原因": rec["reason"],
        **{c.header: rec.get(c.field) or "" for c in styles.AID_NEED_COLUMNS},
    }


def _blank_problem(path: Path, reason: str) -> dict[str, Any]:
    return {h: "" for h in PROBLEM_HEADERS} | {"工作簿": path.name, "行号": None, "退回原因": reason}


def _verification_rows(accepted: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    seen: dict[tuple[str, ...], None] = {}
    for rec in accepted:
        row = (rec["run_person_id"], rec["run_name"] or "", rec["conclusion"], rec["province"],
               rec["verified_on"].isoformat() if isinstance(rec["verified_on"], date) else "",
               rec["verified_by"], rec["note"])
        seen.setdefault(row, None)
    return list(seen)


def _write_verifications(accepted: list[dict[str, Any]], out: Path) -> int:
    """Written atomically; the CSV with formula-safe cells (a note typed as =1+1 stays text)."""
    headers = [c.header for c in VERIFICATIONS.columns]
    data = _verification_rows(accepted)
    if out.suffix.lower() == ".csv":
        write_csv(out, headers, data)
        return len(data)
    with atomic_output(out) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
        fmt = styles.formats(wb)
        ws = wb.add_worksheet(VERIFICATIONS.label)
        for i, h in enumerate(headers):
            ws.set_column(i, i, max(styles.text_width(h) + 4, 22 if i == 0 else 12), fmt["text"])
        ws.write_row(0, 0, headers, fmt["header"])
        for n, row in enumerate(data, start=1):
            for i, v in enumerate(row):
                if v:
                    ws.write_string(n, i, v, fmt["text"])
        ws.freeze_panes(1, 0)
        wb.close()
    return len(data)


def _write_problems(problems: list[dict[str, Any]], path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    fmt = styles.formats(wb)
    ws = wb.add_worksheet("退回行")
    widths = (28, 10, 6, 30, 22, 10, 12, 10, 12, 10, 20, *(14 for _ in AID_NEED_HEADERS), 60)
    for i, w in enumerate(widths):
        ws.set_column(i, i, w, fmt["text"])
    ws.write_row(0, 0, PROBLEM_HEADERS, fmt["header"])
    for n, p in enumerate(problems, start=1):
        for i, h in enumerate(PROBLEM_HEADERS):
            v = p[h]
            if isinstance(v, int):
                ws.write_number(n, i, v, fmt["int"])
            elif v:
                ws.write_string(n, i, str(v), fmt["text"])
    ws.freeze_panes(1, 0)
    if problems:
        ws.autofilter(0, 0, len(problems), len(PROBLEM_HEADERS) - 1)
    wb.close()
