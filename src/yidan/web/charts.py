"""Small inline SVG charts drawn on the server (no JavaScript, no external assets).

Values are escaped by Jinja's Markup only where text is inserted; numbers are formatted here.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup


def bars(items: list[tuple[str, int]], *, width: int = 520, bar_h: int = 18, color: str = "#2f6fb0") -> Markup:
    """Horizontal bars, one per (label, value); labels on the left, values on the right."""
    if not items:
        return Markup('<p class="muted">暂无数据</p>')
    top = max(v for _, v in items) or 1
    label_w, value_w = 150, 60
    span = width - label_w - value_w
    h = len(items) * (bar_h + 6) + 4
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {h}" preserveAspectRatio="xMinYMin meet">']
    for i, (label, value) in enumerate(items):
        y = 4 + i * (bar_h + 6)
        w = round(span * value / top, 1)
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h - 5}" text-anchor="end" font-size="12">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="{color}"><title>'
                     f'{escape(label)}：{value}</title></rect>')
        parts.append(f'<text x="{label_w + w + 4}" y="{y + bar_h - 5}" font-size="12">{value:,}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def trend_line(points: list[tuple[str, int]], *, width: int = 520, height: int = 160) -> Markup:
    """A line of one value across published runs (oldest left)."""
    if not points:
        return Markup('<p class="muted">暂无已发布的比对</p>')
    top = max(v for _, v in points) or 1
    pad_l, pad_b, pad_t = 40, 30, 24
    n = len(points)
    step = (width - pad_l - 20) / max(1, n - 1)
    xy = [(pad_l + i * step if n > 1 else width / 2, pad_t + (height - pad_b - pad_t) * (1 - v / top))
          for i, (_, v) in enumerate(points)]
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet">',
             f'<line x1="{pad_l}" y1="{height - pad_b}" x2="{width - 10}" y2="{height - pad_b}" stroke="#999"/>']
    if n > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#c0392b" stroke-width="2"/>')
    for (label, value), (x, y) in zip(points, xy, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#c0392b"><title>{escape(label)}：{value}</title></circle>')
        parts.append(f'<text x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle" font-size="11">{value:,}</text>')
        parts.append(f'<text x="{x:.1f}" y="{height - pad_b + 16}" text-anchor="middle" font-size="11">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(points: list[tuple[str, float | None]], *, width: int = 120, height: int = 28) -> Markup:
    """A small line of one rate (0–1) across rounds, oldest left; a round without a value is skipped.
    Each point carries its round and value as a tooltip."""
    known = [(i, label, v) for i, (label, v) in enumerate(points) if v is not None]
    if not known:
        return Markup('<span class="muted">—</span>')
    n = len(points)
    step = (width - 8) / max(1, n - 1)
    xy = [(4 + i * step if n > 1 else width / 2, 4 + (height - 8) * (1 - max(0.0, min(1.0, v))), label, v)
          for i, label, v in known]
    parts = [f'<svg class="spark" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<line x1="4" y1="{height - 4}" x2="{width - 4}" y2="{height - 4}" stroke="#ccc"/>']
    if len(xy) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in xy)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#2f6fb0" stroke-width="1.5"/>')
    for x, y, label, v in xy:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#2f6fb0"><title>{escape(label)}：'
                     f'{v * 100:.1f}%</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))
