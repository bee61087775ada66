"""targets — 其他资助对象名单: children on the lists of 民政, 残联 and others (optional).

The speech brings 城镇低保, 特困供养, 孤儿, 残疾, 事实无人抚养 and other groups into the same aid as
the poverty registry. A payment is judged against every list the child is on (this one and the
registry); a recipient on no list at all gets its own finding (Z09), not a recovery.
"""

from yidan.contract import codes
from yidan.contract.schema import Column, Kind, Table

TARGETS = Table(
    name="targets",
    label="资助对象名单",
    description="建档立卡以外的资助对象名单（民政、残联等部门认定），每人每个类别一行。",
    columns=(
        Column("身份证号", "id_number", Kind.ID_NUMBER, True, description="18位居民身份证号"),
        Column("姓名", "name", Kind.TEXT, True, description="姓名"),
        Column("类别", "category", Kind.ENUM, True, codes.TARGET_LIST_CATEGORIES,
               "城镇低保 / 农村低保 / 特困供养 / 孤儿 / 残疾 / 事实无人抚养 等"),
        Column("认定日期", "recognized_on", Kind.DATE, True, description="纳入名单的日期", past=True),
        Column("退出日期", "removed_on", Kind.DATE, False, description="退出名单的日期；为空表示仍在名单中"),
        Column("来源", "source", Kind.TEXT, False, description="认定部门，如 民政、残联", example="民政"),
    ),
)
