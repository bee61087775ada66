"""`load_table`: files of one contract table -> one typed DuckDB table + the rows refused, with reasons.

The flow per call: scan each file (SHA-256, lines), stage its raw text (CSV / XLSX / Parquet
reader), then validate every staged row in SQL through the column rules — clean, norm, check —
and split the rows: good ones into the typed table, refused ones into `rejects`, one reject
row per failing column. Finally the accounting: for every file, rows read = loaded + rejected,
counted independently and compared; the figures are kept for the run manifest.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from yidan.contract import TABLES, Kind, Table
from yidan.errors import EngineError, InputError
from yidan.identity import idnumber
from yidan.identity.terms import parse_term
from yidan.ingest.csv_reader import read_csv
from yidan.ingest.identical import refuse_identical_files
from yidan.ingest.parquet_reader import read_parquet
from yidan.ingest.rules import ColumnRule, fmt, q, rule_for
from yidan.ingest.scan import scan_file
from yidan.ingest.staging import REJECTS, REJECTS_DDL, WHOLE_ROW, Staged, ensure_rejects, temp_name
from yidan.ingest.xlsx_reader import read_xlsx

EMPTY_ROW_REASON = "空行：这一行没有任何内容"
ENUM_REASON_PREFIX = "不是允许的取值"
SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
            ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class FileStats:
    """One input file's accounting, as the run manifest records it (read = loaded + rejected)."""

    table: str
    path: str
    sha256: str
    read: int
    loaded: int
    rejected: int
    encoding: str | None = None


class RowCounts:
    """Rows read, loaded and rejected over `self.files` (read = loaded + rejected, file by file)."""

    files: list[FileStats]

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)


@dataclass
class LoadResult(RowCounts):
    table: str  # contract table name
    name: str  # the DuckDB table created
    files: list[FileStats]
    notes: list[str] = field(default_factory=list)  # ignored columns, skipped sheets: said to the user


def contract_table(table: str) -> Table:
    if table not in TABLES:
        close = difflib.get_close_matches(table, list(TABLES), n=1)
        raise InputError(
            f"未知的表：{table}" + (f"，是否想写 {close[0]}？" if close else ""),
            hint="可选：" + "、".join(f"{t.name}（{t.label}）" for t in TABLES.values()),
        )
    return TABLES[table]


def _stage_file(con, spec: Table, path: Path, encoding: str | None, sink: str) -> tuple[str, list[Staged]]:
    if not path.exists():
        raise InputError(f"找不到文件：{path}", hint="请检查路径和文件名。")
    if path.is_dir():
        raise InputError(f"{path} 是文件夹，不是文件。", hint="请给出文件路径；多个文件可以一起给出。")
    fmt_name = SUFFIXES.get(path.suffix.lower())
    if fmt_name is None:
        raise InputError(f"不支持的文件类型：{path.name}",
                         hint="可导入 CSV（.csv）、Excel（.xlsx）或 Parquet（.parquet）文件；.xls 请先另存为 .xlsx。")
    scan = scan_file(path)
    label = str(path)
    if fmt_name == "csv":
        return scan.sha256, [read_csv(con, spec, path, scan, encoding=encoding, label=label, sink=sink)]
    if scan.size == 0:
        raise InputError(f"文件 {path} 是空的。", hint="请检查是否选错了文件，或重新导出。")
    if fmt_name == "xlsx":
        return scan.sha256, read_xlsx(con, spec, path, label=label, sink=sink)
    return scan.sha256, [read_parquet(con, spec, path, label=label)]


NULL_KEY = "'\\x00null'"  # join key standing for a NULL raw value in the dictionaries


@dataclass(frozen=True)
class Dictionary:
    """A low-cardinality column's dictionary: a temporary table of (key, clean, norm, reason) to
    join, or, when the column needs none (`_plain_dictionary`), the SQL of its clean and norm over the raw text."""

    table: str | None
    plain: tuple[str, str] | None = None  # (clean, norm) SQL over the raw text
    # a text column's every value (`_text_values`): the loaded column is an ENUM of them
    values: list[str] | None = None


