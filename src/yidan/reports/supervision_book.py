"""The supervision ranking as a workbook (province or city: counties; county: townships), with a chart.

Written from a `store.supervision.Ranking` (a few rows, one per region), so it needs no run directory.
Every rate goes out with its numerator and denominator beside it, and the sheet states the as-of time
and what each figure counts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter

from yidan.outfiles import safe_cell
from yidan.store.supervision import (
    FIGURES,
    UNSCHOOLED_DEFINITION,
    UNSCHOOLED_LABEL,
    Ranking,
    Row,
    trend_figures,
)

BEIJING = ZoneInfo("Asia/Shanghai")


def write_ranking(ranking: Ranking, path: Path, *, name_of: Callable[[str], str]) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    base = {"font_name": "宋体", "font_size": 11}
    fmt = {
        "title": wb.add_format({**base, "bold": True, "font_size": 16}),
        "header": wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True}),
        "text": wb.add_format({**base, "num_format": "@"}),
        "int": wb.add_format({**base, "num_format": "#,##0"}),
        "pct": wb.add_format({**base, "num_format": "0.0%"}),
        "days": wb.add_format({**base, "num_format": "0.0"}),
        "note": wb.add_format({**base, "italic": True, "font_color": "#595959"}),
        "bold": wb.add_format({**base, "bold": True}),
    }
    ws = wb.add_worksheet("督导排名")
    level = "县市区" if ranking.child_level == "county" else "乡镇"
    as_of = ranking.as_of.replace(tzinfo=UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    ws.write_string(0, 0, f"{name_of(ranking.region)} 控辍保学与学生资助督导排名（按{level}）", fmt["title"])
    ws.write_string(1, 0, f"统计时间（北京时间）：{as_of}；超期按 {ranking.on.isoformat()} 计算；"
                          f"已发布比对：{'、'.join(f'#{r}' for r in ranking.runs) or '无'}", fmt["note"])
    headers = ["排名", "地区代码", "地区", "案件数"]
    for f in FIGURES:
        headers.append(f.label)
        if f.denominator:
            headers += [f"{f.label}分子", f"{f.label}分母"]
    counted = ranking.total.unschooled is not None
    if counted:
        headers.append(UNSCHOOLED_LABEL)
    top = 3
    ws.set_row(top, 45)
    ws.write_row(top, 0, headers, fmt["header"])
    ws.set_column(0, 0, 6)
    ws.set_column(1, 1, 11)
    ws.set_column(2, 2, 16)
    ws.set_column(3, len(headers) - 1, 10)

    def write(r: int, rank: str, row: Row, label: str) -> None:
        ws.write_string(r, 0, rank, fmt["text"])
        ws.write_string(r, 1, row.region, fmt["text"])
        ws.write_string(r, 2, safe_cell(label), fmt["text"])
        ws.write_number(r, 3, row.cases, fmt["int"])
        c = 4
        for f in FIGURES:
            v = row.values[f.key]
            if f.kind == "count":
                ws.write_number(r, c, v.numerator, fmt["int"])
            elif f.kind == "days":
                if v.denominator:
                    ws.write_number(r, c, v.numerator, fmt["days"])
                else:
                    ws.write_blank(r, c, None)
            elif v.rate is None:
                ws.write_blank(r, c, None)
            else:
                ws.write_number(r, c, v.rate, fmt["pct"])
            c += 1
            if f.denominator:
                ws.write_number(r, c, v.numerator, fmt["int"] if f.kind != "days" else fmt["days"])
                ws.write_number(r, c + 1, v.denominator or 0, fmt["int"])
                c += 2
        if counted:
            ws.write_number(r, c, row.unschooled or 0, fmt["int"])

    for i, row in enumerate(ranking.rows, start=1):
        write(top + i, str(i), row, name_of(row.region))
    last = top + len(ranking.rows)
    write(last + 1, "合计", ranking.total, name_of(ranking.region))
    ws.freeze_panes(top + 1, 3)
    ws.autofilter(top, 0, max(last, top + 1), len(headers) - 1)

    notes = last + 3
    ws.write_string(notes, 0, "口径", fmt["bold"])
    for i, f in enumerate(FIGURES, start=1):
        text = f"{f.label} = {f.numerator}" + (f" ÷ {f.denominator}" if f.denominator and f.kind == "rate" else "")
        if f.kind == "days":
            text = f"{f.label}：{f.numerator}；分母为{f.denominator}数"
        ws.write_string(notes + i, 0, text, fmt["note"])
    if counted:
        ws.write_string(notes + len(FIGURES) + 1, 0, f"{UNSCHOOLED_LABEL} = {UNSCHOOLED_DEFINITION}", fmt["note"])

    if ranking.rows:
        close_col = headers.index("办结率")
        overdue_col = headers.index("超期数")
        chart: Any = wb.add_chart({"type": "bar"})
        chart.add_series({"name": "办结率", "categories": ["督导排名", top + 1, 2, last, 2],
                          "values": ["督导排名", top + 1, close_col, last, close_col], "fill": {"color": "#2f6fb0"}})
        chart.set_title({"name": f"各{level}办结率"})
        chart.set_x_axis({"num_format": "0%", "min": 0, "max": 1})
        chart.set_y_axis({"reverse": True})
        chart.set_legend({"none": True})
        chart.set_size({"width": 640, "height": 60 + 22 * len(ranking.rows)})
        ws.insert_chart(notes + len(FIGURES) + 3, 0, chart)
        overdue: Any = wb.add_chart({"type": "bar"})
        overdue.add_series({"name": "超期数", "categories": ["督导排名", top + 1, 2, last, 2],
                            "values": ["督导排名", top + 1, overdue_col, last, overdue_col],
                            "fill": {"color": "#c0392b"}})
        overdue.set_title({"name": f"各{level}超期案件数"})
        overdue.set_y_axis({"reverse": True})
        overdue.set_legend({"none": True})
        overdue.set_size({"width": 640, "height": 60 + 22 * len(ranking.rows)})
        ws.insert_chart(notes + len(FIGURES) + 3, 9, overdue)
    _write_trends(wb, ranking, fmt, name_of=name_of, level=level)
    wb.close()
    return path


def _write_trends(wb: Any, ranking: Ranking, fmt: dict[str, Any], *, name_of: Callable[[str], str], level: str) -> None:
    """Sheet 历轮趋势: each region's 核实率, 办结率 and 超期数 at the end of the earlier rounds, now, and the
    change since the last round; a chart of every region's 办结率 round by round."""
    ws = wb.add_worksheet("历轮趋势")
    ws.write_string(0, 0, f"{name_of(ranking.region)} 督导排名历轮趋势（按{level}）", fmt["title"])
    if not ranking.rounds:
        ws.write_string(1, 0, "还没有已结束的轮次：下一轮比对发布时，本轮各地的数字将留存，在此与当前对比。", fmt["note"])
        return
    ws.write_string(1, 0, "各轮数字为该轮结束（下一轮发布）时的情况；" + "；".join(
        f"{r.label} 截至 {r.taken_at.replace(tzinfo=UTC).astimezone(BEIJING):%Y-%m-%d %H:%M}" for r in ranking.rounds)
        + "；较上轮 = 当前 − 最近一轮（比率为百分点）。", fmt["note"])
    figures = trend_figures()
    headers = ["地区代码", "地区"]
    for f in figures:
        headers += [f"{f.label} {r.label}" for r in ranking.rounds] + [f"{f.label}（当前）"]
        headers.append(f"{f.label}较上轮" + ("（百分点）" if f.kind == "rate" else ""))
    top = 3
    ws.set_row(top, 45)
    ws.write_row(top, 0, headers, fmt["header"])
    ws.set_column(0, 0, 11)
    ws.set_column(1, 1, 16)
    ws.set_column(2, len(headers) - 1, 10)

    def cell(r: int, c: int, value: Any, kind: str) -> None:
        if value is None:
            ws.write_blank(r, c, None)
        elif kind == "rate":
            ws.write_number(r, c, value, fmt["pct"])
        else:
            ws.write_number(r, c, value, fmt["int"] if kind == "count" else fmt["days"])

    rows = [*ranking.rows, ranking.total]
    for i, row in enumerate(rows, start=1):
        r = top + i
        ws.write_string(r, 0, row.region if row is not ranking.total else "合计", fmt["text"])
        ws.write_string(r, 1, safe_cell(name_of(row.region)), fmt["text"])
        c = 2
        for f in figures:
            for h in row.history:
                v = h[f.key] if h else None
                cell(r, c, None if v is None else (v.rate if f.kind == "rate" else v.numerator), f.kind)
                c += 1
            now = row.values[f.key]
            cell(r, c, now.rate if f.kind == "rate" else now.numerator, f.kind)
            cell(r, c + 1, row.delta(f.key), "points" if f.kind == "rate" else "count")
            c += 2
    ws.freeze_panes(top + 1, 2)
    last = top + len(ranking.rows)
    if not ranking.rows:
        return
    first_close = headers.index(f"办结率 {ranking.rounds[0].label}")
    chart: Any = wb.add_chart({"type": "bar"})
    for j in range(len(ranking.rounds) + 1):
        col = first_close + j
        chart.add_series({"name": ["历轮趋势", top, col], "categories": ["历轮趋势", top + 1, 1, last, 1],
                          "values": ["历轮趋势", top + 1, col, last, col]})
    chart.set_title({"name": f"各{level}办结率：历轮与当前"})
    chart.set_x_axis({"num_format": "0%", "min": 0, "max": 1})
    chart.set_y_axis({"reverse": True})
    chart.set_size({"width": 720, "height": 80 + 14 * (len(ranking.rounds) + 1) * len(ranking.rows)})
    ws.insert_chart(last + 3, 0, chart)
