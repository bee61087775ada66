"""enrollment — 学籍: one row per enrollment record, a term's snapshot."""

from yidan.contract import codes
from yidan.contract.schema import Column, Kind, Table

ENROLLMENT = Table(
    name="enrollment",
    label="学籍",
    description="全省中小学、幼儿园学生学籍，每条学籍一行（某学期快照）。",
    columns=(
        Column("全国学籍号", "student_no", Kind.STUDENT_NO, True,
               description="G+身份证号，或无身份证号时 L+临时编号", example="G430124200903150011"),
        Column("身份证号", "id_number", Kind.ID_NUMBER, False,
               description="可为空；G 字头学籍号中的身份证号同样有效"),
        Column("姓名", "name", Kind.TEXT, True, description="姓名"),
        Column("性别", "gender", Kind.ENUM, False, codes.GENDERS, "男/女"),
        Column("出生日期", "birth_date", Kind.DATE, True, description="出生日期", example="2009-03-15",
               past=True),
        Column("学校标识码", "school_code", Kind.SCHOOL_CODE, True, description="10位学校标识码",
               example="2143012401"),
        Column("学校名称", "school_name", Kind.TEXT, False, description="学校名称"),
        Column("学校区划代码", "school_county_code", Kind.COUNTY_CODE, True,
               description="学校所在县的6位区划代码", example="430124"),
        Column("学段", "stage", Kind.ENUM, True, codes.STAGES, "学前 / 小学 / 初中 / 高中 / 中职 / 特教"),
        Column("年级", "grade", Kind.TEXT, False, description="年级"),
        Column("班级", "class_id", Kind.TEXT, False, description="班级；班额用于大班额指标"),
        Column("学籍状态", "enrollment_status", Kind.ENUM, True, codes.ENROLLMENT_STATUSES,
               "在读 / 休学 / 转出 / 毕业 / 辍学 / 死亡"),
        Column("就读方式", "attendance_mode", Kind.ENUM, False, codes.ATTENDANCE_MODES,
               "随班就读 / 特教学校 / 送教上门；为空表示普通就读"),
        Column("是否寄宿", "boarding", Kind.ENUM, False, codes.YES_NO, "是/否"),
        Column("状态变动日期", "status_date", Kind.DATE, False, description="学籍状态变动日期"),
        Column("学期", "term", Kind.TERM, False, description="如 2021春；为空表示本次比对学期", example="2021春"),
    ),
)