def _dictionaries(con, rules: list[ColumnRule], staged: list[Staged]) -> dict[str, Dictionary]:
    """For low-cardinality columns: a table of (raw, clean, norm) over the distinct raw values."""
    out = {}
    for r in rules:
        if not r.dictionary:
            continue
        a = r.column.alias
        present = [s for s in staged if a in s.aliases]
        values = " UNION ".join(f'SELECT DISTINCT "{a}" AS "r_{a}" FROM {s.name}' for s in present) \
            or f'SELECT CAST(NULL AS VARCHAR) AS "r_{a}"'
        if present and len(present) < len(staged):
            values += f' UNION SELECT CAST(NULL AS VARCHAR) AS "r_{a}"'
        name = temp_name(f"dict_{a}")
        # the reason depends on the value alone for these columns, so it is decided here too; a flag
        # (the value already in its common valid form) is a column of the dictionary as well
        cases = " ".join(f"WHEN {fmt(cond, a)} THEN {fmt(reason, a)}" for cond, reason in r.checks)
        flag = f', {fmt(r.flag, a)} AS "f_{a}"' if r.flag else ""
        _run(con, f"dictionary_{a}",
             f'CREATE TEMP TABLE {name} AS SELECT key, "c_{a}", "n_{a}", CASE {cases} END AS "e_{a}" FROM ('
             f'SELECT coalesce("r_{a}", {NULL_KEY}) AS key, *, {fmt(r.norm, a)} AS "n_{a}" '
             f'FROM (SELECT *, {fmt(r.clean, a)} AS "c_{a}" FROM (SELECT "r_{a}"{flag} FROM ({values}))))')
        kind = con.execute("SELECT data_type FROM duckdb_columns() WHERE table_name = ? AND column_name = ?",
                           [name, f"n_{a}"]).fetchone()[0]  # of the norm: VARCHAR, DATE, ...
        texts = _text_values(con, name, a) if kind == "VARCHAR" and r.outputs == [(a, "{n}")] else None
        plain = _plain_dictionary(con, name, a, kind)
        if plain is not None:  # every value already clean and valid: no join, the raw text gives the value
            con.execute(f"DROP TABLE {name}")
        out[a] = Dictionary(None if plain else name, plain, texts)
    return out


MAX_ENUM_VALUES = 65_535  # two bytes a row; beyond, the column stays text


def _text_values(con, name: str, a: str) -> list[str] | None:
    """Every value a text column's dictionary can give (refused ones too), or None (too many): school
    codes and names, classes, grades, terms and places repeat across millions of rows."""
    rows = con.execute(f'SELECT DISTINCT "n_{a}" FROM {name} WHERE "n_{a}" IS NOT NULL '
                       f"LIMIT {MAX_ENUM_VALUES + 1}").fetchall()
    return [r[0] for r in rows] if len(rows) <= MAX_ENUM_VALUES else None


def _plain_dictionary(con, name: str, a: str, kind: str) -> tuple[str, str] | None:
    """(clean, norm) as SQL over the raw column, when a dictionary only repeats its raw values.

    That is: no value refused, every value already its own clean form (an empty text, clean,
    is NULL), and the norm the value itself (text) or its cast (dates); NULL and empty raw
    values may stand for one constant (the default term). Most columns of a real export are
    like that, and the join of every row with the dictionary (one hash probe per row and
    column, three more columns carried through the query) is then pure cost. None when some
    value needs the dictionary.
    """
    if kind == "VARCHAR":
        same = f'"n_{a}" = key'
    elif kind == "DATE":
        same = f'"n_{a}" = TRY_CAST(key AS DATE)'
    else:
        return None
    empty = f"(key = {NULL_KEY} OR key = '')"
    bad, empties, null_norms, null_norm = con.execute(
        f'SELECT count(*) FILTER (WHERE "e_{a}" IS NOT NULL OR CASE WHEN {empty} THEN "c_{a}" IS NOT NULL '
        f'ELSE NOT coalesce("c_{a}" = key AND {same}, false) END), '
        f"count(*) FILTER (WHERE key = ''), "
        f'count(DISTINCT "n_{a}") FILTER (WHERE {empty}), '
        f'CAST(max("n_{a}") FILTER (WHERE {empty}) AS VARCHAR) FROM {name}').fetchone()
    if bad or null_norms > 1 or (null_norm is not None and kind != "VARCHAR"):
        return None
    clean = f"""nullif("r_{a}", '')""" if empties else f'"r_{a}"'
    norm = clean if kind == "VARCHAR" else f"TRY_CAST({clean} AS DATE)"
    if null_norm is not None:
        norm = f"coalesce({clean}, {q(null_norm)})"
    return clean, norm


