"""One streaming pass over a file's bytes: its SHA-256, its lines, and its text encoding.

The line count is the guard against silent loss: DuckDB skips blank lines and, on a wrong
encoding, can return zero rows without an error, so the CSV reader compares what it parsed with
the lines counted here. Blank lines are remembered by number because they still occupy a line
number the user sees.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from yidan.errors import InputError

CHUNK = 1 << 22
LONG_LINE = 1 << 24  # a line longer than this is not held whole to look for UTF-8 in a GB18030 file
HEAD = 1 << 20
_BLANK_AFTER = re.compile(rb"\n(?=\r?\n)")
_C0 = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
_UTF8_C1 = re.compile(rb"\xc2[\x80-\x9f]")

# names users type for the encodings we read; GBK and GB2312 are subsets of GB18030
ENCODINGS = {
    "utf8": "utf-8", "utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "utf8-sig": "utf-8-sig",
    "gbk": "gb18030", "gb2312": "gb18030", "gb18030": "gb18030", "cp936": "gb18030",
}


@dataclass
class Scan:
    sha256: str
    size: int
    lines: int  # physical lines, a last line without newline included
    blank_lines: list[int] = field(default_factory=list)  # 1-based numbers of empty lines
    head: bytes = b""
    controls: bool = False  # holds a control character (C0 but tab / LF / CR, DEL, or UTF-8 C1): rows to check


def scan_file(path: Path) -> Scan:
    digest = hashlib.sha256()
    controls = False
    newlines = 0
    blanks: list[int] = []
    head = b""
    size = 0
    prev_tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            # deleting the control bytes is ~10x faster than searching for them with a regular expression
            controls = controls or len(chunk.translate(None, _C0)) != len(chunk) or (
                b"\xc2" in chunk and _UTF8_C1.search(chunk) is not None)
            if len(head) < HEAD:
                head += chunk[: HEAD - len(head)]
            # a blank line straddling the chunk boundary
            if prev_tail.endswith(b"\n") and (chunk.startswith(b"\n") or chunk.startswith(b"\r\n")):
                blanks.append(newlines + 1)
            elif prev_tail.endswith(b"\n\r") and chunk.startswith(b"\n"):
                blanks.append(newlines + 1)
            pos, count = 0, newlines
            for m in _BLANK_AFTER.finditer(chunk):
                count += chunk.count(b"\n", pos, m.start() + 1)
                pos = m.start() + 1
                blanks.append(count + 1)
            newlines += chunk.count(b"\n")
            size += len(chunk)
            prev_tail = chunk[-2:]
    lines = newlines + (1 if size and not prev_tail.endswith(b"\n") else 0)
    # the line after the last newline does not exist when the file ends with one
    blanks = [b for b in blanks if b <= lines]
    return Scan(digest.hexdigest(), size, lines, blanks, head, controls)


def _line_kinds(head: bytes) -> tuple[int, int]:
    """(lines that are UTF-8 with non-ASCII text, lines that are not UTF-8) among the complete lines of `head`."""
    lines = head.split(b"\n")
    if len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut by the sample
    utf8 = bad = 0
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            bad += 1
    return utf8, bad


def detect_encoding(head: bytes, path: Path) -> str:
    """utf-8-sig (BOM), utf-8, or gb18030 (which reads GBK and GB2312 too), decided for the whole file.

    A sample that is not all UTF-8 is still read as UTF-8 when most of its non-ASCII lines are
    (the others are then rejected line by line with their row numbers); otherwise as GB18030, where
    the transcoding rejects the lines that are UTF-8 (see `transcode_to_utf8`). A file is never
    read as a mixture.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for cut in range(4):  # the sample may end inside a multi-byte character
        try:
            head[: len(head) - cut].decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError:
            continue
    utf8, bad = _line_kinds(head)
    if utf8 > bad:
        return "utf-8"
    for cut in range(4):
        try:
            head[: len(head) - cut].decode("gb18030")
            return "gb18030"
        except UnicodeDecodeError:
            continue
    raise InputError(
        f"无法识别文件 {path} 的文字编码（不是 UTF-8，也不是 GBK/GB18030）。",
        hint="请用 Excel 或 WPS 另存为“CSV UTF-8”，或用 --encoding 指定编码。",
    )


