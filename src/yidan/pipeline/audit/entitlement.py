"""Who was entitled to which programme in which term.

Judged per child, programme and term with the registry status and the policy in force on
the term's first day (DOMAIN.md): registered then (recognised on or before it, not removed
on or before it); a 在读 record in that term's own snapshot with the programme's stage and
boarding condition, or an out-of-province record for that term; the child's category among
the programme's targets; the programme valid that term. Everything runs in the engine; the
only Python here builds expressions.

Out of province the boarding situation is unknown, so only programmes without a boarding
condition (不限) can be judged there, and the out-of-province record must name its stage.
"""

from __future__ import annotations

from typing import Any

import ibis

from yidan.pipeline.audit.payments import accepted_links
from yidan.pipeline.context import RunContext


def enrolled(ctx: RunContext, terms: Any) -> Any:
    """One 在读 record per child and audited term (several: the first by county, school, number)."""
    enr = ctx.get("enrollment")
    enr = enr.filter((enr.enrollment_status == "在读") & enr.term.isin(terms.term))
    links = accepted_links(ctx).select("student_no", "person_id")
    j = enr.inner_join(links, "student_no")
    j = j.select(
        "person_id", "term",
        in_stage=j.stage,
        in_boarding=(j.boarding == "是").fill_null(False),
        in_county=j.school_county_code,
        in_school=j.school_code,
        in_student_no=j.student_no,
    )
    rn = ibis.row_number().over(
        group_by=[j.person_id, j.term], order_by=[j.in_county, j.in_school, j.in_student_no]
    )
    return j.mutate(_rn=rn).filter(ibis._._rn == 0).drop("_rn")


def out_of_province(ctx: RunContext, terms: Any) -> Any:
    """One row per registry child and audited term enrolled out of province, with the verification."""
    persons = ctx.get("reg_persons").select("person_id").distinct()
    if not ctx.has("out_of_province"):
        return None
    oop = ctx.get("out_of_province")
    oop = oop.mutate(term=oop.term.fill_null(ctx.term.label)) if "term" in oop.columns else oop.mutate(
        term=ibis.literal(ctx.term.label)
    )
    if "enrollment_status" in oop.columns:
        oop = oop.filter(oop.enrollment_status.isnull() | (oop.enrollment_status == "在读"))
    oop = oop.filter(oop.term.isin(terms.term))
    oop = oop.inner_join(persons, oop.id_number == persons.person_id)
    aided = oop.aided_there if "aided_there" in oop.columns else ibis.null("string")
    stage = oop.stage if "stage" in oop.columns else ibis.null("string")
    g = oop.mutate(_yes=(aided == "是").fill_null(False), _no=(aided == "否").fill_null(False), _stage=stage)
    g = g.group_by(["person_id", "term"]).aggregate(
        oop_stage=g._stage.max(),
        oop_province=g.province.max(),
        oop_yes=g._yes.any(),
        oop_no=g._no.any(),
    )
    return g.select(
        "person_id", "term", "oop_stage", "oop_province",
        oop_aided=ibis.cases((g.oop_yes, "是"), (g.oop_no, "否"), else_=ibis.null("string")),
    )


def facts(ctx: RunContext, terms: Any, enr: Any, oop: Any, paid_pairs: Any) -> Any:
    """Per child and audited term: registry standing, in-province record, out-of-province record."""
    keys = [enr.select("person_id", "term"), paid_pairs.select("person_id", "term")]
    if oop is not None:
        keys.append(oop.select("person_id", "term"))
    cand = keys[0].union(*keys[1:], distinct=True)
    persons = ctx.get("reg_persons")
    # one row per person_id already (persons_base): a plain projection, no group-by
    persons = persons.select(
        "person_id", "name", "category", "recognized_on", "removed_on", "hukou_county", "hukou_township",
        "hukou_village",
    )
    f = cand.inner_join(terms, "term").inner_join(persons, "person_id")
    f = f.left_join(enr, ["person_id", "term"]).select(~ibis.selectors.endswith("_right"))
    if oop is not None:
        f = f.left_join(oop, ["person_id", "term"]).select(~ibis.selectors.endswith("_right"))
    else:
        f = f.mutate(
            oop_stage=ibis.null("string"), oop_province=ibis.null("string"), oop_aided=ibis.null("string")
        )
    registered = (f.recognized_on <= f.term_start) & (f.removed_on.isnull() | (f.removed_on > f.term_start))
    f = f.mutate(registered=registered.fill_null(False))
    lists = listed(ctx, terms)
    if lists is None:
        return f.mutate(list_categories=ibis.null("array<string>"))
    return f.left_join(lists, ["person_id", "term"]).select(~ibis.selectors.endswith("_right"))


