"""verifications — 核实结果: what counties report back."""

from yidan.contract import codes
from yidan.contract.schema import Column, Kind, Table

VERIFICATIONS = Table(
    name="verifications",
    label="核实结果",
    description="县级核实反馈的结论，下一次比对时作为输入。",
    columns=(
        Column("身份证号", "id_number", Kind.ID_NUMBER, True, description="被核实儿童身份证号"),
        Column("姓名", "name", Kind.TEXT, False, description="姓名"),
        Column("核实结论", "conclusion", Kind.ENUM, True, codes.CONCLUSIONS, "、".join(codes.CONCLUSIONS)),
        Column("就读省份", "province", Kind.TEXT, False, description="核实结论为省外就读时填写"),
        Column("核实日期", "verified_on", Kind.DATE, True, description="核实日期", example="2021-03-10",
               past=True),
        Column("核实人", "verified_by", Kind.TEXT, False, description="核实人"),
        Column("说明", "note", Kind.TEXT, False, description="说明"),
    ),
)
