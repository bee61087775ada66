"""The injected cases: which children get which story, at recorded rates.

Each registry child of school age gets at most one case (one story, one fault), so the ground
truth for them is exact. A case names the pool it is drawn from (e.g. compulsory-age day pupils,
who are entitled to no aid, for the schooling stories, so no aid question muddies them), its rate
within that pool, the true status it produces and the schooling findings it raises. Aid cases
raise their Z findings from the payments written for them (see generate.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Case:
    tag: str
    pool: str
    rate: float
    status: str | None  # true status in the run term; None = from the schooling plan
    codes: tuple[str, ...]  # schooling/quality findings in the run term
    label: str  # Chinese, for generated.json and the reader of the truth


CASES: tuple[Case, ...] = (
    Case("normal", "", 0.0, None, (), "正常"),
    # schooling stories
    Case("dropout", "plain", 0.003, "DROPPED_OUT", ("K02",), "2021春学籍状态为辍学"),
    Case("suspended", "plain", 0.002, "SUSPENDED", (), "2021春学籍状态为休学"),
    Case("deceased", "plain", 0.0005, "DECEASED", (), "2021春学籍状态为死亡"),
    Case("verified_deceased", "plain", 0.0005, "DECEASED", (), "无学籍，核实为死亡"),
    Case("verified_abroad", "plain", 0.0005, "ABROAD", (), "无学籍，核实为出国"),
    Case("transfer_pending", "plain", 0.002, "TRANSFER_PENDING", ("K03",), "转出后无后续学籍"),
    Case("transfer_completed", "plain", 0.002, "IN_SCHOOL", (), "2020秋转出，2021春在新学校在读"),
    Case("primary_graduate", "age12", 0.01, "NOT_PROGRESSED", ("K09",), "小学毕业后无学籍（义务教育年龄）"),
    Case("junior_graduate", "age15", 0.01, "COMPLETED", (), "初中毕业，已完成义务教育"),
    Case("home_teaching", "plain", 0.002, "HOME_TEACHING", (), "送教上门"),
    Case("out_of_province", "plain", 0.005, "OUT_OF_PROVINCE", (), "省外学籍（省外已资助：是）"),
    Case("oop_hs_aided", "hs", 0.004, "OUT_OF_PROVINCE", (), "高中省外就读，省外已资助"),
    Case("oop_hs_not_aided", "hs", 0.004, "OUT_OF_PROVINCE", (), "高中省外就读，核实省外未资助，由户籍地兜底发放"),
    Case("oop_hs_unverified", "hs", 0.004, "OUT_OF_PROVINCE", (), "高中省外就读，未核实省外是否资助（Z07）"),
    Case("verified_lost", "plain", 0.001, "DROPPED_OUT", ("K02",), "无学籍，核实为失联"),
    Case("verified_disabled", "plain", 0.001, "EXEMPT", (), "无学籍，核实为因残免学"),
    Case("verified_oop_listed", "plain", 0.001, "OUT_OF_PROVINCE", (), "核实为省外就读，且有省外学籍"),
    Case("verified_oop_unlisted", "plain", 0.001, "OUT_OF_PROVINCE", ("K04",), "核实为省外就读，省外学籍中无此人"),
    Case("verified_returned", "plain", 0.001, "UNMATCHED", ("K01",), "核实为已劝返复学，但无学籍"),
    Case("verified_lost_enrolled", "plain", 0.001, "IN_SCHOOL", (), "核实为失联，但有在读学籍（以学籍为准）"),
    Case("no_enrollment", "plain", 0.002, "UNMATCHED", ("K01",), "无任何学籍与核实"),
    Case("double_enrollment", "plain", 0.001, "IN_SCHOOL", ("K07",), "两条在读学籍（G号与L号同一身份证号）"),
    Case("mismatch_name", "plain", 0.001, "IN_SCHOOL", ("K08",), "身份证号一致，学籍姓名不同"),
    Case("mismatch_gender", "plain", 0.001, "IN_SCHOOL", ("K08",), "身份证号一致，学籍性别不同"),
    Case("mismatch_birth", "plain", 0.001, "IN_SCHOOL", ("K08",), "身份证号一致，学籍出生日期差一天或一月"),
    Case("invalid_registry_id", "plain", 0.0005, "UNMATCHED", ("K01", "K06"), "建档立卡身份证号录错一位，且无学籍"),
    Case("same_name_stranger", "plain", 0.001, "UNMATCHED", ("K01",),
         "无学籍；另有同名同生日同性别同县的非建档立卡学生（易误配）"),
    # identity faults of children who are in school (they must still be linked): drawn from every
    # enrolled child of school age (3–18, pre-school to upper secondary, boarders too), so linkage
    # is measured where it is hard, not only on compulsory-age day pupils. Faults whose pair may
    # end in review (no ID and a shifted birth date) are drawn from the children entitled to no aid:
    # the aid audit questions a payment to a child without an accepted link (Z04)
    Case("enrollment_id_typo", "ident", 0.003, "IN_SCHOOL", (), "学籍身份证号错一位"),
    Case("enrollment_id_transposition", "ident", 0.002, "IN_SCHOOL", (), "学籍身份证号相邻两位颠倒"),
    Case("registry_id_typo", "ident", 0.002, "IN_SCHOOL", (), "建档立卡身份证号错一位"),
    Case("registry_id_transposition", "ident", 0.001, "IN_SCHOOL", (), "建档立卡身份证号相邻两位颠倒"),
    Case("enrollment_missing_id", "ident", 0.005, "IN_SCHOOL", (), "学籍无身份证号（L号）"),
    Case("enrollment_missing_id_homophone", "ident", 0.002, "IN_SCHOOL", (), "学籍无身份证号，名字有同音字"),
    Case("enrollment_missing_id_birth_shift", "ident_noaid", 0.002, "IN_SCHOOL", (),
         "学籍无身份证号，出生日期差一天或一月"),
    # in school in the neighbouring county, no ID, birth date a few days off: no blocking rule on the
    # county or the exact birth date meets the pair, and the model's score lies near the thresholds
    # (children entitled to no aid: such a pair may end in review)
    Case("enrollment_missing_id_away", "ident_noaid", 0.004, "IN_SCHOOL", (),
         "学籍无身份证号，出生日期差几天，在邻县就读"),
    # the same with a homophone in the name: too little evidence for a link, a pair for a reviewer
    # (its true status stays IN_SCHOOL; the run says REVIEW until a reviewer confirms it)
    Case("enrollment_missing_id_away_homophone", "ident_noaid", 0.001, "IN_SCHOOL", (),
         "学籍无身份证号，名字有同音字，出生日期差几天，在邻县就读（应进入人工复核）"),
    # the registry's own record contradicts itself (K08): its birth date against a valid ID, or a
    # 15-digit ID whose converted century (19xx) against the birth date (20xx); the child is still
    # in school and must be linked and counted at the age the trustworthy date gives
    Case("registry_birth_typo", "compulsory", 0.002, "IN_SCHOOL", ("K08",),
         "建档立卡出生日期录错一位（年份错十年），身份证号正确"),
    Case("registry_legacy_15_child", "compulsory", 0.002, "IN_SCHOOL", ("K08",),
         "建档立卡身份证号写成15位旧号（转换后出生于19xx年，与出生日期矛盾）"),
    # aid stories (status from the plan: in school)
    Case("aid_missed_2021", "aid_any", 0.003, None, (), "2021春漏发（Z01）"),
    Case("aid_missed_2020", "aid_any", 0.002, None, (), "2020秋漏发（Z01）"),
    Case("aid_duplicate", "aid_any", 0.002, None, (), "2021春重复发放（Z02）"),
    Case("aid_wrong_county", "aid_any", 0.002, None, (), "2021春由非学籍地县发放（Z03）"),
    Case("aid_wrong_amount", "aid_any", 0.002, None, (), "2021春金额不符（Z06）"),
    Case("aid_split", "aid_any", 0.002, None, (), "2021春分两笔发放，合计等于标准（无问题）"),
    Case("aid_not_boarding", "primary_day", 0.001, None, (), "非寄宿生领取寄宿生生活补助（Z04）"),
    Case("aid_category_not_targeted", "preschool", 0.005, None, (), "边缘易致贫幼儿领取幼儿资助（Z04）"),
    Case("aid_recognized_late", "aid_any", 0.001, None, (), "2021-03-01才认定，2021春已发放（Z04）"),
    Case("aid_removed", "aid_any", 0.001, None, (), "2020-12-15清退，2021春仍发放（Z04）"),
    Case("aid_expired", "hs_jdlk", 0.01, None, (), "已取消的地方项目2021春仍发放（Z05）"),
    Case("aid_recognized_midterm", "aid_any", 0.001, None, (), "2020-10-15认定：2020秋不发，2021春发放（无问题）"),
    Case("aid_removed_midterm", "aid_any", 0.001, None, (), "2020-12-15清退：2021春不再发放（无问题）"),
    Case("aid_late", "hs_jdlk", 0.004, None, (), "2021春超过发放时限才发放（Z08）"),
    Case("oop_hs_aided_paid_home", "hs", 0.002, "OUT_OF_PROVINCE", (), "高中省外就读且省外已资助，户籍县又发放（Z02）"),
)
CASE_INDEX = {c.tag: i for i, c in enumerate(CASES)}
NO_ENROLLMENT = frozenset({
    "out_of_province", "oop_hs_aided", "oop_hs_aided_paid_home", "oop_hs_not_aided", "oop_hs_unverified", "verified_lost",
    "verified_disabled", "verified_oop_listed", "verified_oop_unlisted", "verified_returned",
    "no_enrollment", "invalid_registry_id", "verified_deceased", "verified_abroad", "same_name_stranger", "primary_graduate", "junior_graduate",
})

# faults outside the per-child cases, with their rates
LEGACY_15_RATE = 0.02  # of adults born before 2000: registry ID in the old 15-digit form
EXCEL_MANGLED_RATE = 0.0001  # of adults: ID shown as 4.30124E+17 (rejected)
LOWERCASE_X_RATE = 0.3  # of registry IDs ending in X: written with a lower-case x (not a fault)


def case_count(rate: float, pool_size: int, minimum: int) -> int:
    return min(pool_size, max(minimum, int(round(rate * pool_size))))


def assign_cases(rng: np.random.Generator, pools: dict[str, np.ndarray], minimum: int) -> np.ndarray:
    """Case index per registry row (0 = normal); each child gets at most one case.

    Cases are drawn in CASES order from their pool minus the children already taken; the count
    is the rate times the pool's size, at least `minimum` (so the tiny preset has every case).
    """
    n = len(next(iter(pools.values())))
    case = np.zeros(n, dtype=np.int16)
    for i, c in enumerate(CASES):
        if not c.pool:
            continue
        pool = pools[c.pool]
        free = np.flatnonzero(pool & (case == 0))
        k = min(len(free), case_count(c.rate, int(pool.sum()), minimum))
        case[rng.choice(free, size=k, replace=False)] = i
    return case


def pick(rng: np.random.Generator, mask: np.ndarray, rate: float, minimum: int) -> np.ndarray:
    """Indices of rows to damage outside the per-child cases (adults' IDs)."""
    free = np.flatnonzero(mask)
    return np.sort(rng.choice(free, size=case_count(rate, len(free), minimum), replace=False))
