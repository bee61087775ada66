"""Charts of the indicators, as PNG (for workbooks and slides) and SVG (for the web).

matplotlib with the Agg backend, Figure objects only (no pyplot state), and a CJK font
found by family name (fonts.py); SVG text is drawn as paths so a browser without the
font shows the same picture.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pyarrow as pa  # noqa: E402
from matplotlib import rc_context  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from yidan.contract.codes import FAMILY_LABELS, STATUSES  # noqa: E402
from yidan.outfiles import atomic_output, output_dir  # noqa: E402
from yidan.reports.fonts import cjk_font_family  # noqa: E402

PALETTE = ("#2F5597", "#70AD47", "#FFC000", "#C00000", "#7030A0", "#00B0F0", "#ED7D31", "#A5A5A5",
           "#264478", "#9E480E", "#636363", "#997300", "#43682B")


def _values(table: pa.Table, indicator: str, level: str) -> dict[tuple[str, str], float]:
    """(region name, key) -> value for one indicator at one level (a small table)."""
    out: dict[tuple[str, str], float] = {}
    for r in table.filter(pa.compute.equal(table["indicator"], indicator)).to_pylist():
        if r["level"] == level:
            k = (r["region_name"], r["key"])
            out[k] = out.get(k, 0.0) + (r["value"] or 0.0)
    return out


def _regions(*maps: dict[tuple[str, str], float]) -> list[str]:
    return sorted({name for m in maps for name, _ in m})


def _save(fig: Figure, out: Path, stem: str) -> list[Path]:
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    with atomic_output(paths[0]) as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", format="png")
    with atomic_output(paths[1]) as tmp:
        fig.savefig(tmp, bbox_inches="tight", format="svg")
    return paths


def _figure(n_regions: int) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(10, max(3.0, 0.45 * n_regions + 1.6)), layout="constrained")
    ax: Axes = fig.subplots()  # one row, one column: a single Axes
    return fig, ax


def draw_charts(indicators: pa.Table, out: Path, *, level: str = "county") -> list[Path]:
    """Draw every chart the indicators allow into `out`; returns PNG and SVG paths.

    `level` is the region level on the bars: county (a city's or the province's counties)
    or city (the province's cities).
    """
    out = output_dir(out)
    family = cjk_font_family()
    paths: list[Path] = []
    with rc_context({"font.family": family, "axes.unicode_minus": False, "svg.fonttype": "path"}):
        paths += _status_chart(indicators, out, level)
        paths += _rate_chart(indicators, out, level)
        paths += _findings_chart(indicators, out, level)
        paths += _aid_chart(indicators, out, level)
        paths += _class_chart(indicators, out, level)
    return paths


def _status_chart(t: pa.Table, out: Path, level: str) -> list[Path]:
    v = _values(t, "children_by_status", level)
    regions = _regions(v)
    if not regions:
        return []
    fig, ax = _figure(len(regions))
    left = [0.0] * len(regions)
    for i, (code, label) in enumerate(STATUSES.items()):
        widths = [v.get((r, code), 0.0) for r in regions]
        if any(widths):
            ax.barh(regions, widths, left=left, label=label, color=PALETTE[i % len(PALETTE)])
            left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_title("建档立卡学龄儿童就学状态（按地区）")
    ax.set_xlabel("人数")
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    return _save(fig, out, "children_by_status")


def _rate_chart(t: pa.Table, out: Path, level: str) -> list[Path]:
    v = _values(t, "compulsory_in_school_rate", level)
    regions = _regions(v)
    if not regions:
        return []
    fig, ax = _figure(len(regions))
    rates = [v[(r, "")] * 100 for r in regions]
    bars = ax.barh(regions, rates, color=PALETTE[0])
    ax.bar_label(bars, labels=[f"{x:.1f}%" for x in rates], padding=3, fontsize=9)
    ax.set_xlim(0, 110)
    ax.set_title("义务教育阶段建档立卡儿童在校率（含送教上门、省外就读）")
    ax.set_xlabel("在校率（%）")
    ax.invert_yaxis()
    return _save(fig, out, "compulsory_in_school_rate")


def _grouped(ax: Axes, regions: list[str], series: list[tuple[str, list[float]]]) -> None:
    height = 0.8 / max(len(series), 1)
    for i, (label, values) in enumerate(series):
        ys = [y + i * height for y in range(len(regions))]
        ax.barh(ys, values, height=height, label=label, color=PALETTE[i % len(PALETTE)])
    ax.set_yticks([y + height * (len(series) - 1) / 2 for y in range(len(regions))], regions)
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)


def _findings_chart(t: pa.Table, out: Path, level: str) -> list[Path]:
    open_ = _values(t, "findings_open", level)
    closed = _values(t, "findings_closed", level)
    regions = _regions(open_, closed)
    if not regions:
        return []
    fig, ax = _figure(len(regions))
    series = [(f"待核实·{FAMILY_LABELS[f]}", [open_.get((r, f), 0.0) for r in regions]) for f in FAMILY_LABELS]
    if closed:
        series.append(("已销号（较上次）", [sum(v for (n, _), v in closed.items() if n == r) for r in regions]))
    _grouped(ax, regions, series)
    ax.set_title("问题清单：待核实与已销号（按地区）")
    ax.set_xlabel("问题数（条）")
    return _save(fig, out, "findings_open_closed")


def _aid_chart(t: pa.Table, out: Path, level: str) -> list[Path]:
    names = (("aid_amount_expected", "应资助金额"), ("aid_amount_paid", "实发金额"),
             ("aid_amount_missed", "漏发金额"), ("aid_amount_duplicate", "重复发放金额"))
    maps = {n: _values(t, n, level) for n, _ in names}
    regions = _regions(*maps.values())
    if not regions:
        return []
    fig, ax = _figure(len(regions))
    series = [(label, [sum(v for (rn, _), v in maps[n].items() if rn == r) / 10_000 for r in regions])
              for n, label in names]
    _grouped(ax, regions, series)
    ax.set_title("学生资助：应发、实发、漏发与重复发放（万元）")
    ax.set_xlabel("金额（万元）")
    return _save(fig, out, "aid_amounts")


def _class_chart(t: pa.Table, out: Path, level: str) -> list[Path]:
    # compulsory-education classes, the targets' figure; all stages only where no class has a stage
    large = _values(t, "large_classes_compulsory", level)
    very = _values(t, "very_large_classes_compulsory", level)
    scope = "义务教育"
    if not _regions(large, very):
        large, very = _values(t, "large_classes", level), _values(t, "very_large_classes", level)
        scope = "各学段合计"
    regions = _regions(large, very)
    if not regions:
        return []
    fig, ax = _figure(len(regions))
    _grouped(ax, regions, [("大班额（56–65人）", [large.get((r, ""), 0.0) for r in regions]),
                           ("超大班额（66人及以上）", [very.get((r, ""), 0.0) for r in regions])])
    ax.set_title(f"{scope}大班额与超大班额班级数（按学校所在地区）")
    ax.set_xlabel("班级数（个）")
    return _save(fig, out, "large_classes")
