"""What each aid conclusion must record (issue 15), in one place and without a database.

The web (store/aid_casework.py) and the returned county workbook (`yidan verify-import`, and the web
upload through the store) ask the same: a 已补发 needs the 补发 amount, date and voucher number, a 已追回
the same for the 追回, a 情况属实无需处理 its policy ground, a 数据错误 the wrong field, a 省外已资助 the
province and the programme there. The workbook declares a column for each value (reports/styles.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

# the values a conclusion may need: the key is the workbook's field (reports/styles.py) and the store's name
AMOUNT, ON_DATE, VOUCHER, GROUND, WRONG_FIELD, PROVINCE = (
    "aid_amount", "aid_date", "voucher_no", "ground", "wrong_field", "province")

AID_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "已补发": ((AMOUNT, "补发金额"), (ON_DATE, "补发日期"), (VOUCHER, "凭证号")),
    "已追回": ((AMOUNT, "追回金额"), (ON_DATE, "追回日期"), (VOUCHER, "凭证号")),
    "情况属实无需处理": ((GROUND, "政策依据"),),
    "数据错误": ((WRONG_FIELD, "错误的字段"),),
    "省外已资助": ((PROVINCE, "省外资助的省份"), (GROUND, "省外资助的项目（填在政策依据）")),
}
AID_CONCLUSION_NEEDS: dict[str, str] = {k: "、".join(label for _, label in v) for k, v in AID_NEEDS.items()}
MONEY_CONCLUSIONS = {"已补发": "payment", "已追回": "recovery"}  # the record each of these stands on
MAX_AMOUNT = Decimal("1000000.00")


def missing_keys(conclusion: str, values: Mapping[str, object]) -> list[str]:
    """The keys of what `conclusion` needs that `values` leave blank (in the order declared)."""
    return [key for key, _ in AID_NEEDS.get(conclusion, ()) if not str(values.get(key) or "").strip()]


def missing(conclusion: str, values: Mapping[str, object]) -> list[str]:
    """The labels of what `conclusion` needs that `values` leave blank (in the order declared)."""
    gaps = missing_keys(conclusion, values)
    return [label for key, label in AID_NEEDS.get(conclusion, ()) if key in gaps]


def missing_reason(conclusion: str, values: Mapping[str, object]) -> str | None:
    """A Chinese reason when something the conclusion needs is blank, else None."""
    gaps = missing(conclusion, values)
    return f"核实结论为“{conclusion}”时须填写：{'、'.join(gaps)}" if gaps else None


def amount_problem(raw: object) -> str | None:
    """Why a typed amount is not a positive sum in yuan to the fen below a million (None: it is)."""
    text = str(raw).strip().replace(",", "").replace("，", "")
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return f"金额无效：{str(raw)[:20]}"
    if not value.is_finite() or value <= 0 or value >= MAX_AMOUNT:
        return f"金额须大于 0 且小于 {MAX_AMOUNT:,.0f} 元：{str(raw)[:20]}"
    if value != value.quantize(Decimal("0.01")):
        return f"金额最多精确到分（两位小数）：{str(raw)[:20]}"
    return None

