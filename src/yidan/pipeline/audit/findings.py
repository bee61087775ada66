"""Aid findings Z01-Z07, one per child, programme, term and problem, in the findings schema.

Per judged claim (entitlement.judge + payer.paid_claims), first that applies:
- programme unknown or not valid that term and paid → Z05 (county: the paying county);
- eligible but enrolled out of province, not verified whether aided there → Z07 (household county);
- enrolled out of province, aided there (是) and paid at home as well → Z02 on the home payment
  (the paying county; nothing was due at home; the other province's record is the evidence);
- paid but not eligible (reason in the detail) → Z04 (the paying county);
- eligible: nothing paid → Z01; paid in two or more rows beyond the standard → Z02 (rows that
  add up to the standard are one payment in parts, no finding); otherwise paid by a county
  other than the responsible one → Z03, and a total that differs from the standard → Z06
  (both when both hold). County: the responsible county. Beside a Z02 or Z03, each claim paid
  by a county other than the responsible one raises a Z10 for that county (the money it must
  recover, linked in words to the responsible county's finding).
A payment that reaches no registry child (by ID, student number or linkage) is judged against the
other target lists (targets): eligible there, no finding; on a list but not eligible, Z04; on no
list at all, Z09 (受助人不在任何资助对象名单), with the payee's ID as person_id.
"""

from __future__ import annotations

from typing import Any

import ibis

from yidan.contract.codes import FINDING_CODES
from yidan.pipeline.audit import entitlement
from yidan.pipeline.audit.payer import KEYS, payer_texts, with_county_name, yuan
from yidan.pipeline.keys import finding_key_expr

AMOUNT = "decimal(14, 2)"
SCHEMA = ibis.schema(
    {
        "finding_key": "string", "code": "string", "label": "string", "person_id": "string",
        "name": "string", "term": "string", "programme_code": "string", "county": "string",
        "township": "string", "village": "string", "school_code": "string",
        "amount_expected": AMOUNT, "amount_paid": AMOUNT, "detail": "string", "evidence": "string",
        "family": "string",
    }
)


def empty() -> Any:
    return ibis.memtable(SCHEMA.to_pyarrow().empty_table())


def claims(judged: Any, paid: Any, grades: Any) -> Any:
    """Judged pairs with what was paid for them (zero when nothing) and the standard they are held to.

    A graded programme's standard is the amount of the grade the payment names; unpaid, or paid
    under no readable grade, the lowest grade's (`grade_bad` then says the grade is the problem)."""
    c = judged.left_join(paid, ["person_id", "term", "programme_code"]).select(
        ~ibis.selectors.endswith("_right")
    )
    c = c.left_join(grades, [c.programme_code == grades.programme_code, c.term == grades.term,
                             c.paid_grade == grades.grade]).select(~ibis.selectors.endswith("_right"))
    zero = ibis.literal(0).cast(AMOUNT)
    paid_rows = c.paid_rows.fill_null(0)
    graded = c.graded.fill_null(False)
    grade_bad = graded & (paid_rows > 0) & (
        c.grade_amount.isnull() | (c.ungraded_rows.fill_null(0) > 0) | (c.grade_min != c.paid_grade).fill_null(False)
    )
    by_grade = graded & ~grade_bad & (paid_rows > 0)  # held to the named grade; else the lowest
    c = c.mutate(
        paid_total=c.paid_total.fill_null(zero),
        paid_rows=paid_rows,
        other_paid=c.other_paid.fill_null(zero),
        via_linkage=c.via_linkage.fill_null(0),
        std=by_grade.ifelse(c.grade_amount, c.amount_per_term).fill_null(zero),
        std_grade=graded.ifelse(by_grade.ifelse(c.paid_grade, c.low_grade), ibis.null("string")),
        grade_bad=grade_bad,
        late=(paid_rows > 0) & (c.last_paid_on > c.pay_deadline).fill_null(False),
    )
    return c.drop("grade", "grade_amount")


def _conditions(c: Any) -> dict[str, Any]:
    """When each per-claim code applies (see the module docstring)."""
    paid = c.paid_rows > 0
    dup = c.eligible & (c.paid_rows >= 2) & (c.paid_total > c.std)
    return {
        "Z05": ~c.valid & paid,
        "Z07": c.pending,
        "Z04": c.valid & ~c.eligible & ~c.pending & ~c.aided_away & paid,
        "Z02away": c.aided_away & paid,
        "Z01": c.eligible & ~paid,
        "Z02": dup,
        "Z03": c.eligible & paid & ~dup & (c.other_paid > 0),
        "Z06": c.eligible & paid & ~dup & ((c.paid_total != c.std) | c.grade_bad),
        "Z08": (c.eligible | c.pending) & c.late,
        # the county that paid where another was responsible (Z02's second payer, Z03) must recover
        "Z10": c.eligible & paid & (c.other_paid > 0) & c.responsible.notnull(),
    }