def _select(spec: Table, rules: list[ColumnRule], staged: list[Staged], dicts: dict[str, Dictionary]) -> str:
    """The validation query: typed outputs, `_file`, `_row`, and `_problems` (NULL for a good row).

    Layers, each a CTE: l0 raw text (all files) and flags, l1 clean, l2 norm, l3 helpers, l3j the
    ID tables joined on the helpers, l4 outputs; the checks and their reasons in the final select.
    Columns with a dictionary take clean and norm from it by a join. `_problems` lists (column,
    value, reason) for every failing column of a refused row.
    """
    union = " UNION ALL ".join(
        "SELECT _file, _row, " + ", ".join(
            (f'"{r.column.alias}"' if r.column.alias in s.aliases else "CAST(NULL AS VARCHAR)")
            + f' AS "r_{r.column.alias}"' for r in rules
        ) + f" FROM {s.name}"
        for s in staged
    )
    # flags: one test of the raw text per row, shared by the layers above (see ColumnRule.flag)
    flags = "".join(f', {fmt(r.flag, r.column.alias)} AS "f_{r.column.alias}"'
                    for r in rules if r.flag and r.column.alias not in dicts)
    clean, norm, dict_joins = [], [], []
    for r in rules:
        a = r.column.alias
        plain = dicts[a].plain if a in dicts else None
        if plain is not None:  # every value clean and valid: no join
            clean.append(f'{plain[0]} AS "c_{a}", CAST(NULL AS VARCHAR) AS "e_{a}"')
            norm.append(f'{plain[1]} AS "n_{a}"')
        elif a in dicts:
            clean.append(f'"t_{a}"."c_{a}", "t_{a}"."e_{a}"')
            norm.append(f'"t_{a}"."n_{a}"')
            dict_joins.append(f' LEFT JOIN {dicts[a].table} "t_{a}" ON "t_{a}".key = coalesce(l0."r_{a}", {NULL_KEY})')
        else:
            clean.append(f'{fmt(r.clean, a)} AS "c_{a}"')
            norm.append(f'{fmt(r.norm, a)} AS "n_{a}"')
    empty = "coalesce(" + ", ".join(f'"c_{r.column.alias}"' for r in rules) + ") IS NULL"
    helpers = ", ".join(f'{fmt(r.helper, r.column.alias)} AS "k_{r.column.alias}"' for r in rules if r.helper)
    joins, joined = "", ""
    for r in rules:
        if r.divisions:  # the ID tables, joined on integer keys taken from the body {k}
            a = r.column.alias
            joins += (f' LEFT JOIN {idnumber.DIVISIONS_TABLE} "jd_{a}" ON "jd_{a}".num = '
                      f'{idnumber.division_key_sql(fmt("{k}", a))}'
                      f' LEFT JOIN {idnumber.DATES_TABLE} "jb_{a}" ON "jb_{a}".num = {idnumber.date_key_sql(fmt("{k}", a))}')
            joined += f', "jd_{a}".w AS "dw_{a}", "jb_{a}".w AS "bw_{a}"'
    outs, fails = [], []
    for r in rules:
        a = r.column.alias
        outs += [f'{fmt(expr, a)} AS "{name}"' for name, expr in r.outputs]
        fails.append(_fails(r, a in dicts))
    # Reasons only for the rows that fail: one OR of every check's condition decides (as a CASE
    # condition DuckDB stops at the first true operand, and most rows have none), and only the few
    # failing rows build the list of (column, value, Chinese reason). A list left empty (a check
    # true whose reason is NULL) keeps the row, as before: the split reads `len(_problems) > 0`.
    bad = "_empty OR " + " OR ".join(f"({f})" for f in fails if f)
    items = ", ".join(
        f"{{'column': {q(r.column.header)}, 'value': \"r_{r.column.alias}\", 'reason': {_reason(r, a in dicts)}}}"
        for r in rules for a in [r.column.alias]
    )
    problems = (
        f"CASE WHEN _empty THEN [{{'column': {q(WHOLE_ROW)}, 'value': '', 'reason': {q(EMPTY_ROW_REASON)}}}] "
        f"WHEN {bad} THEN list_filter([{items}], lambda x: x.reason IS NOT NULL) END"
    )
    final = _final_columns(spec, rules, [s.label for s in staged], {a: d.values for a, d in dicts.items() if d.values})
    return (
        f"WITH l0 AS (SELECT *{flags} FROM ({union})), "
        f"l1 AS (SELECT l0.*, {', '.join(clean)}{''.join(', ' + n for r, n in zip(rules, norm, strict=True) if r.column.alias in dicts)} "
        f"FROM l0{''.join(dict_joins)}), "
        f"l2 AS (SELECT *, {empty} AS _empty"
        f"{''.join(', ' + n for r, n in zip(rules, norm, strict=True) if r.column.alias not in dicts)} FROM l1), "
        f"l3 AS (SELECT l2.*{', ' + helpers if helpers else ''} FROM l2), "
        f"l3j AS (SELECT l3.*{joined} FROM l3{joins}), "
        f"l4 AS (SELECT *, {', '.join(outs)} FROM l3j) "
        f"SELECT {', '.join(final)}, {problems} AS _problems FROM l4"
    )


