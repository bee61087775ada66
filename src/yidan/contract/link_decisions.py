"""link_decisions — 匹配复核结论: reviewers' decisions on candidate pairs.

Written by the web application (K05 review) or given with `yidan run --link-decisions`;
an input of every run that overrides the linkage model, so nobody reviews a pair twice.
"""

from yidan.contract.schema import Column, Kind, Table

DECISIONS: tuple[str, ...] = ("确认同一人", "不是同一人")

LINK_DECISIONS = Table(
    name="link_decisions",
    label="匹配复核结论",
    description="人工复核疑似匹配（K05）的结论：确认同一人或不是同一人。",
    columns=(
        Column("身份证号", "person_id", Kind.ID_NUMBER, True, description="建档立卡人员身份证号（比对结果中的 person_id）"),
        Column("全国学籍号", "student_no", Kind.STUDENT_NO, True, description="候选学籍的全国学籍号"),
        Column("复核结论", "decision", Kind.ENUM, True, DECISIONS, "确认同一人 / 不是同一人"),
        Column("复核人", "decided_by", Kind.TEXT, False, description="复核人"),
        Column("复核日期", "decided_on", Kind.DATE, False, description="复核日期", past=True),
    ),
)
