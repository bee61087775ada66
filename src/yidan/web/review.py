"""The K05 review side by side: both records, which fields agree, and why, in a clerk's words.

A reviewer decides 同一人 from the two records, not from a model: each row says whether the
registry child and the candidate enrollment agree, and the reasons are written as a clerk
says them ("姓名读音相同（一字同音不同字）", "出生日期相差 3 天"), never as weights or bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from yidan.identity.divisions import region_name
from yidan.identity.names import normalise_name, readings
from yidan.web.masking import mask_id

_COUNT = "一二三四五六七八九十"


@dataclass(frozen=True)
class ReviewRow:
    label: str
    left: str
    right: str
    agree: bool | None  # None: one side missing


def _text(v: Any) -> str:
    return "" if v is None else str(v)


def _date(v: Any) -> date | None:
    try:
        return date.fromisoformat(str(v)[:10]) if v else None
    except ValueError:
        return None


def pinyin_of(name: str | None) -> str:
    """A name's reading as a reviewer reads it ("zhang wei"); the surname reading for the first character."""
    norm = normalise_name(name) or ""
    return " ".join((readings(ch, surname=i == 0) or [ch])[0] for i, ch in enumerate(norm))


def _same_sound(a: str, b: str) -> bool:
    return bool(set(readings(a)) & set(readings(b)))


def name_reason(left: str | None, right: str | None) -> str:
    a, b = normalise_name(left) or "", normalise_name(right) or ""
    if not a or not b:
        return "一方没有姓名"
    if a == b:
        return "姓名相同"
    if len(a) == len(b):
        differ = [i for i in range(len(a)) if a[i] != b[i]]
        if all(_same_sound(a[i], b[i]) for i in differ):
            return f"姓名读音相同（{_COUNT[len(differ) - 1] if len(differ) <= 10 else len(differ)}字同音不同字）"
        if len(differ) == 1:
            return "姓名一字不同，读音也不同"
    if a[0] == b[0]:
        return "仅姓氏相同"
    return "姓名不同"


def birth_reason(left: Any, right: Any) -> str:
    a, b = _date(left), _date(right)
    if a is None or b is None:
        return "一方没有出生日期"
    if a == b:
        return "出生日期相同"
    if (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return "出生日期月、日颠倒"
    return f"出生日期相差 {abs((a - b).days)} 天"


def id_reason(left: str | None, right: str | None) -> str:
    if not left or not right:
        return "学籍中没有身份证号" if left else "建档立卡身份证号缺失"
    if left == right:
        return "身份证号相同"
    if len(left) == len(right):
        n = sum(1 for x, y in zip(left, right, strict=True) if x != y)
        return f"身份证号有 {n} 位不同"
    return "身份证号不同"


def review(case: Any, person: dict[str, Any], link: dict[str, Any], *, full: bool) -> dict[str, Any]:
    """Rows of the side-by-side table and the reasons, for the case page and its tests."""
    def shown_id(v: str | None) -> str:
        return _text(v) if full else mask_id(v)

    reg_id, stu_id = case.person_id, link.get("student_id_number")
    rows = [
        ReviewRow("姓名", _text(case.name), _text(link.get("student_name")),
                  None if not link.get("student_name") else normalise_name(case.name) == normalise_name(
                      link.get("student_name"))),
        ReviewRow("姓名拼音", pinyin_of(case.name), pinyin_of(link.get("student_name")),
                  None if not link.get("student_name") else pinyin_of(case.name) == pinyin_of(link.get("student_name"))),
        ReviewRow("性别", _text(person.get("gender")), _text(link.get("student_gender")),
                  None if not person.get("gender") or not link.get("student_gender")
                  else person.get("gender") == link.get("student_gender")),
        ReviewRow("出生日期", _text(person.get("birth_date")), _text(link.get("student_birth_date")),
                  None if not _date(person.get("birth_date")) or not _date(link.get("student_birth_date"))
                  else _date(person.get("birth_date")) == _date(link.get("student_birth_date"))),
        ReviewRow("身份证号", shown_id(reg_id), shown_id(stu_id), None if not stu_id else reg_id == stu_id),
        ReviewRow("全国学籍号", "", shown_id(link.get("student_no")), None),
        ReviewRow("学校", _text(person.get("school_name")), _text(link.get("school_name")), None),
        ReviewRow("学段、年级", " ".join(x for x in (_text(person.get("stage")), _text(person.get("grade"))) if x),
                  " ".join(x for x in (_text(link.get("stage")), _text(link.get("grade"))) if x), None),
        ReviewRow("县", region_name(person.get("hukou_county") or case.county) + "（户籍）",
                  (region_name(link["school_county"]) + "（学校所在）") if link.get("school_county") else "",
                  None if not link.get("school_county")
                  else (person.get("hukou_county") or case.county) == link.get("school_county")),
    ]
    reasons = [
        name_reason(case.name, link.get("student_name")),
        birth_reason(person.get("birth_date"), link.get("student_birth_date")),
        id_reason(reg_id, stu_id),
    ]
    if person.get("gender") and link.get("student_gender"):
        reasons.append("性别相同" if person.get("gender") == link.get("student_gender") else "性别不同")
    if link.get("school_county"):
        same = (person.get("hukou_county") or case.county) == link.get("school_county")
        reasons.append("学校在户籍县" if same else "学校不在户籍县")
    p = link.get("match_probability")
    likelihood = f"{float(p) * 100:.1f}%" if isinstance(p, int | float) else ""
    return {"rows": rows, "reasons": reasons, "likelihood": likelihood}
