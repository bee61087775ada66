"""policies — 资助项目: the aid programmes, shipped as an editable example catalog."""

from yidan.contract import codes
from yidan.contract.schema import Column, Kind, Table

POLICIES = Table(
    name="policies",
    label="资助项目",
    description="资助项目目录：学段、寄宿条件、资助对象、标准与有效学期。每一项都是配置。",
    columns=(
        Column("项目代码", "programme_code", Kind.TEXT, True, description="项目代码", example="YW-JS-SHBZ"),
        Column("项目名称", "programme_name", Kind.TEXT, True, description="项目名称"),
        Column("适用学段", "stages", Kind.ENUM_LIST, True, codes.STAGES, "一个或多个学段，以、或,分隔"),
        Column("寄宿要求", "boarding_rule", Kind.ENUM, True, codes.BOARDING_RULES, "寄宿 / 非寄宿 / 不限"),
        Column("资助对象", "target_categories", Kind.ENUM_LIST, True, codes.CATEGORIES,
               "人员类别，以、或,分隔"),
        Column("每学期标准", "amount_per_term", Kind.AMOUNT, True, description="元/学期", example="625.00"),
        Column("起始学期", "first_term", Kind.TERM, True, description="如 2019秋", example="2019秋"),
        Column("截止学期", "last_term", Kind.TERM, False, description="为空表示仍有效"),
        Column("发放原则", "payer_rule", Kind.ENUM, False, codes.PAYER_RULES, "学籍地（默认）/ 户籍地"),
    ),
)
