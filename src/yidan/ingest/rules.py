"""What each kind of column means in SQL: how its text is cleaned, typed, and why a value is refused.

One `ColumnRule` per contract column, built from its `Kind`. The ingest query applies them to
a staging table of raw text in layers (clean -> norm -> helper -> checks and outputs), so the
whole table is validated by the engine in one pass and every refusal carries a Chinese reason.
Columns with few distinct values (dates, terms, codes) are cleaned and normalised once per
distinct value in a small dictionary table joined back, which is what keeps 12 million rows
fast, and a column whose every distinct value is already clean and valid (most columns of a
real export) skips even the join (`load._plain_dictionary`); the expensive parsers run only on
values not already in their common clean form.

What an invalid ID number means, per table (decided here, documented in docs/contract.md):
- Excel-mangled (4.30124E+17, or 18 digits ending in 000 failing the check): rejected everywhere.
- registry, enrollment, link_decisions: any other invalid ID is kept and flagged
  (`<column>_valid` = false). The registry person is still a child to account for (K06), and a
  mistyped ID is evidence for linkage.
- aid, out_of_province, verifications: a value that is not ID-shaped at all (not 18 characters
  after normalisation) is rejected, because the row cannot be attributed to anyone; an ID-shaped
  value failing the check is kept and flagged, since the registry may hold the same mistyped ID.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yidan.contract import Column, Kind, Table
from yidan.identity import dates, idnumber

REJECT_SHAPELESS_IDS = frozenset({"aid", "out_of_province", "verifications"})

MANGLED_REASON = (
    "身份证号被 Excel 转成了数字，后几位已丢失（科学计数法或末三位为 000 且校验不通过），无法还原；"
    "请从源系统重新导出，或把该列设为文本格式后重新填写"
)
EMPTY_REASON = "必填项为空"
BAD_CHAR_REASON = "含无法识别的字符（文件编码不对？可用 --encoding 指定，如 gb18030）"
CONTROL_REASON = "含不可见的控制字符（如 NUL、退格），可能是文件损坏或从其他系统复制时带入；请删除这些字符后重新导出"
# C0 controls except tab, line feed and carriage return (whitespace, trimmed or kept), DEL, and C1
CONTROL_CHARS = "[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]"
AMOUNT_REASON = ("金额格式不明确：只接受 1250、1250.5、1250.50 或 1,250.00 这样的写法"
                 "（逗号只能作千位分隔，小数点用“.”）；如 62,50、1.250,00 的小数逗号写法请改为 62.50、1250.00")
# an amount as a number: plain, or with a comma before every group of three digits (1,250.00)
_AMOUNT_PLAIN = "-?[0-9]+(\\.[0-9]+)?"
_AMOUNT_GROUPED = "-?[0-9]{1,3}(,[0-9]{3})+(\\.[0-9]+)?"


def q(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(q(v) for v in values) + "]"


_TRIM_CHARS = q(" \t\r\n\u3000\u00a0")
_DIGITS_FULL = q("０１２３４５６７８９")
_DIGITS_HALF = q("0123456789")


# Whitespace at either end (RE2's \s = tab, line feed, form feed, carriage return, space; and U+3000)
# calls for a trim. Tested by the first character's code point and `ends_with`, several times cheaper
# per row than the equivalent regular expression '^[\s\x{3000}]|[\s\x{3000}]$'.
_EDGE_SPACE = ("(unicode({raw}) IN (9, 10, 12, 13, 32, 12288) OR "
               + " OR ".join("ends_with({raw}, " + q(ch) + ")" for ch in " \t\n\f\r\u3000") + ")")
# DuckDB's trim() removes spaces (full-width ones too) but not tabs or line breaks: test for those first
# (empty text -> NULL; the nullif only on the rare trimmed value: a nullif around the CASE costs a copy per row)
_TEXT_CLEAN = ("CASE WHEN strlen({raw}) = 0 THEN NULL WHEN " + _EDGE_SPACE
               + " THEN nullif(trim({raw}, " + _TRIM_CHARS + "), '') ELSE {raw} END")
# kinds with few distinct values: clean and norm are computed once per distinct value, then joined
# (codes too: a province has a few thousand schools and counties, and tens of thousands of villages)
DICTIONARY_KINDS = frozenset({Kind.DATE, Kind.TERM, Kind.ENUM, Kind.ENUM_LIST, Kind.DIVISION_CODE,
                              Kind.COUNTY_CODE, Kind.SCHOOL_CODE})
# other columns whose values repeat across many rows (names of places and schools, grades, programme
# codes, standard amounts): validated once per distinct value as well. Every check of these kinds
# depends on the value alone, which is what a dictionary needs; a column missing here is only slower.
FEW_VALUES: dict[str, frozenset[str]] = {
    "registry": frozenset({"relation", "township_name", "village_name", "disability"}),
    "enrollment": frozenset({"school_name", "grade", "class_id"}),
    "aid": frozenset({"programme_code", "amount", "grade"}),
}


def _fast(pattern: str, fast: str, slow: str) -> str:
    """SQL: `fast` when the raw text already has the common clean form `pattern`, else the full `slow` path.

    Most values of a real export are already clean; a regular expression test is much cheaper
    than translate / regexp_replace on every row.
    """
    return f"CASE WHEN regexp_full_match({{raw}}, '{pattern}') THEN {fast} ELSE {slow} END"


@dataclass
class ColumnRule:
    """SQL for one column, in layers. Placeholders: {raw} raw text, {f} flag, {c} clean, {n} norm, {k} helper.

    `flag` is a test on the raw text computed once per row before everything else: true when the
    value is already in its common valid form, so that clean, norm, helper and checks can take the
    short way (a CASE on it, or `NOT {f} AND ...` in a check) instead of testing the same pattern
    again. Checks are CASE conditions, where DuckDB evaluates AND / OR lazily; a condition
    wrapped in coalesce() or used as a value is evaluated in full on every row.
    """

    column: Column
    few: bool = False  # a column named in FEW_VALUES: a dictionary whatever its kind
    clean: str = _TEXT_CLEAN
    flag: str | None = None
    norm: str = "{c}"
    helper: str | None = None  # one derived value computed once and shared by checks and outputs
    # join the ID tables on the helper {k}: {dw} / {bw} the weights of a known division / a calendar birth date
    divisions: bool = False

    @property
    def dictionary(self) -> bool:
        """Clean, norm and checks once per distinct value (a small table joined back), not once per row.

        Only for columns whose checks read the value alone: no helper, no ID tables."""
        return (self.few or self.column.kind in DICTIONARY_KINDS) and self.helper is None and not self.divisions
    checks: list[tuple[str, str]] = field(default_factory=list)  # (condition, reason SQL) in order
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (output column, SQL)


def rule_for(table: Table, col: Column, *, default_term: str | None = None, controls: bool = True) -> ColumnRule:
    """The column's rule; `controls=False` when no input can hold a control character (the byte scan said)."""
    rule = ColumnRule(col, few=col.alias in FEW_VALUES.get(table.name, ()))
    rule.checks.append(("contains({raw}, '\ufffd')", q(BAD_CHAR_REASON)))
    if col.required:
        rule.checks.append(("{c} IS NULL", q(EMPTY_REASON)))
    alias = col.alias
    kind = col.kind
    if kind is Kind.ID_NUMBER:
        # the common case, an ID already 17 digits + digit or X, skips cleaning and normalising
        rule.flag = idnumber.shape_ok_sql("{raw}")
        rule.clean = f"CASE WHEN {{f}} THEN {{raw}} ELSE nullif({idnumber.clean_sql('{raw}')}, '') END"
        rule.norm = f"CASE WHEN {{f}} THEN {{c}} ELSE {idnumber.normalize_sql('{c}')} END"
        rule.helper = f"CASE WHEN {{f}} THEN CAST(left({{raw}}, 17) AS BIGINT) ELSE {idnumber.body_sql('{n}')} END"
        rule.divisions = True
        rule.checks.append((idnumber.mangled_sql("{raw}", "{c}", "{k}"), q(MANGLED_REASON)))
        if table.name in REJECT_SHAPELESS_IDS:
            rule.checks.append((
                f"NOT {{f}} AND {{n}} IS NOT NULL AND NOT {idnumber.shape_ok_sql('{n}')}",
                q("不是身份证号：应为18位（或15位旧号），这一行无法对应到人"),
            ))
        rule.outputs = [(alias, "{n}"), (f"{alias}_valid", idnumber.valid_joined_sql("{n}", "{k}", "{dw}", "{bw}")),
                        (f"{alias}_converted", idnumber.converted_sql("{f}", "{c}"))]
    elif kind is Kind.STUDENT_NO:
        rule.flag = "regexp_full_match({raw}, '[GL][0-9A-Z]{6,29}')"
        rule.clean = ("CASE WHEN {f} THEN {raw} ELSE "
                      f"nullif(upper(translate(regexp_replace({{raw}}, '[\\s\\x{{3000}}]', '', 'g'), "
                      f"{_DIGITS_FULL}, {_DIGITS_HALF})), '') END")
        rule.checks.append(("NOT {f} AND NOT regexp_full_match({c}, '[GL][0-9A-Z]{6,29}')",
                            q("全国学籍号格式不对：应为 G+身份证号，或 L+临时编号")))
    elif kind is Kind.DATE:
        rule.clean = "nullif(trim({raw}), '')"
        rule.norm = ("CASE WHEN regexp_full_match({c}, '[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN TRY_CAST({c} AS DATE) "
                     f"ELSE {dates.date_sql(dates.clean_sql('{c}'))} END")
        rule.checks.append((f"{{n}} IS NULL AND regexp_full_match({{c}}, '{dates.SERIAL_PATTERN}')",
                            "'5位数字「' || {c} || '」不是可信的日期：只有 "
                            f"{dates.SERIAL_MIN}—{dates.SERIAL_MAX} 之间的数读作 Excel 日期序号（1960—2099年）；"
                            "请写成 2020-09-01 这样的日期'"))
        rule.checks.append(("{c} IS NOT NULL AND {n} IS NULL",
                            q("日期无法识别（可写 2020-09-01、2020/9/1、20200901、2020年9月1日）")))
        rule.checks.append((f"year({{n}}) NOT BETWEEN {dates.MIN_YEAR} AND {dates.MAX_YEAR}",
                            q(f"日期超出范围（{dates.MIN_YEAR}—{dates.MAX_YEAR}年）")))
        if col.past:
            rule.checks.append(("{n} > current_date",
                                "'" + col.header + "在将来（' || CAST({n} AS VARCHAR) || '，晚于导入当天 ' || "
                                "CAST(current_date AS VARCHAR) || '）：不可能，多半是录入错误，请核对'"))
    elif kind is Kind.TERM:
        rule.clean = "nullif(trim({raw}), '')"
        full = dates.term_sql(dates.clean_sql("{c}"))
        rule.norm = f"CASE WHEN regexp_full_match({{c}}, '[0-9]{{4}}[春秋]') THEN {{c}} ELSE {full} END"
        if default_term is not None and not col.required:
            rule.norm = f"CASE WHEN {{c}} IS NULL THEN {q(default_term)} ELSE {rule.norm} END"
        rule.checks.append(("{c} IS NOT NULL AND {n} IS NULL",
                            q("学期无法识别（应写作 2020秋、2021春 或 2020-2021学年第一学期）")))
    elif kind is Kind.ENUM:
        rule.checks.append((f"NOT list_contains({_list(col.allowed)}, {{c}})",
                            q("不是允许的取值（应为：" + "/".join(col.allowed) + "）")))
    elif kind is Kind.ENUM_LIST:
        rule.norm = ("list_filter(list_transform(regexp_split_to_array({c}, '[、,，;；/]'), "
                     f"lambda x: trim(x, {_TRIM_CHARS})), lambda x: x <> '')")
        bad = f"list_filter({{n}}, lambda x: NOT list_contains({_list(col.allowed)}, x))"
        rule.checks.append((f"len({bad}) > 0",
                            "'含不允许的取值「' || array_to_string(" + bad + ", '、') || '」（可选："
                            + "、".join(col.allowed) + "）'"))
        rule.checks.append(("{c} IS NOT NULL AND len({n}) = 0", q("没有任何取值")))
    elif kind in (Kind.DIVISION_CODE, Kind.COUNTY_CODE, Kind.SCHOOL_CODE):
        pattern, reason = {
            Kind.DIVISION_CODE: ("[0-9]{6,12}", "区划代码应为6至12位数字（前6位为县）"),
            Kind.COUNTY_CODE: ("[0-9]{6}", "县级区划代码应为6位数字"),
            Kind.SCHOOL_CODE: ("[0-9]{10}", "学校标识码应为10位数字"),
        }[kind]
        rule.flag = f"regexp_full_match({{raw}}, '{pattern}')"  # already a valid code: nothing to clean or check
        rule.clean = ("CASE WHEN {f} THEN {raw} ELSE " + _fast(
            "[0-9]+", "{raw}",
            f"nullif(regexp_replace(translate(regexp_replace({{raw}}, '[\\s\\x{{3000}}]', '', 'g'), "
            f"{_DIGITS_FULL}, {_DIGITS_HALF}), '^([0-9]+)\\.0+$', '\\1'), '')") + " END")
        rule.checks.append((f"NOT {{f}} AND NOT regexp_full_match({{c}}, '{pattern}')", q(reason)))
        if kind is not Kind.SCHOOL_CODE:  # the first six digits are a county of the national division table
            rule.checks.append((
                f"left({{c}}, 6) NOT IN (SELECT code FROM {idnumber.DIVISIONS_TABLE})",
                "'区划代码「' || {c} || '」不在全国行政区划代码表中（前6位应为县级代码）：请核对，"
                "应为户籍或学校所在县的代码，如 430124'"))
    elif kind is Kind.AMOUNT:
        # one reading only: a comma is a thousands separator where it stands before three digits and
        # nowhere else; 62,50 or 1.250,00 (decimal commas) are refused, never re-scaled
        rule.flag = "regexp_full_match({raw}, '[0-9]+(\\.[0-9]{1,2})?')"
        rule.clean = ("CASE WHEN {f} THEN {raw} ELSE nullif(replace(regexp_replace({raw}, "
                      "'[\\s元¥￥\\x{3000}]', '', 'g'), '，', ','), '') END")
        rule.norm = ("CASE WHEN {f} THEN TRY_CAST({c} AS DECIMAL(38,6)) "
                     f"WHEN regexp_full_match({{c}}, '{_AMOUNT_PLAIN}') THEN TRY_CAST({{c}} AS DECIMAL(38,6)) "
                     f"WHEN regexp_full_match({{c}}, '{_AMOUNT_GROUPED}') "
                     "THEN TRY_CAST(replace({c}, ',', '') AS DECIMAL(38,6)) END")
        rule.checks.append(("{c} IS NOT NULL AND {n} IS NULL AND regexp_matches({c}, '[0-9][,.][0-9]')",
                            q(AMOUNT_REASON)))
        rule.checks.append(("{c} IS NOT NULL AND {n} IS NULL", q("金额不是数字（单位为元，如 625.00）")))
        rule.checks.append(("{n} < 0", q("金额不能为负数")))
        rule.checks.append(("NOT {f} AND regexp_matches({c}, '\\.[0-9]{3,}$')", q("金额最多两位小数（单位为元）")))
        rule.checks.append(("{n} >= 1e12", q("金额过大")))
        rule.outputs = [(alias, "TRY_CAST({n} AS DECIMAL(14,2))")]
    elif kind in (Kind.COUNT, Kind.YEAR):
        rule.flag = "regexp_full_match({raw}, '[0-9]{1,9}')"
        rule.clean = ("CASE WHEN {f} THEN {raw} ELSE nullif(regexp_replace(translate(regexp_replace({raw}, "
                      f"'[\\s\\x{{3000}}人年]', '', 'g'), {_DIGITS_FULL}, {_DIGITS_HALF}), '^([0-9]+)\\.0+$', '\\1'), '') END")
        rule.norm = "TRY_CAST({c} AS BIGINT)"
        if kind is Kind.COUNT:
            rule.checks.append(("NOT {f} AND NOT regexp_full_match({c}, '[0-9]{1,9}')",
                                q("应为不小于 0 的整数（如 45），不能有小数、负号或文字")))
            rule.outputs = [(alias, "{n}")]
        else:
            rule.checks.append(("NOT {f} AND NOT regexp_full_match({c}, '[0-9]{4}')",
                                q("年份应为4位数字，如 2020（学年写起始年份）")))
            rule.checks.append(("{n} NOT BETWEEN 1990 AND 2099", q("年份超出范围（1990—2099年）")))
            rule.outputs = [(alias, "CAST({n} AS INTEGER)")]
    if not rule.outputs:
        rule.outputs = [(alias, "{n}")]
    # A regular expression on every value costs ~10 % of the validation: only where it is needed, in
    # columns whose text is kept (free text, phones, IDs kept as invalid) and not already in their
    # clean form (the flag); every other kind refuses a control character as not matching its form.
    if controls and kind in (Kind.TEXT, Kind.PHONE, Kind.ID_NUMBER):
        test = f"regexp_matches({{raw}}, '{CONTROL_CHARS}')"
        rule.checks.insert(1, (f"NOT {{f}} AND {test}" if rule.flag else test, q(CONTROL_REASON)))
    return rule


def fmt(template: str, alias: str) -> str:
    """Fill a rule's placeholders with the layer columns of `alias`."""
    return (template.replace("{raw}", f'"r_{alias}"').replace("{f}", f'"f_{alias}"').replace("{c}", f'"c_{alias}"')
            .replace("{n}", f'"n_{alias}"').replace("{k}", f'"k_{alias}"').replace("{dw}", f'"dw_{alias}"').replace("{bw}", f'"bw_{alias}"'))