def flagged(claims_t: Any, by_payer: Any, facts_t: Any, cat: Any) -> Any:
    """The claims that raise a code, with the words the findings need (the child, the school, the
    programme, who paid what, county names): built for these few rows only, never for every claim."""
    first, *rest = _conditions(claims_t).values()
    any_code = first
    for other in rest:
        any_code = any_code | other
    c = entitlement.described(claims_t.filter(any_code), facts_t, cat)
    c = c.left_join(payer_texts(by_payer, c.select(*KEYS)), KEYS).select(~ibis.selectors.endswith("_right"))
    c = with_county_name(c, "responsible", "responsible_name")
    return with_county_name(c, "wrong_payer", "wrong_payer_name")


def build(c: Any, loose: Any, spans: Any, quals: Any, lists: Any, ever: Any) -> Any:
    """All aid findings: per-claim codes (from `flagged` claims) plus payments that reach nobody."""
    when = _conditions(c)
    head = c.term.concat(" ", c.programme_name.fill_null(c.programme_code), "：")
    by_grade = c.std_grade.isnull().ifelse("", ibis.literal("按").concat(c.std_grade, "标准"))
    owed = ibis.literal("应由 ").concat(c.responsible_name, "（", c.basis, "）", by_grade, "发放 ", yuan(c.std), " 元；")
    # a graded programme paid under no readable grade: what the catalog offers, and what was named
    grade_note = c.grade_bad.ifelse(
        ibis.literal("；发放未注明有效档次（").concat(c.paid_grade.fill_null("未填"), "），项目分档为 ",
                                               c.grades_text.fill_null(""), "，暂按最低档核对"), "")
    actual = ibis.literal("实际 ").concat(c.payers_text.fill_null("无人发放"))
    diff = c.paid_total - c.std
    rules = [
        ("Z05", when["Z05"], "main_payer", ibis.literal(0),
         head.concat(c.reason, "；", actual, "，不应发放")),
        ("Z07", when["Z07"], "responsible", c.std,
         head.concat("省外就读（", c.oop_province.fill_null("外省"), "），尚未核实是否已在省外享受资助；核实未享受后由 ",
                     c.responsible_name, "（户籍地）兜底发放 ", yuan(c.std), " 元；", actual)),
        ("Z04", when["Z04"], "main_payer", ibis.literal(0),
         head.concat("不符合资助条件（", c.reason.fill_null("不符合项目条件"), "）；", actual, "，应核实追回")),
        ("Z01", when["Z01"], "responsible", c.std, head.concat(owed, "实际无人发放，漏发 ", yuan(c.std), " 元")),
        ("Z02", when["Z02"], "responsible", c.std, head.concat(owed, actual, "，重复发放 ", yuan(diff), " 元")),
        ("Z02", when["Z02away"], "main_payer", ibis.literal(0),
         head.concat("省外就读（", c.oop_province.fill_null("外省"), "），省外学籍记录写明已在省外享受资助；", actual,
                     "，同一学期重复资助，应由发放县核实追回 ", yuan(c.paid_total), " 元")),
        ("Z03", when["Z03"], "responsible", c.std,
         head.concat(owed, actual, "，非应发放县发放")),
        ("Z06", when["Z06"], "responsible", c.std,
         head.concat(owed, actual, "，合计 ", yuan(c.paid_total), " 元，",
                     ibis.cases((diff > 0, "多发 "), (diff < 0, "少发 "), else_="金额相符 "),
                     (diff == 0).ifelse("", yuan(diff.abs()).concat(" 元")), grade_note)),
        ("Z10", when["Z10"], "wrong_payer", ibis.literal(0),
         head.concat(c.wrong_payer_name, " 不是应发放县（应由 ", c.responsible_name, "（", c.basis, "）发放），其发放的 ",
                     yuan(c.other_paid), " 元应核实追回；关联 ", c.responsible_name, " 的",
                     (when["Z02"]).ifelse("重复资助（Z02）", "非学籍地发放（Z03）"), "线索")),
        ("Z08", when["Z08"], "main_payer", c.std,
         head.concat("应于 ", c.pay_deadline.cast("string"), " 前发放（项目发放时限）；", actual,
                     "，最后一笔发放于 ", c.last_paid_on.cast("string"), "，逾期发放")),
    ]
    parts = [_rows(c, code, cond, county, expected, detail, paid="other_paid" if code == "Z10" else "paid_total")
             for code, cond, county, expected, detail in rules]
    parts.append(_loose(loose, spans, quals, lists, ever))
    return parts[0].union(*parts[1:])