def _run(con, step: str, sql: str, params: list | None = None) -> None:
    """Execute one named step; an engine failure names the step and shows the start of its SQL."""
    try:
        con.execute(sql, params) if params is not None else con.execute(sql)
    except Exception as exc:  # duckdb.Error and its subclasses
        raise EngineError(
            f"导入步骤「{step}」执行失败：{exc}\nSQL：{sql[:300]}…",
            hint="这通常是程序错误；请把出错的文件（或其前几行）和本消息报告给维护人员。",
        ) from exc


def _reason(r: ColumnRule, from_dictionary: bool) -> str:
    """The refusal reason of a column (NULL when it passes) over l4, where the outputs are columns.

    A dictionary column's reason came with its dictionary (`e_<alias>`); the others evaluate their
    checks here, on the failing rows only (see `_fails`). A date the row's valid ID supersedes
    (`Column.id_supersedes`: the registry's birth date) is not refused for lying in the future: the
    row is kept, aged by the ID's date and reported as K08."""
    a = r.column.alias
    if from_dictionary:
        reason = f'"e_{a}"'
    else:
        cases = " ".join(f"WHEN {fmt(cond, a)} THEN {fmt(text, a)}" for cond, text in r.checks)
        reason = f"CASE {cases} END" if cases else "CAST(NULL AS VARCHAR)"
    if not r.column.id_supersedes:
        return reason
    future = q(f"{r.column.header}在将来")
    return f'CASE WHEN "id_number_valid" AND starts_with({reason}, {future}) THEN NULL ELSE {reason} END'


def _fails(r: ColumnRule, from_dictionary: bool) -> str:
    """A condition true exactly when the column has a refusal reason (`_reason` is not NULL), as
    cheap as the checks allow: no reason text is built, and the OR of the checks stops at the first
    true one. A check's NULL verdict is no refusal, as in the CASE of `_reason`."""
    a = r.column.alias
    if r.column.id_supersedes:  # the exception depends on the reason's text: decided on the reason itself
        return f"{_reason(r, from_dictionary)} IS NOT NULL"
    if from_dictionary:
        return f'"e_{a}" IS NOT NULL'
    return " OR ".join(f"({fmt(cond, a)})" for cond, _ in r.checks)


