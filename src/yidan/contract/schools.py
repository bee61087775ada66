"""schools — 学校（园）: one row per school or kindergarten (optional; the indicators' denominators)."""

from yidan.contract import codes
from yidan.contract.schema import Column, Kind, Table

SCHOOLS = Table(
    name="schools",
    label="学校（园）",
    description="学校与幼儿园名录，每校（园）一行；可选，用于普惠性幼儿园覆盖率、公办园占比、特殊教育学校覆盖等指标。",
    columns=(
        Column("学校标识码", "school_code", Kind.SCHOOL_CODE, True, description="10位学校（园）标识码",
               example="2143012401"),
        Column("学校名称", "school_name", Kind.TEXT, True, description="学校（园）名称"),
        Column("学校区划代码", "county_code", Kind.COUNTY_CODE, True, description="学校所在县的6位区划代码",
               example="430124"),
        Column("学段", "stage", Kind.ENUM, True, codes.STAGES, "学前 / 小学 / 初中 / 高中 / 中职 / 特教（以主要学段为准）"),
        Column("办别", "ownership", Kind.ENUM, False, codes.SCHOOL_OWNERSHIP, "公办 / 民办"),
        Column("普惠性", "kindergarten_type", Kind.ENUM, False, codes.KINDERGARTEN_TYPES,
               "幼儿园填写：公办 / 普惠性民办 / 非普惠"),
        Column("寄宿制", "boarding", Kind.ENUM, False, codes.YES_NO, "是/否"),
        Column("小规模学校", "small", Kind.ENUM, False, codes.YES_NO, "是/否（不足100人的乡村小规模学校）"),
        Column("特殊教育学校", "special", Kind.ENUM, False, codes.YES_NO, "是/否"),
        Column("办学状态", "state", Kind.ENUM, False, codes.SCHOOL_STATES, "在办 / 撤并；为空表示在办"),
        Column("撤并日期", "closed_on", Kind.DATE, False, description="办学状态为撤并时填写", example="2019-08-31",
               past=True),
    ),
)
