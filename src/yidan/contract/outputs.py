"""The outputs of one comparison run, declared once like the inputs.

Every run-directory table (persons, links, findings, summary, rejects) is a tuple of
columns with an engine type and the Chinese label users see. The writer makes every
output conform to these declarations (`conform` in pipeline/write.py), the run-directory
reader refuses a file that lacks a declared column, docs/contract.md documents them, and
the workbook, the web pages and the sample list label their columns from here.

The evidence of a finding (findings.evidence, JSON text) is declared here too, as a typed
record of sections and fields with Chinese labels, and rendered by one function,
`evidence_lines`, for the workbook, the web and the sample list alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yidan.identity.divisions import county_label


@dataclass(frozen=True)
class OutputColumn:
    name: str  # snake_case column name in the Parquet file
    type: str  # Ibis type string
    label: str  # Chinese label users see
    description: str = ""
    # False for columns added after the first layout: a run directory written before them is still
    # read (the column reads as empty); a missing required column is an error.
    required: bool = True


@dataclass(frozen=True)
class Output:
    name: str  # file name without .parquet
    label: str
    description: str
    table: str  # the engine table the pipeline writes it from
    sort_keys: tuple[str, ...]
    columns: tuple[OutputColumn, ...] = field(default_factory=tuple)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> OutputColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def schema(self) -> dict[str, str]:
        return {c.name: c.type for c in self.columns}

    def arrow_schema(self) -> Any:
        """The declared columns as a pyarrow schema (for writers and test fixtures)."""
        import ibis

        return ibis.schema(self.schema()).to_pyarrow()

    def table_from_rows(self, rows: list[dict[str, Any]]) -> Any:
        """A pyarrow table of exactly the declared columns from dict rows (missing keys null); a key
        that is not declared is an error, so nothing can read a field that no run writes."""
        import pyarrow as pa

        extra = sorted({k for r in rows for k in r} - set(self.names))
        if extra:
            raise KeyError(f"{self.name}: undeclared columns {extra}")
        return pa.Table.from_pylist([{n: r.get(n) for n in self.names} for r in rows], schema=self.arrow_schema())


C = OutputColumn


def later(*columns: OutputColumn) -> tuple[OutputColumn, ...]:
    """Columns added in the second layout (issue 14): optional when reading older run directories."""
    return tuple(OutputColumn(c.name, c.type, c.label, c.description, required=False) for c in columns)

AMOUNT = "decimal(14, 2)"
TOTAL = "decimal(18, 2)"

# The household and the place, shared by persons and findings: what a field team needs to find a child.
HOUSEHOLD: tuple[OutputColumn, ...] = later(
    C("household_id", "string", "户编号"),
    C("head_name", "string", "户主姓名"),
    C("relation", "string", "与户主关系"),
    C("phone", "string", "联系电话", "本人电话，没有时为户主（或同户他人）的电话"),
    C("category", "string", "人员类别"),
    C("poverty_status", "string", "脱贫状态"),
    C("county_name", "string", "县", "户籍县名称"),
    C("township_name", "string", "乡镇", "户籍乡镇名称（来自建档立卡的乡镇名称列）"),
    C("village_name", "string", "村", "户籍村名称（来自建档立卡的村名称列）"),
)
# The last known school record of the child (its latest enrollment record).
SCHOOL: tuple[OutputColumn, ...] = later(
    C("school_name", "string", "学校"),
    C("stage", "string", "学段"),
    C("grade", "string", "年级"),
    C("class_id", "string", "班级"),
    C("enrollment_status", "string", "学籍状态", "最近一条学籍的学籍状态"),
)

PERSONS = Output(
    "persons", "学龄人口就学状态", "建档立卡学龄人口每人一行：就学状态、匹配方式、最近学籍和家庭信息。",
    "persons_out", ("person_id",),
    (
        C("person_id", "string", "身份证号"),
        C("name", "string", "姓名"),
        C("gender", "string", "性别"),
        C("birth_date", "date", "出生日期"),
        C("age", "int32", "年龄", "比对学期学年首年 8 月 31 日的周岁"),
        C("hukou_county", "string", "户籍县代码"),
        *later(C("hukou_township", "string", "户籍乡镇代码"), C("hukou_village", "string", "户籍村代码")),
        C("compulsory_age", "boolean", "义务教育年龄", "6–15 岁（按配置）"),
        *later(C("age_group", "string", "年龄段", "学前（3–5 岁）/ 义务教育（6–15 岁）/ 高中阶段（16–18 岁）")),
        C("status", "string", "就学状态代码"),
        C("status_label", "string", "就学状态",
          "未匹配学籍的儿童按年龄显示：3–5 岁为“未入园”，16–18 岁为“非义务教育阶段未在校”"),
        C("match_method", "string", "匹配方式"),
        C("match_probability", "float64", "匹配概率"),
        C("student_no", "string", "全国学籍号"),
        C("school_code", "string", "学校标识码"),
        C("school_county", "string", "学校所在县代码"),
        C("boarding", "string", "是否寄宿"),
        *later(C("verified_conclusion", "string", "核实结论"), C("disability", "string", "残疾类别")),
        *later(C("disability_listed", "boolean", "残联残疾名单",
                 "比对学期内在资助对象名单（targets）中类别为残疾；未提供该名单时为空")),
        *HOUSEHOLD,
        *SCHOOL,
    ),
)

LINKS = Output(
    "links", "身份匹配", "每一对确认或待复核的建档立卡—学籍匹配，附候选学籍的信息和逐项比较说明。",
    "links_out", ("person_id", "student_no", "decision"),
    (
        C("person_id", "string", "身份证号"),
        C("reg_key", "int64", "建档立卡序号"),
        C("student_no", "string", "全国学籍号"),
        C("method", "string", "匹配方式"),
        C("match_probability", "float64", "匹配概率"),
        C("decision", "string", "匹配结论", "accepted = 确认；review = 待人工复核"),
        C("explanation", "string", "逐项比较", "JSON：每个比较项的结果"),
        C("name_agrees", "boolean", "姓名一致"),
        C("gender_agrees", "boolean", "性别一致"),
        C("birth_agrees", "boolean", "出生日期一致"),
        *later(C("student_name", "string", "学籍姓名"),
        C("student_gender", "string", "学籍性别"),
        C("student_birth_date", "date", "学籍出生日期"),
        C("student_id_number", "string", "学籍身份证号"),
        C("school_code", "string", "学校标识码"),
        C("school_name", "string", "学校"),
        C("school_county", "string", "学校所在县代码"),
        C("stage", "string", "学段"),
        C("grade", "string", "年级"),
        C("class_id", "string", "班级"),
        C("enrollment_status", "string", "学籍状态")),
    ),
)

FINDINGS = Output(
    "findings", "问题清单", "每个问题一行（一单）：问题、儿童、家庭、户籍地名称、最近学籍、下一步怎么做和佐证。",
    "findings", ("finding_key",),
    (
        C("finding_key", "string", "问题标识", "问题编码|学期|资助项目|身份证号，历次比对不变"),
        C("code", "string", "问题编码"),
        C("label", "string", "问题类型"),
        C("person_id", "string", "身份证号"),
        C("name", "string", "姓名"),
        C("term", "string", "学期"),
        C("programme_code", "string", "资助项目"),
        C("county", "string", "责任县代码", "负责办理的县"),
        C("township", "string", "户籍乡镇代码"),
        C("village", "string", "户籍村代码"),
        C("school_code", "string", "学校标识码"),
        C("amount_expected", AMOUNT, "应发金额"),
        C("amount_paid", AMOUNT, "实发金额"),
        C("detail", "string", "问题说明", "由佐证生成，与佐证一致"),
        C("evidence", "string", "佐证", "JSON，字段见下文“佐证”"),
        C("family", "string", "问题类别", "schooling 控辍保学 / aid 学生资助 / quality 数据质量"),
        *later(C("next_step", "string", "下一步", "谁做什么：劝返、核实学籍接转、补发……"),
               C("age", "int32", "年龄"), C("age_group", "string", "年龄段")),
        *HOUSEHOLD,
        *SCHOOL,
    ),
)

SUMMARY = Output(
    "summary", "汇总", "长表：按县 × 就学状态、县 × 问题编码、县 × 资助项目 × 学期的人数和金额；"
    "状态另按乡镇、村、年龄段、人员类别、脱贫状态细分。",
    "summary", ("dimension", "county", "township", "village", "key", "term", "age_group", "category",
                "poverty_status"),
    (
        C("dimension", "string", "维度", "status 就学状态 / finding 问题 / aid 资助"),
        C("county", "string", "县代码"),
        *later(C("township", "string", "乡镇代码", "就学状态按乡镇、村细分；县合计行为空"),
               C("village", "string", "村代码")),
        C("key", "string", "代码", "就学状态代码 / 问题编码 / 资助项目代码"),
        C("term", "string", "学期"),
        *later(C("age_group", "string", "年龄段"), C("category", "string", "人员类别"),
               C("poverty_status", "string", "脱贫状态")),
        C("count", "int64", "人数"),
        C("amount_expected", TOTAL, "应发金额"),
        C("amount_paid", TOTAL, "实发金额"),
        C("amount_missed", TOTAL, "漏发金额（漏助 + 少发）", "应发未发（漏助）与发放低于标准（少发）之和"),
        C("amount_duplicate", TOTAL, "重复发放金额（重复）", "同一学期发放超过一次、超出标准的部分"),
        C("amount_wrong", TOTAL, "不符合条件发放金额（不符合条件）",
          "不符合资助条件、项目已失效、受助人不在任何名单时发出的金额，计入发放县"),
        C("amount_unpaid", TOTAL, "漏助金额（应发未发）", "符合条件但无人发放的标准金额"),
        C("amount_short", TOTAL, "少发金额（已发低于标准）", "已发放但合计低于标准的差额"),
        C("amount_over", TOTAL, "多发金额（一次发放高于标准）", "非重复发放但合计高于标准的差额"),
    ),
)

REJECTS = Output(
    "rejects", "拒收行", "没有导入的输入行：文件、行号、列、原值和中文原因。",
    "rejects", ("table", "file", "row_number", "column", "reason"),
    (
        C("table", "string", "表"),
        C("file", "string", "文件"),
        C("row_number", "int64", "行号"),
        C("column", "string", "列"),
        C("value", "string", "原值"),
        C("reason", "string", "原因"),
    ),
)

OUTPUTS: dict[str, Output] = {o.name: o for o in (REJECTS, PERSONS, LINKS, FINDINGS, SUMMARY)}
# written into manifest.json as `outputs_layout`; a reader holds a directory of this layout to every column
OUTPUTS_LAYOUT = "2"

# --- what the manifest carries for readers besides the tables ------------------------------------------

# The approved share (核定比例) of programmes paid to a share of pupils (按比例资助): one row per paying county,
# programme and term, computed by pipeline/audit/share.py into manifest.json at this path. Read by the
# web's 资助台账 and the county workbook's 资助台账 sheet (reports/approved_share.py). Per county only:
# the pipeline does not compute a per-school share.
APPROVED_SHARE_PATH: tuple[str, ...] = ("notes", "audit", "approved_share")
APPROVED_SHARE_FIELDS: dict[str, str] = {
    "county": "发放县", "programme_code": "资助项目", "term": "学期",
    "recipients": "受助人数（分子：不同的受助人）", "pupils": "在读学生数（分母：该县该项目学段在读）",
    "actual_share": "实际比例（%）", "approved_share": "核定比例（%）", "over": "是否超过核定比例",
}

# --- ages and statuses -------------------------------------------------------------------------------

AGE_GROUPS: dict[str, str] = {"preschool": "学前（3–5岁）", "compulsory": "义务教育（6–15岁）",
                              "upper": "高中阶段（16–18岁）"}
# What a child without any enrollment is called outside compulsory age: "学籍未匹配" is a finding
# (K01) only for compulsory-age children; younger ones have simply not entered kindergarten.
UNMATCHED_BY_AGE: dict[str, str] = {"preschool": "未入园", "upper": "非义务教育阶段未在校"}
# 未脱贫 and 返贫 children first in every list (the speech calls them the priority)
# (the one owner of that order: the workbook's SQL, the cover's groups and the web list use these)
POVERTY_ORDER: dict[str, int] = {"未脱贫": 0, "返贫": 1, "已脱贫": 2}
POVERTY_LAST = len(POVERTY_ORDER)  # no or an unknown status


def poverty_rank(status: str | None) -> int:
    """A status's place in a list: 未脱贫, 返贫, 已脱贫, then none."""
    return POVERTY_ORDER.get(status or "", POVERTY_LAST)


