"""Explanations a reviewer can read: the weight each compared field gave a pair.

`links.explanation` is JSON text: a list of `{"field", "label", "level", "weight"}`
with Chinese labels, `weight` in bits (log2 of the Bayes factor; positive is
evidence for the same person, null where the field decided nothing numerically, as
for exact ID links). It is built in the engine by string concatenation, so it
costs no Python per link. The labels are constants without quotes, so no escaping
is needed.
"""

from __future__ import annotations

from typing import Any

import ibis

from yidan.engine.portable import number_text
from yidan.pipeline.link.model import FIELD_LABELS

AGREE_LABELS = {True: "一致", False: "不一致"}


def _item(field: str, label: str, level: Any, weight: Any) -> Any:
    head = ibis.literal(f'{{"field":"{field}","label":"{label}","level":"')
    # fixed-point text built from integers: DuckDB and Spark round and print doubles differently
    w = ibis.literal("null") if weight is None else number_text(weight, 2).fill_null("null")
    return head.concat(level.fill_null("缺失"), ibis.literal('","weight":'), w, ibis.literal("}"))


def _json_list(items: list[Any]) -> Any:
    out = ibis.literal("[")
    for i, item in enumerate(items):
        out = out.concat(item) if i == 0 else out.concat(ibis.literal(","), item)
    return out.concat(ibis.literal("]"))


def _agree_label(flag: Any) -> Any:
    return ibis.cases((flag.isnull(), ibis.null("string")), (flag, AGREE_LABELS[True]), else_=AGREE_LABELS[False])


def exact_explanation(method: Any, name_agrees: Any, gender_agrees: Any, birth_agrees: Any) -> Any:
    """Explanation of an exact ID link: which ID matched, and whether the rest agrees (K08)."""
    id_level = ibis.ifelse(method == "id", "完全相同", "与全国学籍号中的身份证号相同")
    return _json_list(
        [
            _item("id", FIELD_LABELS["id"], id_level, None),
            _item("name", FIELD_LABELS["name"], _agree_label(name_agrees), None),
            _item("gender", FIELD_LABELS["gender"], _agree_label(gender_agrees), None),
            _item("birth", FIELD_LABELS["birth"], _agree_label(birth_agrees), None),
        ]
    )


def level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
    """comparison name -> {gamma value -> Chinese level label}, read from the trained model."""
    out: dict[str, dict[int, str]] = {}
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        labels: dict[int, str] = {}
        # Splink numbers levels from the last (ElseLevel = 0) upwards; the null level is -1.
        value = len([lv for lv in levels if not lv.get("is_null_level")]) - 1
        for level in levels:
            if level.get("is_null_level"):
                labels[-1] = level.get("label_for_charts") or "缺失"
                continue
            labels[value] = level.get("label_for_charts") or ""
            value -= 1
        out[comparison["output_column_name"]] = labels
    return out


def model_explanation(pred: Any, model: dict[str, Any], tf_columns: dict[str, str]) -> Any:
    """Explanation of a scored pair from Splink's gamma_* and mw_* (match weight, bits) columns."""
    items = []
    for field, labels in level_labels(model).items():
        gamma = pred[f"gamma_{field}"]
        level = ibis.cases(*[(gamma == v, lab) for v, lab in labels.items()], else_=ibis.null("string"))
        weight = pred[f"mw_{field}"].cast("float64")
        if field in tf_columns:
            weight = weight + pred[tf_columns[field]].cast("float64").fill_null(0.0)
        items.append(_item(field, FIELD_LABELS.get(field, field), level, weight))
    return _json_list(items)
