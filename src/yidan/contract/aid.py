"""aid — 资助发放: one row per payment."""

from yidan.contract.schema import Column, Kind, Table

AID = Table(
    name="aid",
    label="资助发放",
    description="学生资助发放明细，每笔发放一行。",
    columns=(
        Column("身份证号", "id_number", Kind.ID_NUMBER, True, description="受助学生身份证号"),
        Column("姓名", "name", Kind.TEXT, False, description="姓名"),
        Column("全国学籍号", "student_no", Kind.STUDENT_NO, False, description="全国学籍号"),
        Column("资助项目代码", "programme_code", Kind.TEXT, True, description="须在资助项目表中存在",
               example="YW-JS-SHBZ"),
        Column("学期", "term", Kind.TERM, True, description="如 2020秋", example="2020秋"),
        Column("金额", "amount", Kind.AMOUNT, True, description="元，两位小数", example="625.00"),
        Column("发放地区划代码", "payer_county_code", Kind.COUNTY_CODE, True, description="发放县6位区划代码",
               example="430124"),
        Column("发放日期", "paid_on", Kind.DATE, False, description="发放日期", past=True),
        Column("档次", "grade", Kind.TEXT, False, description="分档项目的档次（如 一档），与资助项目表一致",
               example="一档"),
    ),
)