def poverty_rank_sql(column: str) -> str:
    """The same rank as a SQL expression over `column` (DuckDB, PostgreSQL)."""
    whens = " ".join(f"WHEN '{k}' THEN {v}" for k, v in POVERTY_ORDER.items())
    return f"CASE {column} {whens} ELSE {POVERTY_LAST} END"

# --- the next step per finding code, in a clerk's words ------------------------------------------------

NEXT_STEPS: dict[str, str] = {
    "K01": "乡镇中心学校会同村委会入户核实就学情况；在校的请学校补录学籍，未在校的组织“三帮一”劝返",
    "K02": "县教育局组织“三帮一”小组（教育干部、教师、村干部）入户劝返复学，复学后由学校恢复学籍",
    "K03": "转出学校联系转入学校核实学籍接转；未入学的组织劝返",
    "K04": "县教育局补充省外就读证明（就读学校出具的在读证明）",
    "K05": "县学籍管理员比对两条记录，确认是否同一人",
    "K06": "乡镇扶贫专干核对并更正建档立卡身份证号",
    "K07": "相关学校核查并注销重复学籍，保留实际就读的一条",
    "K08": "学校与扶贫部门核对姓名、性别、出生日期，更正错误一方",
    "K09": "乡镇中心学校入户核实是否升入初中；未升学的组织入学",
    "Z01": "应发放县资助中心核实后补发，并在下次发放数据中报送",
    "Z02": "发放县资助中心核实重复发放，追回多发部分",
    "Z03": "应发放县与实际发放县对账，由应发放县发放、实际发放县追回",
    "Z04": "发放县资助中心核实资助条件，不符合的追回",
    "Z05": "发放县资助中心停止发放已失效项目，追回已发金额",
    "Z06": "发放县资助中心核对标准，少发补发、多发追回",
    "Z07": "户籍县资助中心核实省外是否已享受资助；未享受的兜底发放",
    "Z08": "发放县资助中心说明逾期原因，按时限完成以后学期的发放",
    "Z09": "发放县资助中心核实受助人身份与认定依据：属资助对象的补报名单，不属的追回",
    "Z10": "本县不是应发放县：核实后追回已发金额，并与应发放县对账",
}

