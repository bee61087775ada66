"""Codes the system speaks: statuses, finding codes, conclusions and coded values.

The labels are part of the data contract (../CONTRACT.md); change one only with a
changelog entry and a migration path.
"""

from __future__ import annotations

from dataclasses import dataclass

from yidan.contract.aid_needs import AID_CONCLUSION_NEEDS  # noqa: F401 - re-exported: what each aid conclusion needs

STAGES: tuple[str, ...] = ("学前", "小学", "初中", "高中", "中职", "特教")
ENROLLMENT_STATUSES: tuple[str, ...] = ("在读", "休学", "转出", "毕业", "辍学", "死亡")
ATTENDANCE_MODES: tuple[str, ...] = ("随班就读", "特教学校", "送教上门")
CATEGORIES: tuple[str, ...] = ("建档立卡", "边缘易致贫", "农村低保", "特困供养")
# the other target lists (targets table: 民政, 残联 …); a programme may name any of these or CATEGORIES
TARGET_LIST_CATEGORIES: tuple[str, ...] = ("城镇低保", "农村低保", "特困供养", "孤儿", "事实无人抚养", "残疾", "边缘易致贫")
TARGET_CATEGORIES: tuple[str, ...] = (*CATEGORIES, *(c for c in TARGET_LIST_CATEGORIES if c not in CATEGORIES))
POVERTY_STATUSES: tuple[str, ...] = ("未脱贫", "已脱贫", "返贫")
GENDERS: tuple[str, ...] = ("男", "女")
YES_NO: tuple[str, ...] = ("是", "否")
BOARDING_RULES: tuple[str, ...] = ("寄宿", "非寄宿", "不限")
PAYER_RULES: tuple[str, ...] = ("学籍地", "户籍地")
# schools, classes, population (the optional inputs of the indicators)
SCHOOL_OWNERSHIP: tuple[str, ...] = ("公办", "民办")
KINDERGARTEN_TYPES: tuple[str, ...] = ("公办", "普惠性民办", "非普惠")
SCHOOL_STATES: tuple[str, ...] = ("在办", "撤并")
POPULATION_KINDS: tuple[str, ...] = ("户籍", "常住")
RELATIONS: tuple[str, ...] = (
    "户主", "配偶", "子", "女", "孙子", "孙女", "外孙子", "外孙女", "儿媳", "女婿",
    "父亲", "母亲", "兄弟姐妹", "侄子", "侄女", "其他",
)
CONCLUSIONS: tuple[str, ...] = (
    "省外就读", "因残免学", "因病缓学", "延缓入学", "送教上门", "已劝返复学",
    "出国", "超龄", "死亡", "失联", "信息错误", "其他",
)

# persons.status: code -> label (order = the order reports list them in)
STATUSES: dict[str, str] = {
    "IN_SCHOOL": "在校",
    "HOME_TEACHING": "送教上门",
    "SUSPENDED": "休学",
    "DROPPED_OUT": "辍学",
    "TRANSFER_PENDING": "学籍接转中",
    "OUT_OF_PROVINCE": "省外就读",
    "COMPLETED": "已完成义务教育",
    "EXEMPT": "因残因病免缓学",
    "NOT_PROGRESSED": "小学毕业未升学",
    "ABROAD": "出国(境)",
    "DECEASED": "死亡",
    "REVIEW": "疑似匹配待确认",
    "UNMATCHED": "学籍未匹配",
    # outside compulsory age a child without any enrollment is not "unmatched" but out of school:
    # shown so in every output (persons, summary, cover); K01 counts compulsory-age children only
    "NOT_IN_KINDERGARTEN": "未入园",
    "NOT_IN_SCHOOL": "非义务教育阶段未在校",
}

MATCH_METHODS: tuple[str, ...] = ("id", "id_repaired", "linkage", "none")


@dataclass(frozen=True)
class FindingCode:
    code: str
    label: str
    family: str  # "schooling" | "aid" | "quality"
    when: str


