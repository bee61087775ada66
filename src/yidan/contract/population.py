"""population — 人口: people by county, year and single year of age (optional; rate denominators)."""

from yidan.contract import codes
from yidan.contract.schema import Column, Kind, Table

POPULATION = Table(
    name="population",
    label="人口",
    description="分县、分年份、分单岁年龄的人口数；可选，是学前三年毛入园率等指标的分母。",
    columns=(
        Column("区划代码", "county_code", Kind.COUNTY_CODE, True, description="县级6位区划代码",
               example="430124"),
        Column("年份", "year", Kind.YEAR, True, description="统计年份（与学年起始年份对应）", example="2020"),
        Column("单岁年龄", "age", Kind.COUNT, True, description="周岁，如 3、4、5", example="3"),
        Column("口径", "basis", Kind.ENUM, False, codes.POPULATION_KINDS, "户籍 / 常住；为空表示常住"),
        Column("人口数", "people", Kind.COUNT, True, description="人数", example="5230"),
    ),
)