# --- the evidence record --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceField:
    key: str  # JSON key
    label: str  # Chinese label
    # text | id (masked by role: ID numbers and "G"+ID student numbers) | county (code shown with its name) | school (name with code) |
    # payments ("433130:1000.00;…" as "龙山县 1000.00 元") | probability | yes_no | count
    kind: str = "text"
    fields: tuple[EvidenceField, ...] = ()  # a record made of fields


E = EvidenceField
EVIDENCE: tuple[EvidenceField, ...] = (
    E("registry", "建档立卡", fields=(
        E("person_id", "身份证号", "id"), E("name", "姓名"), E("gender", "性别"), E("birth_date", "出生日期"),
        E("registry_birth_date", "填报的出生日期"), E("id_birth_date", "身份证号中的出生日期"),
    )),
    E("enrollment", "最近学籍", fields=(
        E("student_no", "全国学籍号", "id"), E("school_name", "学校", "school"), E("school_code", "学校标识码"),
        E("stage", "学段"), E("grade", "年级"),
        E("class_id", "班级"), E("enrollment_status", "学籍状态"), E("status_date", "状态变动日期"),
        E("term", "学期"),
    )),
    E("verification", "核实", fields=(
        E("conclusion", "核实结论"), E("verified_on", "核实日期"), E("province", "就读省份"),
    )),
    E("candidate", "疑似匹配学籍", fields=(
        E("student_no", "全国学籍号", "id"), E("name", "姓名"), E("birth_date", "出生日期"),
        E("school_name", "学校", "school"), E("school_code", "学校标识码"),
        E("probability", "匹配概率", "probability"),
    )),
    E("n_active", "本学期在读学籍数", "count"),
    E("mismatch", "不一致的项"),
    # aid findings
    E("paid_by", "实际发放", "payments"),
    E("payments", "发放笔数", "count"),
    E("via_linkage", "其中经概率匹配对应的笔数", "count"),
    E("student_no", "全国学籍号", "id"),
    E("responsible", "应发放县", "county"),
    E("basis", "发放依据"),
    E("stage", "学段"),
    E("out_of_province_aided", "省外是否已享受资助"),
    E("rows", "发放记录（文件:行号）"),
    E("resolved", "能否对应到建档立卡学生", "yes_no"),
)
EVIDENCE_BY_KEY: dict[str, EvidenceField] = {f.key: f for f in EVIDENCE}