def _evidence(c: Any) -> Any:
    text = lambda v: v.cast("string").fill_null("")  # noqa: E731
    return ibis.literal('{"paid_by":"').concat(
        text(c.payers_ev), '","payments":', text(c.paid_rows), ',"via_linkage":', text(c.via_linkage),
        ',"student_no":"', text(c.in_student_no), '","responsible":"', text(c.responsible),
        '","basis":"', text(c.basis), '","stage":"', text(c.in_stage.fill_null(c.oop_stage)),
        '","out_of_province_aided":"', text(c.oop_aided), '"}',
    )


def _rows(c: Any, code: str, cond: Any, county: str, expected: Any, detail: Any, *, paid: str = "paid_total") -> Any:
    f = c.filter(cond)
    return f.select(
        finding_key=finding_key_expr(code, f.term, f.programme_code, f.person_id),
        code=ibis.literal(code),
        label=ibis.literal(FINDING_CODES[code].label),
        person_id=f.person_id,
        name=f["name"],
        term=f.term,
        programme_code=f.programme_code,
        county=f[county],
        township=f.hukou_township,
        village=f.hukou_village,
        school_code=f.in_school,
        amount_expected=expected.cast(AMOUNT) if not isinstance(expected, str) else f[expected],
        amount_paid=f[paid].cast(AMOUNT),
        detail=detail,
        evidence=_evidence(f),
        family=ibis.literal("aid"),
    )


def _loose(loose: Any, spans: Any, quals: Any, lists: Any, ever: Any) -> Any:
    """Payments that reach no registry child, judged against the other target lists (targets):
    on a list whose category the programme targets on the term's first day → no finding (judged by
    the list alone: such a child has no registry record to link a school record to); on a list but
    not so → Z04 with the list in the detail; on no list at all → Z09 (受助人不在任何资助对象名单).
    The payee's own ID is the finding's person_id."""
    names = spans.select("programme_code", programme_name=spans.span_name)
    u = loose.left_join(names, "programme_code").select(~ibis.selectors.endswith("_right"))
    if lists is not None:
        u = u.left_join(quals, [u.id_number == quals.person_id, u.term == quals.term,
                                u.programme_code == quals.programme_code]).select(
            ~ibis.selectors.endswith("_right")).drop("person_id")
        u = u.left_join(lists, [u.id_number == lists.person_id, u.term == lists.term]).select(
            ~ibis.selectors.endswith("_right")).drop("person_id")
        u = u.left_join(ever, u.id_number == ever.ever_id).drop("ever_id")
    else:
        u = u.mutate(list_categories=ibis.null("array<string>"), ever_categories=ibis.null("array<string>"))
    if lists is not None:
        u = u.filter(~u.on_list.fill_null(False))
    u = with_county_name(u, "payer_county_code", "payer_name")
    listed = u.ever_categories.notnull()
    payee = u.id_number.fill_null(u.student_no)
    head = u.term.concat(" ", u.programme_name.fill_null(u.programme_code), "：", u.payer_name, " 发放 ",
                         yuan(u.paid), " 元，")
    who = ibis.literal("受助人（身份证号 ").concat(u.id_number.fill_null("空"), "，学籍号 ",
                                                 u.student_no.fill_null("空"), "）")
    nowhere = head.concat(
        "但", who, "不在任何资助对象名单中：按身份证号、全国学籍号和比对结果都对应不到建档立卡学生，",
        "其他资助对象名单（民政、残联等）" if lists is not None else "也未提供其他资助对象名单（民政、残联等）",
        "中也没有此人；请核实受助人身份与认定依据",
    )
    on_list = head.concat(
        who, "在资助对象名单中（", u.ever_categories.join("、"), "），但",
        u.list_categories.isnull().ifelse("学期首日不在名单有效期内",
                                          ibis.literal("当学期名单类别“").concat(u.list_categories.join("、"),
                                                                              "”不是项目资助对象")),
        "，不符合资助条件，应核实追回",
    )
    evidence = ibis.literal('{"paid_by":"').concat(
        u.payer_county_code, ":", yuan(u.paid), '","payments":', u.rows.cast("string"),
        ',"rows":"', u.sources.fill_null(""), '","resolved":false}',
    )
    code = listed.ifelse("Z04", "Z09")
    return u.select(
        finding_key=ibis.cases((listed, finding_key_expr("Z04", u.term, u.programme_code, payee)),
                               else_=finding_key_expr("Z09", u.term, u.programme_code, payee)),
        code=code,
        label=listed.ifelse(FINDING_CODES["Z04"].label, FINDING_CODES["Z09"].label),
        person_id=payee,
        name=u.payee_name,
        term=u.term,
        programme_code=u.programme_code,
        county=u.payer_county_code,
        township=ibis.null("string"),
        village=ibis.null("string"),
        school_code=ibis.null("string"),
        amount_expected=ibis.literal(0).cast(AMOUNT),
        amount_paid=u.paid.cast(AMOUNT),
        detail=listed.ifelse(on_list, nowhere),
        evidence=evidence,
        family=ibis.literal("aid"),
    )
