"""out_of_province — 省外学籍: results of the national cross-province check."""

from yidan.contract import codes
from yidan.contract.schema import Column, Kind, Table

OUT_OF_PROVINCE = Table(
    name="out_of_province",
    label="省外学籍",
    description="全国学籍系统跨省比对结果：在外省就读的本省建档立卡学生。",
    columns=(
        Column("身份证号", "id_number", Kind.ID_NUMBER, True, description="18位居民身份证号"),
        Column("姓名", "name", Kind.TEXT, True, description="姓名"),
        Column("就读省份", "province", Kind.TEXT, True, description="就读省份名称", example="广东省"),
        Column("学校名称", "school_name", Kind.TEXT, False, description="学校名称"),
        Column("学段", "stage", Kind.ENUM, False, codes.STAGES, "学段"),
        Column("学籍状态", "enrollment_status", Kind.ENUM, False, codes.ENROLLMENT_STATUSES, "学籍状态"),
        Column("省外是否享受资助", "aided_there", Kind.ENUM, False, codes.YES_NO,
               "是 / 否 / 为空表示未核实"),
        Column("学期", "term", Kind.TERM, False, description="如 2021春", example="2021春"),
    ),
)
