"""Findings K01–K09 in the findings schema, each with a Chinese `detail` a county clerk
understands and `evidence`: the records it rests on, as JSON text.

Schooling findings are raised for compulsory-age children only (CONTRACT.md); older and
younger children keep their status without a K finding.
"""

from __future__ import annotations

from typing import Any

import ibis

from yidan.contract.codes import FINDING_CODES
from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.context import RunContext
from yidan.pipeline.keys import finding_key_expr
from yidan.pipeline.link.exact import EXACT_METHODS

NULL_TEXT = ibis.null().cast("string")
NULL_AMOUNT = ibis.null().cast("decimal(14, 2)")


def _t(x: Any) -> Any:
    """Text of a value for a message; empty when missing (concat would turn the whole line null)."""
    return x.cast("string").fill_null("")


def _k08_link(j: Any, mismatch: Any) -> Any:
    """The part of a K08 about an exact-key link whose name, gender or birth date disagree."""
    text = ibis.literal("按身份证号匹配到学籍 ").concat(_t(j.k8_student_no), "，但", mismatch, "与建档立卡信息不一致。")
    return ibis.ifelse(j.k8_student_no.notnull() & (mismatch != ""), text, "")


def _k08_registry(j: Any) -> Any:
    """The part of a K08 about a registry birth date contradicting the registry's own ID, and which date was used."""
    written, in_id = _t(j.registry_birth_date), _t(j.id_birth_date)
    return ibis.cases(
        (j.birth_conflict.fill_null(False) & j.id_converted.fill_null(False), ibis.literal("建档立卡出生日期 ").concat(
            written, " 与15位旧身份证号转换后的出生日期 ", in_id,
            " 不一致（旧号码不含年份前两位，转换时按19补齐），年龄按建档立卡出生日期计算。")),
        (j.birth_conflict.fill_null(False), ibis.literal("建档立卡出生日期 ").concat(
            written, " 与身份证号中的出生日期 ", in_id, " 不一致，年龄按身份证号中的出生日期计算（", _t(j.age), "岁）。")),
        else_="",
    )


def _detail(j: Any) -> Any:
    who = _t(j.name).concat("（", _t(j.age), "岁）")
    rec = _t(j.l_school_name).concat("，", _t(j.l_term), "，学籍号 ", _t(j.l_student_no))
    mismatch = (
        (~j.k8_name).ifelse("姓名", "")
        .concat((~j.k8_gender).ifelse("性别", ""), (~j.k8_birth).ifelse("出生日期", ""))
    )
    return ibis.cases(
        (j.finding == "K01", who.concat("在本省学籍中没有本学期在读记录，也没有省外学籍和核实结论。请核实其就学情况。")),
        (j.finding == "K02", ibis.cases(
            (j.l_enrollment_status == "辍学",
             who.concat("学籍状态为辍学（", rec, "）。请组织“三帮一”劝返复学。")),
            else_=who.concat("核实结论为失联（核实日期 ", _t(j.verified_on), "）。请组织查找并劝返复学。"),
        )),
        (j.finding == "K03", who.concat("最新学籍为转出（", rec, "），尚无转入后的在读学籍。请跟进学籍接转。")),
        (j.finding == "K04", who.concat(
            "核实为省外就读（", _t(j.verified_province), "），但全国省外学籍核查结果中没有此人。请补充省外就读证明。"
        )),
        (j.finding == "K05", who.concat(
            "有疑似匹配的学籍（学籍号 ", _t(j.review_student_no), "，匹配概率 ",
            _t(j.review_probability.cast("float64").round(2)), "）。请人工确认是否同一人。",
        )),
        (j.finding == "K06", who.concat(
            "的身份证号 ", _t(j.person_id), " 校验不通过，且没有可信的学籍匹配。请核对并更正身份证号。"
        )),
        (j.finding == "K07", who.concat("本学期有 ", _t(j.n_active), " 条在读学籍。请核查并清理重复学籍。")),
        (j.finding == "K08", who.concat(_k08_link(j, mismatch), _k08_registry(j), ibis.ifelse(
            j.birth_conflict.fill_null(False), "请核对并更正建档立卡信息。", "请核对两边信息。"))),
        (j.finding == "K09", who.concat("小学毕业（", rec, "）后没有升学记录。请核实是否辍学并组织入学。")),
        else_=NULL_TEXT,
    )


