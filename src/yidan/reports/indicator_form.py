"""The province's indicator report form, filled from a run: one row per county, so nobody retypes it.

Sheet 报表: the counties (then the cities and the province) as rows, the declared indicators as
columns, with the as-of date and the source run above. Sheet 指标与目标: the province, each indicator
with target, year, gap, change, numerator and denominator, and why an indicator could not be
computed. Sheet 指标说明: the definitions (indicator_defs). Sheet 地图 (when drawn): a static map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from yidan.reports.indicator_defs import INDICATORS
from yidan.reports.indicator_targets import describe, not_computed
from yidan.runs.rundir import RunDir

LEVEL_ORDER = {"county": 0, "city": 1, "province": 2}
LEVEL_LABELS = {"county": "县", "city": "市州", "province": "全省"}


def as_of(run: RunDir) -> str:
    """The run's date (its finish, else its start): the day the figures are true of."""
    stamp = str(run.manifest.get("finished_at") or run.manifest.get("started_at") or "")
    return stamp[:10]


def form_rows(table: pa.Table) -> list[dict[str, Any]]:
    """One dict per region (counties, then cities, then the province): code, name, level, value per indicator."""
    by_region: dict[tuple[str, str], dict[str, Any]] = {}
    for r in table.to_pylist():
        if not r["region"]:
            continue
        row = by_region.setdefault((r["level"], r["region"]), {"level": r["level"], "region": r["region"],
                                                               "region_name": r["region_name"]})
        row[r["code"]] = r["value"]
    return sorted(by_region.values(), key=lambda x: (LEVEL_ORDER.get(x["level"], 9), x["region"]))


def write_indicator_form(table: pa.Table, run: RunDir, path: Path, *, maps: list[Path] | None = None) -> Path:
    from yidan.outfiles import atomic_output

    with atomic_output(path) as tmp:
        _write(table, run, tmp, maps or [])
    return Path(path)


