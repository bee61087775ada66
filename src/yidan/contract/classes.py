"""classes — 班级: pupils per class and school year (optional; class sizes and 巩固率 cohorts)."""

from yidan.contract.schema import Column, Kind, Table

CLASSES = Table(
    name="classes",
    label="班级",
    description="各校各学年的班级与在班人数，每班一行；可选。没有时班额由学籍推算；历年一年级人数用于巩固率。",
    columns=(
        Column("学校标识码", "school_code", Kind.SCHOOL_CODE, True, description="10位学校（园）标识码",
               example="2143012401"),
        Column("学年", "school_year", Kind.YEAR, True, description="学年的起始年份，如 2020 表示 2020-2021学年",
               example="2020"),
        Column("年级", "grade", Kind.TEXT, True, description="如 一年级、七年级、小班", example="一年级"),
        Column("班级", "class_id", Kind.TEXT, True, description="班级名称或编号", example="一年级1班"),
        Column("在班人数", "pupils", Kind.COUNT, True, description="该班学生（幼儿）数", example="45"),
    ),
)