def resolve_encoding(encoding: str | None, head: bytes, path: Path) -> str:
    if encoding is None:
        return detect_encoding(head, path)
    key = encoding.strip().lower().replace("_", "-")
    if key not in ENCODINGS:
        raise InputError(
            f"不支持的编码：{encoding}",
            hint="可选 utf-8、utf-8-sig、gbk、gb18030；不指定时自动识别。",
        )
    name = ENCODINGS[key]
    if name == "utf-8" and head.startswith(codecs.BOM_UTF8):
        name = "utf-8-sig"
    return name


# a UTF-8 sequence of a CJK ideograph (U+4E00-U+9FFF) is a lead byte E4-E9 and two continuation bytes
# 80-BF: found as b"LCC" in the bytes mapped to their classes (translate + find run at memory speed,
# a regular expression with character classes is ~4x slower)
_CLASS_TABLE = bytes(ord("L") if 0xE4 <= b <= 0xE9 else ord("C") if 0x80 <= b <= 0xBF else ord(".")
                     for b in range(256))
_CJK = re.compile("[\u4e00-\u9fff]")


def _utf8_line(line: bytes) -> str | None:
    """The line's text when it is UTF-8 with Chinese characters (so not GB18030 text), else None.

    GB18030 text is almost never valid UTF-8 that decodes to CJK ideographs, while UTF-8 Chinese
    read as GB18030 gives mojibake (张伟 -> 寮犱紵) without any error: such a line must not load.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if _CJK.search(text) else None


def transcode_to_utf8(path: Path, encoding: str, out: Path, *, cr_only: bool = False) -> dict[int, str]:
    """Stream a file into UTF-8, byte-exact; return the lines to reject: {line number: text}.

    Undecodable bytes become U+FFFD and their rows are rejected by the column rules. In a GB18030
    file, a line that is UTF-8 (see `_utf8_line`) is returned, with its text read as UTF-8, for the
    reader to reject with its row number; it is written as GB18030 would read it (and never loaded).
    With `cr_only` (old Mac line ends), every CR becomes a line feed, so lines keep their numbers.

    Bytes in, bytes out through an incremental decoder (what a text-mode file would use, without its
    line and buffer bookkeeping): 20 % less CPU than reading and writing text files. Only lines
    holding a UTF-8 CJK byte pattern are decoded a second time, as UTF-8.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    check = encoding == "gb18030"
    found: list[tuple[int, str]] = []  # (byte offset of the line, its text): numbered at the end, if any
    offset = 0
    carry = b""
    with open(path, "rb") as src, open(out, "wb") as dst:
        while True:
            data = src.read(CHUNK)
            if cr_only:
                data = data.replace(b"\r", b"\n")
            block = carry + data
            if data:
                cut = block.rfind(b"\n") + 1
                if cut or len(block) < LONG_LINE:  # (a longer line is written unchecked)
                    block, carry = block[:cut], block[cut:]
                else:
                    carry = b""
            else:
                carry = b""
            if check and block:
                classes = block.translate(_CLASS_TABLE)
                at = classes.find(b"LCC")
                while at >= 0:
                    start = block.rfind(b"\n", 0, at) + 1
                    end = block.find(b"\n", at)
                    end = len(block) if end < 0 else end
                    text = _utf8_line(block[start:end].rstrip(b"\r"))
                    if text is not None:
                        found.append((offset + start, text))
                    at = classes.find(b"LCC", end)
            if block:
                dst.write(decoder.decode(block).encode("utf-8"))
                offset += len(block)
            if not data:
                break
        dst.write(decoder.decode(b"", final=True).encode("utf-8"))
    return _line_numbers(path, found, cr_only=cr_only) if found else {}


def _line_numbers(path: Path, found: list[tuple[int, str]], *, cr_only: bool) -> dict[int, str]:
    """{1-based line number: text} for lines found at byte offsets: a second pass, only for the rare file."""
    out: dict[int, str] = {}
    newlines, pos = 0, 0
    pending = iter(found)
    item = next(pending, None)
    with open(path, "rb") as fh:
        while item is not None and (data := fh.read(CHUNK)):
            if cr_only:
                data = data.replace(b"\r", b"\n")
            while item is not None and item[0] < pos + len(data):
                out[newlines + data.count(b"\n", 0, item[0] - pos) + 1] = item[1]
                item = next(pending, None)
            newlines += data.count(b"\n")
            pos += len(data)
    return out
