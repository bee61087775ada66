"""registry — 建档立卡人口: one row per person of the poverty registry."""

from yidan.contract import codes
from yidan.contract.schema import Column, Kind, Table

REGISTRY = Table(
    name="registry",
    label="建档立卡人口",
    description="扶贫部门的建档立卡人口数据，每人一行，以身份证号为键。",
    columns=(
        Column("身份证号", "id_number", Kind.ID_NUMBER, True,
               description="18位居民身份证号（15位旧号自动转换）；校验不通过的保留并标记，不丢弃",
               example="430124200903150011"),
        Column("姓名", "name", Kind.TEXT, True, description="姓名"),
        Column("性别", "gender", Kind.ENUM, False, codes.GENDERS, "男/女；为空时由身份证号推出"),
        Column("出生日期", "birth_date", Kind.DATE, False,
               description="为空时由身份证号推出；与身份证号不一致记为数据质量问题（年龄按身份证号计算）",
               example="2009-03-15", past=True, id_supersedes=True),
        Column("户编号", "household_id", Kind.TEXT, False, description="建档立卡户编号"),
        Column("与户主关系", "relation", Kind.TEXT, False, description="户主、子、女、孙子……"),
        Column("户主姓名", "head_name", Kind.TEXT, False, description="户主姓名，是儿童匹配的重要依据"),
        Column("户籍地区划代码", "hukou_code", Kind.DIVISION_CODE, True,
               description="6至12位：前6位为县，9位为乡镇，12位为村", example="430124101201"),
        Column("乡镇名称", "township_name", Kind.TEXT, False, description="户籍乡镇名称（可选；清单中显示名称而非代码）",
               example="灵溪镇"),
        Column("村名称", "village_name", Kind.TEXT, False, description="户籍村（社区）名称（可选）", example="司城村"),
        Column("人员类别", "category", Kind.ENUM, True, codes.CATEGORIES,
               "建档立卡 / 边缘易致贫 / 农村低保 / 特困供养"),
        Column("脱贫状态", "poverty_status", Kind.ENUM, False, codes.POVERTY_STATUSES, "未脱贫 / 已脱贫 / 返贫"),
        Column("认定日期", "recognized_on", Kind.DATE, True, description="纳入建档立卡的日期",
               example="2016-05-01", past=True),
        Column("退出日期", "removed_on", Kind.DATE, False, description="清退日期；为空表示仍在册"),
        Column("残疾类别", "disability", Kind.TEXT, False, description="为空表示无残疾"),
        Column("联系电话", "phone", Kind.PHONE, False, description="联系电话"),
    ),
)