def qualified(ctx: RunContext, terms: Any, by_term: Any) -> Any:
    """(person_id, term, programme_code, on_list): the children an other target list qualifies for a
    programme that term (a list valid on the term's first day whose category the programme targets),
    set-based, a join of the lists with the catalog's targets; None without a targets table."""
    lists = _valid_lists(ctx, terms)
    if lists is None:
        return None
    targets = by_term.select("programme_code", "term", category=by_term.target_categories).unnest("category")
    q = lists.inner_join(targets, ["term", "category"])
    return q.select(person_id=q.id_number, term=q.term, programme_code=q.programme_code).distinct().mutate(
        on_list=ibis.literal(True))


def _valid_lists(ctx: RunContext, terms: Any) -> Any:
    """Rows of the targets table valid on an audited term's first day, with that term."""
    if not ctx.has("targets"):
        return None
    t = ctx.get("targets")
    j = t.cross_join(terms.select("term", "term_start"))
    j = j.filter((j.recognized_on <= j.term_start) & (j.removed_on.isnull() | (j.removed_on > j.term_start)))
    return j.select("id_number", "term", "category")


def listed(ctx: RunContext, terms: Any) -> Any:
    """Per child (ID) and audited term: the categories of the other target lists (targets table)
    the child is on that term's first day (recognised on or before it, not removed on or before
    it); None without a targets table."""
    j = _valid_lists(ctx, terms)
    if j is None:
        return None
    return j.group_by(person_id=j.id_number, term=j.term).aggregate(list_categories=j.category.collect())


def ever_listed(ctx: RunContext) -> Any:
    """Per ID on any other target list (whenever): its categories; None without a targets table."""
    if not ctx.has("targets"):
        return None
    t = ctx.get("targets").select(ever_id=ibis._.id_number, category=ibis._.category).distinct()
    return t.group_by("ever_id").aggregate(ever_categories=t.category.collect().sort())


def pairs(facts_t: Any, by_term: Any, paid_pairs: Any) -> Any:
    """(child, term, programme) worth judging: a record of a programme's stage that term, or a payment."""
    by_stage = by_term.select("programme_code", "term", stage=by_term.stages).unnest("stage")
    f = facts_t.select("person_id", "term", "in_stage", "oop_stage")
    stage = f.in_stage.fill_null(f.oop_stage)
    f = f.mutate(_stage=stage).filter(ibis._._stage.notnull())
    j = f.inner_join(by_stage, [f._stage == by_stage.stage, f.term == by_stage.term])
    return j.select("person_id", "term", "programme_code").union(
        paid_pairs.select("person_id", "term", "programme_code"), distinct=True
    )


def judge(pairs_t: Any, facts_t: Any, cat: Any, quals: Any = None) -> Any:
    """Every pair with its verdict: eligible, pending (Z07), the reason when not, who pays.

    `cat` is the catalog (catalog.read): the programme's row in force that term (none: not
    valid) and its span (none: unknown programme)."""
    j = pairs_t.inner_join(facts_t, ["person_id", "term"]).left_join(cat.by_term, ["programme_code", "term"])
    j = j.select(~ibis.selectors.endswith("_right"))
    j = j.left_join(cat.spans, "programme_code").select(~ibis.selectors.endswith("_right"))
    j = j.mutate(programme_name=j.programme_name.fill_null(j.span_name))
    if quals is not None:
        j = j.left_join(quals, ["person_id", "term", "programme_code"]).select(~ibis.selectors.endswith("_right"))
    known = j.first_term.notnull()
    valid = j.boarding_rule.notnull()
    # the registry's category while registered, or any other list the child is on that term
    on_list = j.on_list.fill_null(False) if quals is not None else ibis.literal(False)
    cat_ok = (j.registered & j.target_categories.contains(j.category)).fill_null(False) | on_list
    here = j.in_stage.notnull()
    away = ~here & j.oop_stage.notnull()
    boarding_ok = ibis.cases(
        (j.boarding_rule == "不限", True),
        (j.boarding_rule == "寄宿", j.in_boarding.fill_null(False)),
        (j.boarding_rule == "非寄宿", ~j.in_boarding.fill_null(False)),
        else_=False,
    )
    stage_ok = ibis.cases(
        (here, j.stages.contains(j.in_stage)),
        (away, j.stages.contains(j.oop_stage)),
        else_=False,
    ).fill_null(False)
    place_ok = ibis.cases((here, boarding_ok), (away, j.boarding_rule == "不限"), else_=False)
    household = away | (j.payer_rule == "户籍地")
    paying_county = household.ifelse(j.hukou_county, j.in_county)
    # a local programme (适用地区: province, city or county codes) reaches only the children whose
    # paying county lies in it: the county's own prefix of 2, 4 or 6 digits is one of the codes
    region_ok = ibis.cases((j.region.isnull(), True), else_=(
        j.region.contains(paying_county.substr(0, 2)) | j.region.contains(paying_county.substr(0, 4))
        | j.region.contains(paying_county)
    ).fill_null(False))
    base = valid & cat_ok & stage_ok & place_ok & region_ok
    eligible = base & (here | (away & (j.oop_aided == "否").fill_null(False)))
    pending = base & away & j.oop_aided.isnull()
    # aided in the province where the child is enrolled: a payment at home is the same aid twice
    aided_away = base & away & (j.oop_aided == "是").fill_null(False)
    j = j.mutate(
        aided_away=aided_away,
        valid=valid,
        eligible=eligible,
        pending=pending,
        responsible=ibis.cases((eligible | pending, paying_county)),
        basis=ibis.cases((eligible | pending, household.ifelse("户籍地", "学籍地"))),
        reason=_reason(j, known, valid, cat_ok, on_list, here, away, stage_ok, boarding_ok, region_ok,
                       paying_county),
    )
    # only what claims and totals read: the words only a finding needs (names, places, schools)
    # are joined back for the few flagged claims (`described`); a wide table here was carried
    # through two more joins and materialised twice, for every pair judged
    return j.select(*JUDGED_COLUMNS)