def json_text(v: Any) -> Any:
    """A JSON string (or null) for a value; written as string operations so DuckDB and Spark agree."""
    esc = v.cast("string").replace("\\", "\\\\").replace('"', '\\"')
    return v.isnull().ifelse(ibis.literal("null"), ibis.literal('"').concat(esc, '"'))


def json_number(v: Any) -> Any:
    return v.isnull().ifelse(ibis.literal("null"), v.cast("string"))


def json_object(fields: dict[str, Any], *, present: Any = None) -> Any:
    """`{"key": value, ...}` from JSON fragments; null (the JSON literal) where `present` is false."""
    body = ibis.literal("{")
    for i, (key, value) in enumerate(fields.items()):
        body = body.concat("," if i else "", f'"{key}":', value)
    body = body.concat("}")
    return body if present is None else present.ifelse(body, ibis.literal("null"))


def _evidence(j: Any) -> Any:
    """The records a finding rests on: the registry row, the latest enrollment, the verification,
    the review candidate and the number of active enrollments (null where there is none)."""
    registry = json_object({
        "身份证号": json_text(j.person_id), "姓名": json_text(j.name), "性别": json_text(j.gender),
        "出生日期": json_text(j.birth_date), "户籍地": json_text(j.hukou_code),
    })
    enrollment = json_object({
        "全国学籍号": json_text(j.l_student_no), "学校名称": json_text(j.l_school_name),
        "学校标识码": json_text(j.l_school_code), "学段": json_text(j.l_stage),
        "学籍状态": json_text(j.l_enrollment_status), "学期": json_text(j.l_term),
    }, present=j.l_student_no.notnull())
    verification = json_object({
        "核实结论": json_text(j.verified_conclusion), "核实日期": json_text(j.verified_on),
        "就读省份": json_text(j.verified_province),
    }, present=j.verified_conclusion.notnull())
    candidate = json_object({
        "全国学籍号": json_text(j.review_student_no), "匹配概率": json_number(j.review_probability.cast("float64").round(4)),
    }, present=j.review_student_no.notnull())
    return json_object({
        "建档立卡": registry, "学籍": enrollment, "核实": verification, "疑似匹配": candidate,
        "在读学籍数": json_number(j.n_active),
    })


def school_findings(ctx: RunContext, facts: Facts, person_status: Any, found: Any) -> Any:
    term = facts.term
    persons = facts.persons.filter(facts.persons.compulsory_age).select(
        "person_id", "hukou_code", "hukou_county", "hukou_township", "hukou_village",
        "registry_birth_date", "id_birth_date", "id_converted", "birth_conflict",
    )
    ps = person_status.select("person_id", "name", "gender", "birth_date", "age", "school_code")
    lat = facts.latest.select(
        "person_id", l_student_no="student_no", l_school_name="school_name", l_school_code="school_code",
        l_stage="stage", l_enrollment_status="enrollment_status", l_term="term",
    )
    ver = facts.verification.select(
        "person_id", verified_conclusion="conclusion", verified_on="verified_on",
        verified_province="verified_province",
    )
    act = facts.active.select("person_id", "n_active")
    lk = facts.links.filter(facts.links.method.isin(EXACT_METHODS))
    k8 = lk.group_by("person_id").aggregate(
        k8_name=lk.name_agrees.fill_null(True).all(),
        k8_gender=lk.gender_agrees.fill_null(True).all(),
        k8_birth=lk.birth_agrees.fill_null(True).all(),
        k8_student_no=lk.student_no.min(),
    )
    j = found.distinct().join(persons, "person_id")
    for extra in (ps, lat, ver, facts.review, act, k8):
        j = j.left_join(extra, "person_id").drop("person_id_right")
    labels = {c: f.label for c, f in FINDING_CODES.items()}
    families = {c: f.family for c, f in FINDING_CODES.items()}
    return j.select(
        finding_key=finding_key_expr(j.finding, term, None, j.person_id),
        code=j.finding,
        label=j.finding.substitute(labels),
        person_id=j.person_id,
        name=j.name,
        term=ibis.literal(term),
        programme_code=NULL_TEXT,
        county=j.hukou_county,
        township=j.hukou_township,
        village=j.hukou_village,
        school_code=ibis.coalesce(j.school_code, j.l_school_code),
        amount_expected=NULL_AMOUNT,
        amount_paid=NULL_AMOUNT,
        detail=_detail(j),
        evidence=_evidence(j),
        family=j.finding.substitute(families),
    )