def _final_columns(spec: Table, rules: list[ColumnRule], labels: list[str],
                   values: dict[str, list[str]] | None = None) -> list[str]:
    """The typed table's columns in contract order; the registry fills gender and birth date from a valid ID.

    `_file` (the file's label, often a long path, on every row) is an ENUM of the `labels`, each
    contract ENUM column one of its allowed values, and each text column validated per distinct
    value one of those `values` (school codes and names, classes, terms, places): one or two bytes
    a row instead of the text (at province size `_file` alone was 0.7 GB of the enrollment table
    and 0.45 GB of the registry's, which pushed later steps into spilling). See `enum_type`."""
    derived = {}
    if spec.name == "registry":
        valid, n_id = '"id_number_valid"', '"id_number"'
        derived = {
            "gender": f'coalesce("gender", CASE WHEN {valid} THEN {idnumber.gender_sql(n_id)} END)',
            "birth_date": f'coalesce("birth_date", CASE WHEN {valid} THEN {idnumber.birth_date_sql(n_id)} END)',
        }
    cols = []
    for r in rules:
        for name, _ in r.outputs:
            value = derived.get(name, f'"{name}"')
            if r.column.kind is Kind.ENUM and name == r.column.alias and r.column.allowed:
                # a contract ENUM (gender, stage, status ...) as an ENUM type: one byte a row instead of
                # its text (at province size ~0.5 GB of the enrollment table); TRY_CAST: a value outside
                # the list is only ever on a row the checks refuse, which is deleted below
                value = f"TRY_CAST({value} AS {enum_type(r.column.allowed)})"
            elif values and name in values:  # every value the column's dictionary gives: none is lost
                value = f"CAST({value} AS {enum_type(values[name])})"
            cols.append(f'{value} AS "{name}"')
    return cols + [f"CAST(_file AS {enum_type(labels)}) AS _file", "CAST(_row AS INTEGER) AS _row"]


def enum_type(values: Iterable[str]) -> str:
    """A DuckDB ENUM of `values`, declared in text order: it sorts, and `min` / `max` pick, as the
    text does; compared, joined, unioned or passed to a string function it reads as text."""
    return "ENUM(" + ", ".join(q(v) for v in sorted(set(values))) + ")"


def _suggest_codes(con, spec: Table, sink: str) -> None:
    """Add "did you mean" to refused codes: a loop over the few distinct wrong values, not the rows."""
    for col in spec.columns:
        if col.kind is not Kind.ENUM:
            continue
        values = con.execute(
            f"SELECT DISTINCT value FROM {sink} WHERE \"column\" = ? AND starts_with(reason, ?) LIMIT 1000",
            [col.header, ENUM_REASON_PREFIX],
        ).fetchall()
        updates = []
        for (value,) in values:
            close = difflib.get_close_matches(str(value).strip(), list(col.allowed), n=1, cutoff=0.5)
            if close:
                updates.append([f"；是否想写「{close[0]}」？", col.header, value])
        if updates:
            con.executemany(
                f"UPDATE {sink} SET reason = reason || ? WHERE \"column\" = ? AND value = ? "
                f"AND starts_with(reason, '{ENUM_REASON_PREFIX}')", updates)