JUDGED_COLUMNS = (
    "person_id", "term", "programme_code", "amount_per_term", "graded", "low_grade", "share_central",
    "share_province", "pay_deadline", "valid", "eligible", "pending", "aided_away", "responsible", "basis",
    "reason",
)
# per child and term (audit_facts) and per programme and term (the catalog): what a finding's words read
FACT_WORDS = ("name", "hukou_township", "hukou_village", "in_stage", "in_school", "in_student_no", "oop_stage",
              "oop_province", "oop_aided")


def described(claims_t: Any, facts_t: Any, cat: Any) -> Any:
    """`claims_t` (a few flagged claims) with the words their findings read: the child's name and
    place, the school record and the out-of-province record (`FACT_WORDS`, from `facts_t`), the
    programme's name and grades (the catalog), one row each: facts hold one row per child and term,
    the catalog one per programme and term."""
    f = facts_t.select("person_id", "term", *FACT_WORDS)
    c = claims_t.left_join(f, ["person_id", "term"]).select(~ibis.selectors.endswith("_right"))
    words = cat.by_term.select("programme_code", "term", "programme_name", "grades_text")
    c = c.left_join(words, ["programme_code", "term"]).select(~ibis.selectors.endswith("_right"))
    c = c.left_join(cat.spans.select("programme_code", "span_name"), "programme_code").select(
        ~ibis.selectors.endswith("_right"))
    return c.mutate(programme_name=c.programme_name.fill_null(c.span_name)).drop("span_name")


def _reason(j: Any, known: Any, valid: Any, cat_ok: Any, on_list: Any, here: Any, away: Any, stage_ok: Any,
            boarding_ok: Any, region_ok: Any, paying_county: Any) -> Any:
    """The first condition a child fails, in words a county clerk understands."""
    d = lambda v: v.cast("string")  # noqa: E731 - dates print as YYYY-MM-DD on every engine
    boarded = j.in_boarding.fill_null(False).ifelse("寄宿", "非寄宿")
    return ibis.cases(
        (~known, ibis.literal("项目代码 ").concat(j.programme_code, " 不在资助项目目录中")),
        (~valid, ibis.literal("项目有效期为 ").concat(
            j.first_term, "至", j.last_term.fill_null("今"), "，", j.term, " 不在有效期内")),
        # a child qualifying through another list is never told about the registry's dates
        (~on_list & (j.recognized_on > j.term_start), ibis.literal("认定日期 ").concat(
            d(j.recognized_on), " 晚于学期首日 ", d(j.term_start), "，当学期尚未纳入建档立卡")),
        (~on_list & ~j.registered, ibis.literal("已于 ").concat(
            d(j.removed_on), " 退出建档立卡，学期首日 ", d(j.term_start), " 已不在册")),
        (~cat_ok, ibis.literal("人员类别“").concat(j.category.fill_null("空"), "”").concat(
            j.list_categories.isnull().ifelse(
                "", ibis.literal("及名单类别“").concat(j.list_categories.join("、"), "”")),
            "不是项目资助对象")),
        (~here & ~away, ibis.literal("当学期无在读学籍")),
        (~region_ok, ibis.literal("地方项目仅适用于 ").concat(
            j.region_text, "，应发放县 ", paying_county, " 不在适用地区")),
        (~stage_ok & here, ibis.literal("学段“").concat(j.in_stage, "”不属于项目适用学段")),
        (~stage_ok & away, ibis.literal("省外学段“").concat(j.oop_stage, "”不属于项目适用学段")),
        (here & ~boarding_ok, ibis.literal("当学期为").concat(boarded, "生，项目要求", j.boarding_rule)),
        (away & (j.boarding_rule != "不限"), ibis.literal("省外就读，无法确认寄宿情况，项目要求")
            .concat(j.boarding_rule)),
        (away & (j.oop_aided == "是"), ibis.literal("省外就读（").concat(
            j.oop_province.fill_null("外省"), "）且已在省外享受资助")),
        else_=ibis.null("string"),
    )
