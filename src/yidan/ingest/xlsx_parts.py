"""What calamine does not tell about an XLSX: formula cells that hold no saved value.

A workbook written by a program (or saved by some tools without recalculation) can hold formulas
with no cached result; every reader, calamine included, then sees an empty cell, and a required
value would be refused as empty or an optional one silently lost. The sheet XML says it plainly:
a cell `<c>` with an `<f>` and no `<v>`. Only sheets that contain a formula at all are scanned,
and only around each formula, so a workbook without formulas costs one search per sheet.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import unescape

from yidan.errors import InputError

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL_START = re.compile(rb"<(?:\w+:)?c[\s>]")
_REF = re.compile(rb'\sr="([A-Z]{1,3})([0-9]+)"')
_VALUE = re.compile(rb"<(?:\w+:)?v[\s>/]")
_CELL_END = re.compile(rb"</(?:\w+:)?c>")
_FORMULA_TEXT = re.compile(rb"<(?:\w+:)?f[^>]*>([^<]*)<")


def _column_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1


def _has_formula(book: zipfile.ZipFile, part: str) -> bool:
    """Whether the part holds a formula, read in chunks (a sheet of a million rows is ~200 MB of XML)."""
    try:
        fh = book.open(part)
    except KeyError:
        return False
    with fh:
        tail = b""
        while chunk := fh.read(1 << 22):
            if _FORMULA.search(tail + chunk[:16]) or _FORMULA.search(chunk):
                return True
            tail = chunk[-16:]
    return False


def _sheet_parts(book: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its XML part in the package; empty when the package is laid out otherwise.

    (An unusual layout is left to calamine, which reads it or says the file is broken.)
    """
    try:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return {}
    targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("p:Relationship", _NS)}
    out = {}
    for sheet in workbook.findall("m:sheets/m:sheet", _NS):
        target = targets.get(sheet.get(f"{{{_NS['r']}}}id"), "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        out[sheet.get("name", "")] = part
    return out


def uncached_formulas(path: Path) -> dict[str, dict[int, dict[int, str]]]:
    """Sheet name -> {1-based row: {0-based column: formula text}} for formula cells without a saved value.

    Raises `InputError` when the package cannot be read (a cut-off or corrupt file).
    """
    out: dict[str, dict[int, dict[int, str]]] = {}
    try:
        with zipfile.ZipFile(path) as book:
            for name, part in _sheet_parts(book).items():
                if not _has_formula(book, part):
                    continue
                data = book.read(part)
                cells = out.setdefault(name, {})
                end = 0
                for m in _FORMULA.finditer(data):
                    if m.start() < end:
                        continue
                    start = max((c.start() for c in _CELL_START.finditer(data, max(0, m.start() - 4096), m.start())),
                                default=-1)
                    close = _CELL_END.search(data, m.start())
                    end = close.end() if close else len(data)
                    if start < 0:
                        continue
                    cell = data[start:end]
                    if _VALUE.search(cell):
                        continue
                    ref = _REF.search(cell[: cell.find(b">") + 1])
                    if ref is None:
                        continue
                    text = _FORMULA_TEXT.search(cell)
                    formula = unescape(text.group(1).decode("utf-8", "replace")) if text else ""
                    cells.setdefault(int(ref.group(2)), {})[_column_index(ref.group(1))] = "=" + formula
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise InputError(f"无法打开 Excel 文件 {path}：文件已损坏或不完整（{type(exc).__name__}）。",
                         hint="请用 Excel 或 WPS 打开该文件，确认内容完整后另存为 .xlsx 再导入；"
                              "如打不开，请从源系统重新导出。") from None
    return {k: v for k, v in out.items() if v}