def load_table(con, table: str, paths: Sequence[Path | str], *, encoding: str | None = None,
               name: str | None = None, default_term: str | None = None) -> LoadResult:
    """Load the files of one contract table into DuckDB table `name or table`; refused rows go to `rejects`.

    >>> result = load_table(con, "registry", [Path("registry.csv")])   # doctest: +SKIP
    >>> result.files[0].read == result.files[0].loaded + result.files[0].rejected
    True
    """
    spec = contract_table(table)
    if not paths:
        raise InputError(f"没有给出{spec.label}表的文件。", hint="请至少给出一个 CSV、XLSX 或 Parquet 文件。")
    seen = [str(Path(p).resolve()) for p in paths]
    if len(set(seen)) < len(seen):
        twice = next(p for p in paths if seen.count(str(Path(p).resolve())) > 1)
        raise InputError(f"同一个文件给出了两次：{twice}", hint="每个文件只给一次，否则其中的行会被算两遍。")
    refuse_identical_files([(spec.name, Path(p)) for p in paths])
    term = parse_term(default_term).label if default_term else None
    target = name or table
    ensure_rejects(con)
    idnumber.ensure_divisions(con)
    sink = temp_name("rejects")
    con.execute(REJECTS_DDL.replace(f"EXISTS {REJECTS}", f"EXISTS {sink}").replace("CREATE TABLE", "CREATE TEMP TABLE"))
    files: list[tuple[Path, str, list[Staged]]] = []
    try:
        for p in paths:
            path = Path(p)
            sha, staged = _stage_file(con, spec, path, encoding, sink)
            files.append((path, sha, staged))
        staged_all = [s for _, _, ss in files for s in ss]
        controls = any(s.controls for s in staged_all)
        rules = [rule_for(spec, c, default_term=term, controls=controls) for c in spec.columns]
        dicts = _dictionaries(con, rules, staged_all)
        _run(con, "validate", f'CREATE OR REPLACE TABLE "{target}" AS {_select(spec, rules, staged_all, dicts)}')
        for d in dicts.values():
            if d.table:
                con.execute(f"DROP TABLE {d.table}")
        for s in staged_all:  # the raw text is no longer needed: free it before splitting
            s.free(con)
        _run(con, "split_rejects",
             f"INSERT INTO {sink} SELECT {q(spec.name)}, _file, _row, p.column, left(p.value, 500), p.reason "
             f'FROM (SELECT _file, _row, unnest(_problems) AS p FROM "{target}" WHERE _problems IS NOT NULL)')
        con.execute(f'DELETE FROM "{target}" WHERE len(_problems) > 0')
        con.execute(f'ALTER TABLE "{target}" DROP COLUMN _problems')
        _suggest_codes(con, spec, sink)
        stats = _account(con, spec, target, sink, files)
        con.execute(f"INSERT INTO {REJECTS} SELECT * FROM {sink}")
    except BaseException:
        con.execute(f'DROP TABLE IF EXISTS "{target}"')  # never leave a half-validated table behind
        raise
    finally:
        for _, _, ss in files:
            for s in ss:
                s.free(con)
        con.execute(f"DROP TABLE IF EXISTS {sink}")
    notes = [n for _, _, ss in files for s in ss for n in s.notes]
    for path, _, ss in files:
        extras = sorted({e for s in ss for e in s.extras})
        if extras:
            notes.append(f"{path}：以下列不在数据规范中，未导入、不参与比对：{'、'.join(extras)}")
        if sum(s.read for s in ss) == 0:
            notes.append(f"{path}：只有表头，没有数据行。")
    return LoadResult(spec.name, target, stats, notes)


def _account(con, spec: Table, target: str, sink: str, files) -> list[FileStats]:
    loaded = dict(con.execute(f'SELECT _file, count(*) FROM "{target}" GROUP BY _file').fetchall())
    rejected = dict(con.execute(
        f"SELECT file, count(DISTINCT row_number) FROM {sink} GROUP BY file").fetchall())
    stats = []
    for path, sha, staged in files:
        labels = [s.label for s in staged]
        read = sum(s.read for s in staged)
        n_loaded = sum(loaded.get(label, 0) for label in labels)
        n_rejected = sum(rejected.get(label, 0) for label in labels)
        if read != n_loaded + n_rejected:
            raise EngineError(
                f"行数核对失败：{path} 读入 {read} 行，载入 {n_loaded} 行，拒绝 {n_rejected} 行，两者之和不等于读入行数。",
                hint="这是程序错误，请把该文件（或其前几行）和本消息报告给维护人员。",
            )
        encoding = next((s.encoding for s in staged if s.encoding), None)
        stats.append(FileStats(spec.name, str(path), sha, read, n_loaded, n_rejected, encoding))
    return stats