def _write(table: pa.Table, run: RunDir, path: Path, maps: list[Path]) -> None:
    import xlsxwriter

    from yidan.reports import styles

    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    fmt = styles.formats(wb)
    ws = wb.add_worksheet("报表")
    title = f"教育发展指标报表（{run.term}）"
    ws.write_string(0, 0, title, fmt["title"])
    ws.write_string(1, 0, f"数据截至：{as_of(run)}　来源比对：{run.run_id}　由 yidan 根据比对结果和输入数据自动填报，"
                          "请勿手工改写数字", fmt["note"])
    headers = ["区划代码", "地区", "层级", *(i.name for i in INDICATORS)]
    ws.write_row(3, 0, headers, fmt["header"])
    ws.set_row(3, 48)
    ws.set_column(0, 0, 10)
    ws.set_column(1, 1, 14)
    ws.set_column(2, 2, 6)
    ws.set_column(3, 2 + len(INDICATORS), 13)
    rows = form_rows(table)
    for n, row in enumerate(rows, start=4):
        ws.write_row(n, 0, (row["region"], row["region_name"], LEVEL_LABELS.get(row["level"], row["level"])),
                     fmt["text"])
        for j, ind in enumerate(INDICATORS, start=3):
            v = row.get(ind.code)
            if v is None:
                ws.write_string(n, j, "—", fmt["text"])
            else:
                ws.write_number(n, j, v, fmt["pct"] if ind.is_rate else fmt["int"])
    ws.freeze_panes(4, 3)
    ws.autofilter(3, 0, max(3 + len(rows), 4), len(headers) - 1)

    t = wb.add_worksheet("指标与目标")
    head = ("指标", "全省数值", "目标值", "目标年份", "差距（距目标）", "上次数值", "变化", "分子", "分母", "口径", "说明")
    t.write_row(0, 0, head, fmt["header"])
    for i, w in enumerate((26, 11, 9, 9, 13, 11, 9, 11, 11, 40, 40)):
        t.set_column(i, i, w)
    missing = not_computed(table)
    province = {r["code"]: r for r in table.to_pylist() if r["level"] == "province"}
    for n, ind in enumerate(INDICATORS, start=1):
        r = province.get(ind.code) or {}
        num = fmt["pct"] if ind.is_rate else fmt["int"]
        t.write_string(n, 0, ind.name, fmt["text"])
        for j, key in ((1, "value"), (2, "target"), (4, "gap"), (5, "previous"), (6, "change")):
            v = r.get(key)
            if key == "target" and v is None:
                v = next((x["target"] for x in table.to_pylist() if x["code"] == ind.code), None)
            if v is None:
                t.write_string(n, j, "—", fmt["text"])
            else:
                t.write_number(n, j, v, num)
        year = next((x["target_year"] for x in table.to_pylist() if x["code"] == ind.code), None)
        t.write_string(n, 3, str(year or ""), fmt["text"])
        for j, key in ((7, "numerator"), (8, "denominator")):
            v = r.get(key)
            if v is None:
                t.write_string(n, j, "", fmt["text"])
            else:
                t.write_number(n, j, v, fmt["int"])
        t.write_string(n, 9, r.get("basis") or "", fmt["long"])
        t.write_string(n, 10, missing.get(ind.code) or r.get("note") or "", fmt["long"])

    d = wb.add_worksheet("指标说明")
    cols = (("name", "指标", 24), ("numerator", "分子", 40), ("denominator", "分母", 40), ("uses", "数据来源", 50),
            ("tables", "必需的输入表", 16), ("direction", "方向", 8), ("source", "政策依据与目标来源", 50))
    d.write_row(0, 0, [c[1] for c in cols], fmt["header"])
    for i, (_, _, w) in enumerate(cols):
        d.set_column(i, i, w)
    for n, row in enumerate(describe(), start=1):
        d.write_row(n, 0, [row[k] for k, _, _ in cols], fmt["long"])

    if maps:
        m = wb.add_worksheet("地图")
        m.write_string(0, 0, "分县地图（颜色为距目标的差距：绿色已达标，越红差距越大，灰色无数据）", fmt["subtitle"])
        for i, png in enumerate(maps):
            m.insert_image(2 + i * 34, 0, str(png), {"x_scale": 0.8, "y_scale": 0.8})
    wb.close()


def write_indicator_outputs(run: RunDir, out: Path, *, previous: RunDir | None = None, config: Any = None,
                            boundaries: Path | None = None) -> tuple[Path, dict[str, str], list[Path]]:
    """indicator_targets.parquet, the report form and (with boundaries) one SVG and PNG map per indicator.

    Returns the form's path, the indicators not computed (code -> why) and the PNG maps.
    """
    import pyarrow.parquet as pq

    from yidan.outfiles import atomic_output, output_dir
    from yidan.reports.indicator_defs import BY_CODE
    from yidan.reports.indicator_targets import compute_targets

    geo = None
    if boundaries is not None:
        from yidan.reports.indicator_map import load_boundaries

        geo = load_boundaries(boundaries)  # a bad file stops here, before anything is written
    table = compute_targets(run, previous, config)
    folder = output_dir(out)
    with atomic_output(folder / "indicator_targets.parquet") as tmp:
        pq.write_table(table, tmp)
    missing = not_computed(table)
    maps: list[Path] = []
    if geo is not None:
        from yidan.reports.indicator_map import map_png, map_regions, map_svg

        (folder / "maps").mkdir(exist_ok=True)
        for code, ind in BY_CODE.items():
            if code in missing:
                continue
            regions = map_regions(table, code)
            with atomic_output(folder / "maps" / f"{code}.svg") as tmp:
                tmp.write_text(map_svg(geo, regions, title=ind.name), encoding="utf-8")
            maps.append(map_png(geo, regions, folder / "maps" / f"{code}.png", title=f"{ind.name}（{run.term}）"))
    book = write_indicator_form(table, run, folder / f"指标报表_{run.term}.xlsx", maps=maps)
    return book, missing, maps
