"""Choropleth maps of an indicator by county, drawn by the application: SVG for the web, PNG for workbooks.

Boundaries come from a GeoJSON file the province supplies (settings / `--boundaries`), one feature
per county with its six-digit code in a property (adcode, code, county_code, 区划代码 or 县代码);
Polygon and MultiPolygon geometries. For generated data the generator writes a simple synthetic
boundaries.geojson. No tile server and no external URL: the SVG is plain paths.

Colour = the gap to the target (indicator_defs.gap), in five classes; a county without a value is grey.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from yidan.errors import InputError

CODE_KEYS = ("adcode", "code", "county_code", "区划代码", "县代码")
COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027")  # on target … far from it
NO_VALUE = "#d9d9d9"
Ring = list[tuple[float, float]]


def load_boundaries(path: Path | str) -> dict[str, list[Ring]]:
    """county code -> outer rings (lon, lat) from a GeoJSON FeatureCollection; a clear Chinese error otherwise."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"找不到县界文件：{p}", hint="请给出省里提供的县级行政区划 GeoJSON 文件。") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"县界文件不是有效的 GeoJSON：{p}（{exc}）", hint="请用 UTF-8 编码的 GeoJSON 文件。") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise InputError(f"县界文件中没有要素（features）：{p}", hint="应为 GeoJSON FeatureCollection，每县一个要素。")
    out: dict[str, list[Ring]] = {}
    for f in features:
        props = f.get("properties") or {}
        code = next((str(props[k]) for k in CODE_KEYS if props.get(k) not in (None, "")), "")
        geom = f.get("geometry") or {}
        polys = ([geom.get("coordinates")] if geom.get("type") == "Polygon"
                 else geom.get("coordinates") if geom.get("type") == "MultiPolygon" else None)
        if len(code) < 6 or not polys:
            continue
        rings = out.setdefault(code[:6], [])
        for poly in polys:
            if poly and poly[0]:
                rings.append([(float(x), float(y)) for x, y, *_ in poly[0]])
    if not out:
        raise InputError(f"县界文件中没有带6位区划代码的面要素：{p}",
                         hint="每个要素的属性中应有 adcode、code 或 区划代码，几何为 Polygon 或 MultiPolygon。")
    return out


def colour(gap: float | None, target_scale: float = 0.2) -> str:
    """Five classes of the gap (share points short of the target; <= 0 is on target)."""
    if gap is None:
        return NO_VALUE
    if gap <= 0:
        return COLOURS[0]
    step = target_scale / 4
    return COLOURS[min(4, 1 + int(gap / step))]


def _projector(boundaries: dict[str, list[Ring]], width: float, height: float) -> Any:
    xs = [x for rings in boundaries.values() for r in rings for x, _ in r]
    ys = [y for rings in boundaries.values() for r in rings for _, y in r]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    k = math.cos(math.radians((y0 + y1) / 2))  # equirectangular, longitudes shrunk at this latitude
    scale = min(width / max((x1 - x0) * k, 1e-9), height / max(y1 - y0, 1e-9))

    def project(x: float, y: float) -> tuple[float, float]:
        return round((x - x0) * k * scale, 1), round((y1 - y) * scale, 1)

    return project, (x1 - x0) * k * scale, (y1 - y0) * scale


def map_svg(boundaries: dict[str, list[Ring]], regions: dict[str, dict[str, Any]], *, title: str,
            width: float = 640, height: float = 560) -> str:
    """An SVG choropleth: one <path class="region" data-region=CODE> per county of the boundaries.

    `regions`: county code -> {"name", "value_text", "gap"} (counties without figures are grey).
    """
    project, w, h = _projector(boundaries, width, height)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="choropleth" viewBox="0 0 {w:.0f} {h + 40:.0f}" '
             f'role="img" aria-label="{escape(title)}">']
    for code in sorted(boundaries):
        info = regions.get(code) or {}
        d = " ".join("M" + " L".join(f"{px},{py}" for px, py in (project(x, y) for x, y in ring)) + " Z"
                     for ring in boundaries[code])
        label = f"{info.get('name') or code}：{info.get('value_text') or '无数据'}"
        parts.append(f'<path class="region" data-region="{escape(code)}" d="{d}" fill="{colour(info.get("gap"))}" '
                     f'stroke="#ffffff" stroke-width="0.8"><title>{escape(label)}</title></path>')
    legend = (("已达标", COLOURS[0]), ("差距较小", COLOURS[1]), ("", COLOURS[2]), ("", COLOURS[3]),
              ("差距较大", COLOURS[4]), ("无数据", NO_VALUE))
    for i, (text, fill) in enumerate(legend):
        x = 10 + i * 90
        parts.append(f'<rect x="{x}" y="{h + 12:.0f}" width="14" height="14" fill="{fill}"/>'
                     f'<text x="{x + 18}" y="{h + 24:.0f}" font-size="12">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def map_png(boundaries: dict[str, list[Ring]], regions: dict[str, dict[str, Any]], path: Path, *, title: str) -> Path:
    """The same map as a PNG (matplotlib, Agg), for the workbook."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon

    from yidan.outfiles import atomic_output
    from yidan.reports.fonts import cjk_font_family

    project, w, h = _projector(boundaries, 600, 520)
    with rc_context({"font.family": cjk_font_family()}):
        fig = Figure(figsize=(7, 6.4))
        ax = fig.subplots()
        for code, rings in boundaries.items():
            fill = colour((regions.get(code) or {}).get("gap"))
            for ring in rings:
                ax.add_patch(Polygon([project(x, y) for x, y in ring], closed=True, facecolor=fill,
                                     edgecolor="white", linewidth=0.6))
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(title)
        with atomic_output(Path(path)) as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    return Path(path)


def synthetic_boundaries(counties: list[tuple[str, str]], *, origin: tuple[float, float] = (108.8, 24.6),
                         extent: tuple[float, float] = (5.5, 5.5)) -> dict[str, Any]:
    """A simple GeoJSON for generated data: the counties as cells of a grid over the province's box."""
    n = max(1, len(counties))
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    dx, dy = extent[0] / cols, extent[1] / rows
    features = []
    for i, (code, name) in enumerate(counties):
        x, y = origin[0] + (i % cols) * dx, origin[1] + extent[1] - (i // cols + 1) * dy
        ring = [[x, y], [x + dx, y], [x + dx, y + dy], [x, y + dy], [x, y]]
        features.append({"type": "Feature", "properties": {"adcode": code, "name": name},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": features}


def map_regions(table: Any, code: str) -> dict[str, dict[str, Any]]:
    """county code -> name, value text and gap of one indicator, from the targets table."""
    out: dict[str, dict[str, Any]] = {}
    for r in table.to_pylist():
        if r["code"] != code or r["level"] != "county":
            continue
        v = r["value"]
        text = "—" if v is None else (f"{v:.1%}" if r["unit"] == "%" else f"{v:,.0f}{r['unit']}")
        out[r["region"]] = {"name": r["region_name"], "value_text": text, "gap": r["gap"]}
    return out
