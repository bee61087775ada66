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
from yidan.pipeline.findings import students
from yidan.pipeline.keys import finding_key_expr
from yidan.pipeline.link.exact import EXACT_METHODS

NULL_TEXT = ibis.null().cast("string")
NULL_AMOUNT = ibis.null().cast("decimal(14, 2)")


def _t(x: Any) -> Any:
    """Text of a value for a message; empty when missing (concat would turn the whole line null)."""
    return x.cast("string").fill_null("")


def _verification_clause(j: Any) -> Any:
    """What the county reported, in the same words as the evidence: a text never says there is no
    verification while its evidence shows one."""
    return j.verified_conclusion.isnull().ifelse(
        "",
        ibis.literal("核实结论为").concat(_t(j.verified_conclusion), "（核实日期 ", _t(j.verified_on), "）"),
    )


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
    """The finding's text, written from the fields its evidence shows (`_evidence`)."""
    who = _t(j.name).concat("（", _t(j.age), "岁）")
    rec = _t(j.l_school_name).concat("，", _t(j.l_term), "，学籍号 ", _t(j.l_student_no))
    mismatch = _mismatch(j)
    verified = j.verified_conclusion.notnull()
    also = verified.ifelse(ibis.literal("；").concat(_verification_clause(j)), "")
    k01 = who.concat(
        "在本省学籍中没有本学期在读记录，也没有省外学籍",
        j.l_student_no.notnull().ifelse(ibis.literal("（最近学籍：").concat(rec, "）"), ""),
        verified.ifelse(
            ibis.literal("；").concat(_verification_clause(j), "，但学籍中没有与之对应的在读记录"),
            j.verified_expired.isnull().ifelse(
                "，也没有核实结论",
                ibis.literal("，也没有有效的核实结论（").concat(j.verified_expired.cast("string"), "）")),
        ),
        "。请核实其就学情况。",
    )
    return ibis.cases(
        (j.finding == "K01", k01),
        (j.finding == "K02", ibis.cases(
            (j.l_enrollment_status == "辍学",
             who.concat("学籍状态为辍学（", rec, "）", also, "。请组织“三帮一”劝返复学。")),
            else_=who.concat(_verification_clause(j), "，没有在读学籍。请组织查找并劝返复学。"),
        )),
        (j.finding == "K03", who.concat("最新学籍为转出（", rec, "），尚无转入后的在读学籍", also, "。请跟进学籍接转。")),
        (j.finding == "K04", who.concat(
            _verification_clause(j), "，就读省份 ", _t(j.verified_province).nullif("").fill_null("未填"),
            "，但全国省外学籍核查结果中没有此人。请补充省外就读证明。"
        )),
        (j.finding == "K05", who.concat(
            "有疑似匹配的学籍（", _t(j.c_name), "，出生日期 ", _t(j.c_birth_date), "，", _t(j.c_school_name),
            "，学籍号 ", _t(j.review_student_no), "，匹配概率 ",
            _t((j.review_probability.cast("float64") * 100).round(1)), "%）", also, "。请人工确认是否同一人。",
        )),
        (j.finding == "K06", who.concat(
            "的身份证号 ", _t(j.person_id), " 校验不通过，且没有可信的学籍匹配", also, "。请核对并更正身份证号。"
        )),
        (j.finding == "K07", who.concat("本学期有 ", _t(j.n_active), " 条在读学籍", also, "。请核查并清理重复学籍。")),
        (j.finding == "K08", who.concat(_k08_link(j, mismatch), _k08_registry(j), _verification_clause(j),
                                        verified.ifelse("。", ""), ibis.ifelse(
            j.birth_conflict.fill_null(False), "请核对并更正建档立卡信息。", "请核对两边信息。"))),
        (j.finding == "K09", who.concat("小学毕业（", rec, "）后没有升学记录", also, "。请核实是否辍学并组织入学。")),
        else_=NULL_TEXT,
    )