FINDING_CODES: dict[str, FindingCode] = {
    f.code: f
    for f in (
        FindingCode("K01", "学籍未匹配", "schooling", "义务教育阶段儿童无学籍、无省外学籍、无核实结论"),
        FindingCode("K02", "辍学", "schooling", "学籍状态为辍学，或核实为失联"),
        FindingCode("K03", "学籍接转未完成", "schooling", "最新学籍为转出，且无后续在读学籍"),
        FindingCode("K04", "省外就读待核实", "schooling", "核实为省外就读，但省外学籍中无此人"),
        FindingCode("K05", "疑似匹配待确认", "schooling", "最佳候选匹配落在人工复核区间"),
        FindingCode("K06", "身份证号无效", "quality", "建档立卡身份证号校验不通过且无可信匹配"),
        FindingCode("K07", "一人多籍", "schooling", "同一人有两条及以上在读学籍"),
        FindingCode("K08", "信息不一致", "quality", "按身份证号匹配，但姓名、性别或出生日期不一致"),
        FindingCode("K09", "小学毕业未升学", "schooling", "义务教育阶段小学毕业且无后续学籍"),
        FindingCode("Z01", "漏助", "aid", "当学期符合资助条件，但无人发放"),
        FindingCode("Z02", "重复资助", "aid", "同一项目同一学期发放超过一次，或省外已资助又在本省发放"),
        FindingCode("Z03", "非学籍地发放", "aid", "发放一次，但发放地不是应发放的县"),
        FindingCode("Z04", "不符合资助条件", "aid", "已发放，但当学期不符合资助条件"),
        FindingCode("Z05", "项目已失效仍发放", "aid", "项目当学期已失效仍发放"),
        FindingCode("Z06", "金额不符", "aid", "发放金额与标准不符"),
        FindingCode("Z07", "省外就读兜底待核实", "aid", "符合条件、省外就读、未核实省外是否已享受资助"),
        FindingCode("Z08", "逾期发放", "aid", "项目设有发放时限，最后一笔发放晚于学期首日加时限天数"),
        FindingCode("Z09", "受助人不在任何资助对象名单", "aid",
                    "已发放，但受助人既不在建档立卡名单，也不在其他资助对象名单中"),
        FindingCode("Z10", "非应发放县应追回", "aid",
                    "重复资助或非学籍地发放中，由非应发放县发出的金额：该县追回（与应发放县的线索关联）"),
    )
}

FAMILY_LABELS: dict[str, str] = {"schooling": "控辍保学", "aid": "学生资助", "quality": "数据质量"}


def status_label(code: str) -> str:
    return STATUSES[code]


def finding_label(code: str) -> str:
    return FINDING_CODES[code].label


# --- working a case (web application, county workbooks) ----------------------------------------------
# A case is one finding under work. What a county may conclude, which actions apply and what closing
# needs depend on the finding code; these declarations are read by the case actions (API and pages),
# the case page's forms and the workbooks' drop-down lists, so the rules live here once.

SCHOOL_CONCLUSIONS: tuple[str, ...] = (*CONCLUSIONS[:-1], "确系辍学", CONCLUSIONS[-1])
QUALITY_CONCLUSIONS: tuple[str, ...] = ("信息错误", "已更正", "核实无误", "其他")
# aid: what a 资助 office concludes depends on the code: a 漏助 is closed by a 补发, money paid wrongly
# by a 追回, either may stand on a policy ground or be a data error (contract/aid_needs.py: what each
# conclusion must record)
AID_PAID: tuple[str, ...] = ("已补发", "情况属实无需处理", "数据错误", "其他")  # Z01
AID_RECOVERED: tuple[str, ...] = ("已追回", "情况属实无需处理", "数据错误", "其他")  # Z02–Z06, Z09, Z10
AID_AWAY: tuple[str, ...] = ("省外已资助", "已补发", "数据错误", "其他")  # Z07 (兜底)
AID_LATE: tuple[str, ...] = ("情况属实无需处理", "数据错误", "其他")  # Z08
AID_CONCLUSIONS: tuple[str, ...] = tuple(dict.fromkeys((*AID_PAID, *AID_RECOVERED, *AID_AWAY, *AID_LATE)))