def _school_text(record: dict[str, Any], value: Any) -> str:
    code = record.get("school_code")
    return f"{value}（{code}）" if code else str(value)


def _value(f: EvidenceField, value: Any, record: dict[str, Any], mask_id: Callable[[str], str] | None) -> str:
    if f.kind == "id" and mask_id is not None:
        return mask_id(str(value))
    if f.kind == "county":
        return f"{county_label(str(value))}（{value}）"
    if f.kind == "school":
        return _school_text(record, value)
    if f.kind == "payments":
        parts = []
        for item in str(value).split(";"):
            county, _, amount = item.partition(":")
            parts.append(f"{county_label(county)} {amount} 元" if amount else item)
        return "，".join(parts)
    if f.kind == "probability":
        try:
            return f"{float(value) * 100:.1f}%"
        except (TypeError, ValueError):
            return str(value)
    if f.kind == "yes_no":
        return "是" if value in (True, "true", "是") else "否"
    return str(value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def evidence_lines(text: str | None, *, mask_id: Callable[[str], str] | None = None) -> list[tuple[str, str]]:
    """The evidence JSON as (label, text) lines in the declared order, empty parts left out.

    Keys that are not declared are shown under their own name, so a test that walks the
    pages finds them (an English key on a page is a bug to fix here, not to hide)."""
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return [("", text)]
    if not isinstance(data, dict):
        return [("", str(data))]
    out: list[tuple[str, str]] = []
    ordered = [k for k in EVIDENCE_BY_KEY if k in data] + [k for k in data if k not in EVIDENCE_BY_KEY]
    for key in ordered:
        value = data[key]
        if _empty(value):
            continue
        f = EVIDENCE_BY_KEY.get(key, EvidenceField(key, key))
        if f.fields and isinstance(value, dict):
            sub = {s.key: s for s in f.fields}
            keys = [s.key for s in f.fields if s.key in value] + [k for k in value if k not in sub]
            # a school is shown by name with its code; the code alone only where the name is missing
            shown_code = "school_code" in value and _empty(value.get("school_name"))
            parts = [f"{sub.get(k, EvidenceField(k, k)).label} {_value(sub.get(k, EvidenceField(k, k)), value[k], value, mask_id)}"
                     for k in keys if (k != "school_code" or shown_code) and not _empty(value[k])]
            if parts:
                out.append((f.label, "，".join(parts)))
        else:
            out.append((f.label, _value(f, value, data, mask_id)))
    return out


def evidence_text(text: str | None, *, mask_id: Callable[[str], str] | None = None) -> str:
    """The evidence as lines of one cell ("学籍：…" one per line), for workbooks and sample lists."""
    return "\n".join(f"{label}：{value}" if label else value for label, value in evidence_lines(text, mask_id=mask_id))
