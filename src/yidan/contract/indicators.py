"""The indicators with targets, declared once: the report form, workbooks, web dashboard and docs read this.

Each `Indicator` states its code, Chinese name, numerator, denominator, the input tables it needs,
its lowest level, its policy source and whether higher is better; its target value and year come
from settings (`RunConfig.indicators.targets`, yidan.toml [indicators.targets]). How each is
computed (SQL run by DuckDB over the run's outputs and its input files) is in
`yidan.reports.indicator_targets`.
"""

from __future__ import annotations

from dataclasses import dataclass

from yidan.settings import IndicatorConfig


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    numerator: str
    denominator: str  # "" for a count
    tables: tuple[str, ...]  # input tables it cannot do without (beyond registry and enrollment)
    uses: str  # where the figures come from, in words (alternatives included)
    level: str  # the lowest level it is computed at: county (rolled up to city and province)
    source: str  # policy source of the indicator and its target
    unit: str = "%"  # % (a share) or 人 / 个 (a count)
    higher_is_better: bool = True

    @property
    def is_rate(self) -> bool:
        return self.unit == "%"


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "consolidation", "九年义务教育巩固率",
        "初中毕业班（九年级）学生数", "该年级入小学一年级时的学生数（死亡者除外）",
        (), "学籍中有该届学生八年前一年级的记录时按学籍逐人追踪（转出省内他县仍计入原县，转入者不计）；"
            "否则用班级表（classes）各年一年级、九年级的在班人数",
        "county", "《中华人民共和国国民经济和社会发展第十四个五年规划和2035年远景目标纲要》（2025年达到96%）",
    ),
    Indicator(
        "preschool_gross_enrolment", "学前三年毛入园率",
        "在园幼儿数（学籍学段为学前、本学期在读）", "3–5 岁人口数（人口表，常住优先，无常住用户籍）",
        ("population",), "学籍 + 人口表（population）",
        "county", "《“十四五”学前教育发展提升行动计划》（2025年达到90%以上）",
    ),
    Indicator(
        "inclusive_kindergarten_coverage", "普惠性幼儿园覆盖率",
        "公办园与普惠性民办园在园幼儿数", "在园幼儿总数",
        ("schools",), "学籍 + 学校（园）名录（schools）的“普惠性”列；名录中没有的园按非普惠计",
        "county", "《“十四五”学前教育发展提升行动计划》（2025年达到85%以上）",
    ),
    Indicator(
        "public_kindergarten_share", "公办园在园幼儿占比",
        "公办园在园幼儿数", "在园幼儿总数",
        ("schools",), "学籍 + 学校（园）名录（schools）的“普惠性”（或“办别”）列",
        "county", "《“十四五”学前教育发展提升行动计划》（2025年达到50%以上）",
    ),
    Indicator(
        "large_class_rate", "义务教育大班额比例",
        "56–65 人的小学、初中班级数", "小学、初中班级数",
        (), "班级表（classes）本学年的在班人数；没有时由学籍按学校、年级、班级推算",
        "county", "《国务院关于统筹推进县域内城乡义务教育一体化改革发展的若干意见》（国发〔2016〕40号，2020年基本消除）",
        higher_is_better=False,
    ),
    Indicator(
        "very_large_class_rate", "义务教育超大班额比例",
        "66 人及以上的小学、初中班级数", "小学、初中班级数",
        (), "班级表（classes）本学年的在班人数；没有时由学籍按学校、年级、班级推算",
        "county", "《国务院关于统筹推进县域内城乡义务教育一体化改革发展的若干意见》（国发〔2016〕40号，2018年基本消除）",
        higher_is_better=False,
    ),
    Indicator(
        "kindergarten_oversize_rate", "幼儿园超标准班额比例",
        "超过标准班额的幼儿园班级数（小班25、中班30、大班35人，可配置）", "幼儿园班级数",
        (), "班级表（classes）本学年的在班人数；没有时由学籍推算",
        "county", "《幼儿园工作规程》（教育部令第39号）", higher_is_better=False,
    ),
    Indicator(
        "registered_in_school_rate", "建档立卡学生义务教育在校率",
        "义务教育年龄建档立卡儿童中在校（含送教上门、省外就读）人数",
        "义务教育年龄建档立卡儿童数（死亡、出国（境）、已完成义务教育、因残因病免缓学者除外）",
        (), "比对结果（persons）", "county",
        "《国务院办公厅关于进一步加强控辍保学提高义务教育巩固水平的通知》（国办发〔2017〕72号）",
    ),
    Indicator(
        "unlifted_out_of_school", "未脱贫家庭义务教育年龄未在校儿童",
        "脱贫状态为未脱贫、义务教育年龄、不在校的儿童数（死亡、出国（境）、已完成义务教育、免缓学者除外）", "",
        (), "比对结果（persons）", "county", "控辍保学“动态清零”", unit="人", higher_is_better=False,
    ),
    Indicator(
        "home_teaching_coverage", "送教上门覆盖率",
        "送教上门的义务教育年龄残疾儿童数",
        "未在学校就读的义务教育年龄残疾儿童数（送教上门、辍学、未匹配学籍等；死亡、出国（境）、已完成者除外）",
        (), "比对结果（persons）的残疾类别与就学状态", "county", "《“十四五”特殊教育发展提升行动计划》",
    ),
    Indicator(
        "special_school_county_coverage", "特殊教育学校县域覆盖率",
        "有在办特殊教育学校的县数", "县数（建档立卡户籍县与名录中的县）",
        ("schools",), "学校（园）名录（schools）的“特殊教育学校”列或学段为特教", "county",
        "《“十四五”特殊教育发展提升行动计划》",
    ),
)
BY_CODE: dict[str, Indicator] = {i.code: i for i in INDICATORS}
TABLE_LABELS = {"schools": "学校（园）名录（schools）", "classes": "班级表（classes）", "population": "人口表（population）"}


def target_of(code: str, config: IndicatorConfig | None = None) -> tuple[float, int]:
    """(target value, target year) from settings."""
    t = getattr((config or IndicatorConfig()).targets, code)
    return float(t.value), int(t.year)


def availability(tables_given: set[str] | list[str]) -> dict[str, str | None]:
    """Per indicator: None when every table it needs was given, else why it cannot be computed (Chinese)."""
    given = set(tables_given)
    out: dict[str, str | None] = {}
    for ind in INDICATORS:
        missing = [t for t in ind.tables if t not in given]
        out[ind.code] = ("缺少输入表：" + "、".join(TABLE_LABELS.get(t, t) for t in missing)) if missing else None
    return out


def gap(ind: Indicator, value: float | None, target: float) -> float | None:
    """How far from the target, positive while short of it (so a table sorted by gap puts the furthest first)."""
    if value is None:
        return None
    return target - value if ind.higher_is_better else value - target