def _mismatch(j: Any) -> Any:
    """The fields an exact-ID link disagrees on ("姓名、出生日期"), empty when none."""
    parts = [(~j.k8_name.fill_null(True)).ifelse("姓名", ""), (~j.k8_gender.fill_null(True)).ifelse("性别", ""),
             (~j.k8_birth.fill_null(True)).ifelse("出生日期", "")]
    text = parts[0].concat("、", parts[1], "、", parts[2])
    # squeeze the separators of empty parts: "姓名、、出生日期" -> "姓名、出生日期"
    return text.re_replace("、+", "、").re_replace("^、|、$", "")


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
    """The records a finding rests on, with the keys declared in `yidan.contract.outputs.EVIDENCE`:
    the registry row, the latest enrollment, the verification, the review candidate, the number of
    active enrollments and the fields that disagree (null where there is none)."""
    conflict = j.birth_conflict.fill_null(False)
    registry = json_object({
        "person_id": json_text(j.person_id), "name": json_text(j.name), "gender": json_text(j.gender),
        "birth_date": json_text(j.birth_date),
        # a registry birth date that contradicts the registry's own ID: both dates, as the K08 text says
        "registry_birth_date": json_text(conflict.ifelse(j.registry_birth_date, ibis.null("date"))),
        "id_birth_date": json_text(conflict.ifelse(j.id_birth_date, ibis.null("date"))),
    })
    enrollment = json_object({
        "student_no": json_text(j.l_student_no), "school_name": json_text(j.l_school_name),
        "school_code": json_text(j.l_school_code), "stage": json_text(j.l_stage), "grade": json_text(j.l_grade),
        "class_id": json_text(j.l_class_id), "enrollment_status": json_text(j.l_enrollment_status),
        "status_date": json_text(j.l_status_date), "term": json_text(j.l_term),
    }, present=j.l_student_no.notnull())
    verification = json_object({
        "conclusion": json_text(j.verified_conclusion), "verified_on": json_text(j.verified_on),
        "province": json_text(j.verified_province),
    }, present=j.verified_conclusion.notnull())
    candidate = json_object({
        "student_no": json_text(j.review_student_no), "name": json_text(j.c_name),
        "birth_date": json_text(j.c_birth_date), "school_name": json_text(j.c_school_name),
        "school_code": json_text(j.c_school_code),
        "probability": json_number(j.review_probability.cast("float64").round(4)),
    }, present=j.review_student_no.notnull())
    mismatch = _mismatch(j)
    return json_object({
        "registry": registry, "enrollment": enrollment, "verification": verification, "candidate": candidate,
        "n_active": json_number(j.n_active),
        "mismatch": ((j.finding == "K08") & (mismatch != "")).ifelse(json_text(mismatch), ibis.literal("null")),
    })


def school_findings(ctx: RunContext, facts: Facts, person_status: Any, found: Any) -> Any:
    term = facts.term
    persons = facts.persons.filter(facts.persons.compulsory_age).select(
        "person_id", "hukou_code", "hukou_county", "hukou_township", "hukou_village",
        "registry_birth_date", "id_birth_date", "id_converted", "birth_conflict",
    )
    ps = person_status.select("person_id", "name", "gender", "birth_date", "age", "school_code")
    # (the record's class came with it: no second scan of the enrollment by file and row)
    lat = facts.latest.select(
        "person_id", l_class_id="class_id", l_student_no="student_no", l_school_name="school_name",
        l_school_code="school_code", l_stage="stage", l_grade="grade", l_enrollment_status="enrollment_status",
        l_status_date="status_date", l_term="term",
    )
    st = students(ctx)
    cand = facts.review.left_join(st, facts.review.review_student_no == st.student_no).select(
        "person_id", "review_student_no", "review_probability", c_name=st["name"], c_birth_date=st.birth_date,
        c_school_name=st.school_name, c_school_code=st.school_code,
    )
    ver = facts.verification.select(
        "person_id", verified_conclusion="conclusion", verified_on="verified_on",
        verified_province="verified_province", verified_expired="expired_text",
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
    for extra in (ps, lat, ver, cand, act, k8):
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
