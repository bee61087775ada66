"""Charts: Chinese text that actually renders, as PNG and SVG, and a clear error without a font."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reports_fixtures import build_run
from yidan.reports import compute_indicators, draw_charts, fonts


@pytest.fixture(scope="module")
def indicators(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    return compute_indicators(build_run(base / "now"), build_run(base / "prev", shift=2, run_id="R0"))


@pytest.fixture(scope="module")
def drawn(indicators, tmp_path_factory):
    """The charts are drawn once (matplotlib takes seconds); the tests look at them."""
    return draw_charts(indicators, tmp_path_factory.mktemp("charts"))


def _ink(text: str, family: str) -> np.ndarray:
    fig = Figure(figsize=(1, 1), dpi=80)
    fig.text(0.1, 0.3, text, fontfamily=family, fontsize=40)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., 0] < 128


def test_the_cjk_font_draws_distinct_chinese_characters():
    family = fonts.cjk_font_family()
    a, b = _ink("控", family), _ink("辍", family)
    assert a.sum() > 50 and b.sum() > 50  # ink on the page
    assert (a != b).sum() > 50  # two characters, not two identical "missing glyph" boxes


def test_every_chart_is_written_as_png_and_svg(drawn):
    stems = {p.stem for p in drawn}
    folder = drawn[0].parent
    assert stems == {"children_by_status", "compulsory_in_school_rate", "findings_open_closed", "aid_amounts",
                     "large_classes"}
    for stem in stems:
        png, svg = folder / f"{stem}.png", folder / f"{stem}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        text = svg.read_text(encoding="utf-8")
        assert text.lstrip().startswith("<?xml") and "<path" in text


def test_chart_pictures_carry_their_chinese_titles(drawn):
    import matplotlib.image as mpimg

    png = next(p for p in drawn if p.name == "children_by_status.png")
    picture = mpimg.imread(png)
    title_band = picture[: picture.shape[0] // 12, :, :3].mean(axis=2) < 0.5
    assert title_band.sum() > 200  # the title's strokes are drawn, not left blank


def test_charts_by_city_show_one_bar_group_per_city(indicators, tmp_path):
    paths = draw_charts(indicators, tmp_path, level="city")
    svg = next(p for p in paths if p.name == "compulsory_in_school_rate.svg").read_text(encoding="utf-8")
    assert svg.count('id="patch_') >= 3  # background, axes and one bar per city


def test_a_missing_cjk_font_fails_with_a_chinese_message(monkeypatch):
    monkeypatch.setattr(fonts, "CJK_FAMILIES", ("No Such Font SC",))
    monkeypatch.setattr(fonts.font_manager, "findSystemFonts", lambda *a, **k: [])
    fonts.cjk_font_family.cache_clear()
    try:
        with pytest.raises(fonts.FontMissingError) as err:
            fonts.cjk_font_family()
        assert "找不到可显示中文的字体" in err.value.message and "fonts-noto-cjk" in err.value.hint
    finally:
        fonts.cjk_font_family.cache_clear()
