"""A CJK font for the charts, found offline through matplotlib's font manager.

Servers on intranets have no internet and often no Chinese font; without one every
Chinese label renders as empty boxes, silently. So the font is looked up by family name
and a missing font is an error with the package to install, not a broken picture.
"""

from __future__ import annotations

from functools import cache

from matplotlib import font_manager

from yidan.errors import YidanError

# Families tried in order: Noto/Source Han (what scripts/system-deps.sh installs), then
# the fonts Chinese Windows, macOS and Linux desktops ship.
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB",
    "Noto Sans CJK JP", "Noto Serif CJK SC", "AR PL UMing CN",
)


class FontMissingError(YidanError):
    """No font that can draw Chinese characters is installed."""


def _known() -> set[str]:
    return {f.name for f in font_manager.fontManager.ttflist}


@cache
def cjk_font_family() -> str:
    """The first installed CJK family; fonts installed after matplotlib built its cache are added."""
    known = _known()
    for family in CJK_FAMILIES:
        if family in known:
            return family
    for path in font_manager.findSystemFonts():
        lowered = path.lower()
        if any(k in lowered for k in ("cjk", "wqy", "simhei", "msyh", "sourcehan", "pingfang", "uming")):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    known = _known()
    for family in CJK_FAMILIES:
        if family in known:
            return family
    raise FontMissingError(
        "找不到可显示中文的字体，图表中的汉字将无法显示（已查找：" + "、".join(CJK_FAMILIES[:6]) + " 等）。",
        hint="安装中文字体后重试：apt-get install -y fonts-noto-cjk（或运行 scripts/system-deps.sh）。",
    )



@cache
def cjk_font_file() -> tuple[str, int]:
    """The file of the CJK family and the font's number inside a .ttc collection, for embedding in PDFs."""
    found = font_manager.findfont(font_manager.FontProperties(family=cjk_font_family()), fallback_to_default=False)
    return str(getattr(found, "path", found)), int(getattr(found, "face_index", 0) or 0)
