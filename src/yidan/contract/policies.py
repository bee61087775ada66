"""policies — 资助项目: the aid programmes, shipped as an editable example catalog.

A programme may take several rows: one per 档次 (grade, each with its amount) and one per dated
change (a new standard from a term on: the old row ends the term before). Rows of one programme
share its conditions (学段, 寄宿, 对象, 地区, 发放原则); two rows of one programme and grade may not
cover the same term. The optional columns are the catalog as 资助 offices write it: a region scope
for local programmes, the funding split (for the totals), an approved share and a payment window.
"""

from yidan.contract import codes
from yidan.contract.schema import Column, Kind, Table

POLICIES = Table(
    name="policies",
    label="资助项目",
    description="资助项目目录：学段、寄宿条件、资助对象、标准与有效学期。每一项都是配置。"
    "分档项目每档一行；标准调整时旧行填截止学期、新行从调整学期起。",
    columns=(
        Column("项目代码", "programme_code", Kind.TEXT, True, description="项目代码", example="YW-JS-SHBZ"),
        Column("项目名称", "programme_name", Kind.TEXT, True, description="项目名称"),
        Column("适用学段", "stages", Kind.ENUM_LIST, True, codes.STAGES, "一个或多个学段，以、或,分隔"),
        Column("寄宿要求", "boarding_rule", Kind.ENUM, True, codes.BOARDING_RULES, "寄宿 / 非寄宿 / 不限"),
        Column("资助对象", "target_categories", Kind.ENUM_LIST, True, codes.TARGET_CATEGORIES,
               "人员类别（建档立卡名单或其他资助对象名单的类别），以、或,分隔"),
        Column("每学期标准", "amount_per_term", Kind.AMOUNT, True, description="元/学期（分档项目为该档标准）",
               example="625.00"),
        Column("起始学期", "first_term", Kind.TERM, True, description="如 2019秋", example="2019秋"),
        Column("截止学期", "last_term", Kind.TERM, False, description="为空表示仍有效"),
        Column("发放原则", "payer_rule", Kind.ENUM, False, codes.PAYER_RULES, "学籍地（默认）/ 户籍地"),
        Column("档次", "grade", Kind.TEXT, False,
               description="分档项目的档次名称（如 一档、二档），每档一行；不分档为空", example="一档"),
        Column("适用地区", "region", Kind.TEXT, False,
               description="地方项目的适用范围：省(2位)、市(4位)或县(6位)区划代码，以、分隔；为空表示全省",
               example="430124、430181"),
        Column("中央分担比例", "share_central", Kind.AMOUNT, False,
               description="中央财政分担的百分比（如 80），用于资金分担合计；为空表示不划分", example="80"),
        Column("省级分担比例", "share_province", Kind.AMOUNT, False,
               description="省级财政分担的百分比；市县分担为 100 减去中央与省级", example="10"),
        Column("核定比例", "approved_share", Kind.AMOUNT, False,
               description="按比例资助的项目：受助人数占该县该学段在读学生的最高百分比（如 30）", example="30"),
        Column("发放时限天数", "pay_within_days", Kind.TEXT, False,
               description="自学期首日起多少天内须发放完毕（整数）；超期发放列为线索", example="120"),
    ),
)