# case actions (the names the web application routes them by)
VERIFY, TEAM, VISIT, RETURNED = "verification", "team", "visit", "returned"
CLOSURE_REQUEST, CLOSURE_CONFIRM, LINK_DECISION = "closure-request", "closure-confirm", "link-decision"
AID_PAYMENT, AID_RECOVERY = "aid-payment", "aid-recovery"  # record a 补发 / a 追回 on an aid case (store/aid_casework.py)
_CLOSING = (CLOSURE_REQUEST, CLOSURE_CONFIRM)
_PERSUASION = (VERIFY, TEAM, VISIT, RETURNED, *_CLOSING)  # a child out of school: 三帮一, visits, 劝返


@dataclass(frozen=True)
class CaseRule:
    """How a case of one finding code is worked and closed."""

    code: str
    conclusions: tuple[str, ...]  # allowed 核实结论
    actions: tuple[str, ...]  # which case actions apply (forms shown, API calls accepted)
    close_needs_conclusion: bool  # a recorded 核实结论 (or, for K05, a 复核结论) before closing
    close_needs_note: bool  # a 说明 with the closing request
    city_confirms: bool  # closing needs the city's confirmation (by someone other than the requester); aid
    # codes: only above supervision.city_confirm_amount (store/aid_casework.py)


def _rule(code: str, conclusions: tuple[str, ...], actions: tuple[str, ...], *, note: bool = False,
          city: bool = False) -> CaseRule:
    return CaseRule(code, conclusions, actions, close_needs_conclusion=True, close_needs_note=note, city_confirms=city)


CASE_RULES: dict[str, CaseRule] = {
    r.code: r
    for r in (
        _rule("K01", SCHOOL_CONCLUSIONS, _PERSUASION, city=True),
        _rule("K02", SCHOOL_CONCLUSIONS, _PERSUASION, city=True),
        _rule("K03", SCHOOL_CONCLUSIONS, _PERSUASION),
        _rule("K04", SCHOOL_CONCLUSIONS, (VERIFY, VISIT, *_CLOSING)),
        _rule("K05", SCHOOL_CONCLUSIONS, (LINK_DECISION, VERIFY, VISIT, *_CLOSING)),
        _rule("K06", QUALITY_CONCLUSIONS, (VERIFY, *_CLOSING)),
        _rule("K07", (*QUALITY_CONCLUSIONS[:-1], "已注销重复学籍", "其他"), (VERIFY, *_CLOSING)),
        _rule("K08", QUALITY_CONCLUSIONS, (VERIFY, *_CLOSING)),
        _rule("K09", SCHOOL_CONCLUSIONS, _PERSUASION),
        _rule("Z01", AID_PAID, (VERIFY, VISIT, AID_PAYMENT, *_CLOSING), note=True),
        _rule("Z02", AID_RECOVERED, (VERIFY, AID_RECOVERY, *_CLOSING), note=True),
        # Z03: the money is recovered by the county that paid, on its own Z10 (linked by child, term, programme)
        _rule("Z03", AID_RECOVERED, (VERIFY, *_CLOSING), note=True),
        _rule("Z04", AID_RECOVERED, (VERIFY, AID_RECOVERY, *_CLOSING), note=True),
        _rule("Z05", AID_RECOVERED, (VERIFY, AID_RECOVERY, *_CLOSING), note=True),
        _rule("Z06", (*AID_PAID[:1], *AID_RECOVERED), (VERIFY, AID_PAYMENT, AID_RECOVERY, *_CLOSING),
              note=True),  # 少发补发、多发追回
        _rule("Z07", AID_AWAY, (VERIFY, VISIT, AID_PAYMENT, *_CLOSING), note=True),
        _rule("Z08", AID_LATE, (VERIFY, *_CLOSING), note=True),
        _rule("Z09", AID_RECOVERED, (VERIFY, AID_RECOVERY, *_CLOSING), note=True),
        _rule("Z10", AID_RECOVERED, (VERIFY, AID_RECOVERY, *_CLOSING), note=True),
    )
}


def case_rule(code: str) -> CaseRule:
    """The rule of a finding code; an unknown code gets the strictest one (conclusion, note, city)."""
    return CASE_RULES.get(code) or CaseRule(code, CONCLUSIONS, (VERIFY, VISIT, *_CLOSING), True, True, True)


def conclusions_for(code: str) -> tuple[str, ...]:
    """The 核实结论 a county may record for a finding code (the workbook's drop-down list)."""
    return case_rule(code).conclusions
