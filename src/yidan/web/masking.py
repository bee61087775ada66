"""What a user sees of personal data: one place decides, per role and per kind of field.

Masking is applied to the data before it reaches a template, a JSON body or an export, never
left to a template: routes turn a record into what the viewer may see with a `Masker`.

* `FIELD_KINDS` names the kind of every field that can hold personal data, in English aliases
  and Chinese labels alike (the evidence JSON uses 身份证号, 全国学籍号 …): ID numbers, phones,
  student numbers (a "G" number embeds the ID), finding keys (they end with the ID), birth dates
  (shown as year and month: with the masked ID's first six and last four characters the day
  would give the whole number back). A field
  of no known kind is free text: any ID number or phone inside it is masked all the same, so a
  new evidence field cannot leak by being forgotten here.
* Masked, a finding key is opaque: code, term and programme stay, the person becomes a keyed
  hash (the same child gives the same hash in every run, and nobody without the instance's
  secret can test a guessed ID against it).
* Everyone sees masked values by default. Roles in `FULL_RECORD_ROLES` may ask for the full
  record of one case (查看完整信息), a separate action the routes write to the audit log;
  `province_analyst` and `inspector` never receive a full ID number or phone.

A renderer of evidence calls `Masker.record(data)` on the parsed JSON, or `Masker.value(name, v)`
field by field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from yidan.store.roles import FULL_RECORD_ROLES  # owned by store/roles.py


class FieldKind(StrEnum):
    ID_NUMBER = "id_number"
    PHONE = "phone"
    STUDENT_NO = "student_no"
    FINDING_KEY = "finding_key"
    BIRTH_DATE = "birth_date"  # with the masked ID's first six and last four it would give the whole ID
    TEXT = "text"  # free text: IDs and phones inside it are masked


FIELD_KINDS: dict[str, FieldKind] = {
    **dict.fromkeys(("person_id", "id_number", "student_id_number", "payee_id", "身份证号", "受助人身份证号", "户主身份证号"),
                    FieldKind.ID_NUMBER),
    **dict.fromkeys(("phone", "head_phone", "contact_phone", "联系电话", "电话", "户主电话"), FieldKind.PHONE),
    **dict.fromkeys(("student_no", "l_student_no", "review_student_no", "全国学籍号", "学籍号"), FieldKind.STUDENT_NO),
    **dict.fromkeys(("finding_key", "问题编号"), FieldKind.FINDING_KEY),
    **dict.fromkeys(("birth_date", "student_birth_date", "出生日期"), FieldKind.BIRTH_DATE),
}

# an 18-character ID (17 digits and a check character), a legacy 15-digit one, a mobile or a
# landline with its area code; digits around them mean it is part of a longer number
_ID18 = re.compile(r"(?<!\d)(\d{6})(\d{8})(\d{3}[\dXx])(?![\dXx])")
_ID15 = re.compile(r"(?<!\d)(\d{6})(\d{5})(\d{4})(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-)(\d{3,4})(\d{4})(?!\d)")


def may_reveal(role: str) -> bool:
    """Whether the role may ask for a full record (an audited action)."""
    return role in FULL_RECORD_ROLES


def may_see_full(role: str) -> bool:  # kept for callers written before `may_reveal`
    return may_reveal(role)


def mask_id(value: Any) -> str:
    """430124201001011234 -> 430124********1234 (county and last four stay readable)."""
    if value is None or value == "":
        return ""
    v = str(value)
    if len(v) <= 10:
        return v[:2] + "*" * max(0, len(v) - 2)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def mask_phone(value: Any) -> str:
    """13812345678 -> 138****5678; a local number (7 or 8 digits) keeps its last four, like a landline in
    free text (84561234 -> ****1234; its first three and last four would leave one digit to guess);
    shorter numbers are starred out."""
    if value is None or value == "":
        return ""
    v = str(value)
    if len(v) >= 11:
        return v[:3] + "*" * (len(v) - 7) + v[-4:]
    return "*" * (len(v) - 4) + v[-4:] if len(v) >= 7 else "*" * len(v)


def mask_birth_date(value: Any) -> str:
    """2010-03-01 -> 2010-03 (the age stays readable; the day would complete a masked ID)."""
    if value is None or value == "":
        return ""
    v = str(value)
    return v[:7] if len(v) >= 7 and v[4] in "-/年" else "*" * len(v)


def scrub_text(value: str) -> str:
    """Free text with every ID number (also inside a "G" student number) and phone masked."""
    v = _ID18.sub(lambda m: m.group(1) + "********" + m.group(3)[-4:], value)
    v = _ID15.sub(lambda m: m.group(1) + "*****" + m.group(3), v)
    v = _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), v)
    return _LANDLINE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), v)


def birth_forms(person_id: str) -> tuple[tuple[str, str], ...]:
    """The ways text writes the birth date inside an 18-character ID, each with its masked form."""
    if len(person_id) != 18 or not person_id[6:14].isdigit():
        return ()
    y, m, d = person_id[6:10], person_id[10:12], person_id[12:14]
    return ((f"{y}-{m}-{d}", f"{y}-{m}-**"), (f"{y}/{m}/{d}", f"{y}/{m}/**"), (f"{y}{m}{d}", f"{y}{m}**"),
            (f"{y}年{m}月{d}日", f"{y}年{m}月**日"), (f"{y}年{int(m)}月{int(d)}日", f"{y}年{int(m)}月**日"))


def kind_of(field: str) -> FieldKind:
    return FIELD_KINDS.get(field, FieldKind.TEXT)


@dataclass(frozen=True)
class Masker:
    """Masks values for one viewer. `full=True` only after an audited reveal by an allowed role."""

    full: bool = False
    key: bytes = b""
    # written forms of one person's birth date and their masked forms (see `about`)
    hidden: tuple[tuple[str, str], ...] = ()

    def about(self, person_id: str | None) -> Masker:
        """This masker for one person's record: the birth date inside the person's ID is also hidden
        where free text writes it out (a detail that says 出生日期 2013-01-30 would complete the ID)."""
        if self.full or not person_id:
            return self
        return replace(self, hidden=self.hidden + birth_forms(str(person_id)))

    def person_token(self, person_id: str) -> str:
        """A keyed hash of a person's ID: stable, opaque without the instance's secret."""
        digest = hmac.new(self.key or b"yidan", person_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return "P" + digest[:12].upper()

    def id_number(self, value: Any) -> str:
        return "" if value is None else str(value) if self.full else mask_id(value)

    def phone(self, value: Any) -> str:
        return "" if value is None else str(value) if self.full else mask_phone(value)

    def student_no(self, value: Any) -> str:
        return "" if value is None else str(value) if self.full else scrub_text(str(value))

    def finding_key(self, value: Any) -> str:
        if value is None or self.full:
            return "" if value is None else str(value)
        parts = str(value).split("|")
        if len(parts) < 4:
            return scrub_text(str(value))
        return "|".join([*parts[:-1], self.person_token(parts[-1])])

    def text(self, value: Any) -> Any:
        if self.full or value is None:
            return value
        if isinstance(value, str):
            out = scrub_text(value)
            for written, masked in self.hidden:
                out = out.replace(written, masked)
            return out
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**10:
            return scrub_text(str(value))  # an ID or phone that became a number
        return value

    def value(self, field: str, value: Any) -> Any:
        """One field by its name (English alias or Chinese label); dicts and lists recursively."""
        if isinstance(value, dict | list):
            return self.record(value)
        if value is None or self.full:
            return value
        kind = kind_of(field)
        if kind is FieldKind.ID_NUMBER:
            return self.id_number(value)
        if kind is FieldKind.PHONE:
            return self.phone(value)
        if kind is FieldKind.STUDENT_NO:
            return self.student_no(value)
        if kind is FieldKind.FINDING_KEY:
            return self.finding_key(value)
        if kind is FieldKind.BIRTH_DATE:
            return mask_birth_date(value)
        if isinstance(value, str) and value[:1] in "{[":
            return self.json_text(value)
        return self.text(value)

    def record(self, data: Any) -> Any:
        """A dict (by field name), a list or a scalar, masked all the way down."""
        if isinstance(data, dict):
            return {k: self.value(str(k), v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.record(v) for v in data]
        return self.text(data)

    def json_text(self, value: str | None) -> str | None:
        """JSON text (the findings' evidence) masked field by field; other text scrubbed."""
        if value is None or self.full:
            return value
        try:
            data = json.loads(value)
        except ValueError:
            return str(self.text(value))
        return json.dumps(self.record(data), ensure_ascii=False)


MASKED = Masker(full=False)


@dataclass(frozen=True)
class EventView:
    at: Any
    actor: str
    kind: str
    summary: str
    data: dict[str, Any]


@dataclass(frozen=True)
class CaseView:
    """A case as one viewer may see it: what pages, the API and exports are built from.

    Only the fields listed here exist, each passed through the masker by its kind, so a
    template or a response model cannot reach an unmasked value by accident.
    """

    id: int
    finding_key: str
    code: str
    label: str
    person_id: str
    name: str | None
    term: str
    programme_code: str | None
    county: str
    township: str | None
    village: str | None
    school_code: str | None
    amount_expected: Any
    amount_paid: Any
    detail: str | None
    evidence: str | None
    person: dict[str, Any]
    link: dict[str, Any]
    team: list[dict[str, Any]]
    state: str
    state_label: str
    version: int
    is_closed: bool
    events: list[EventView]
    full: bool

    @classmethod
    def of(cls, case: Any, masker: Masker, *, with_details: bool = True) -> CaseView:
        """`with_details=False` for lists, which load the child's record (household columns) but never
        evidence, link, team or history."""
        m = masker.about(case.person_id)
        details: dict[str, Any] = {"evidence": None, "person": m.record(dict(case.person or {})), "link": {},
                                   "team": [], "events": []}
        if with_details:
            details = {
                "evidence": m.value("evidence", case.evidence),
                "person": details["person"],
                "link": m.record(dict(case.link or {})),
                "team": m.record(list(case.team or [])),
                "events": [EventView(e.at, e.actor, e.kind, m.text(e.summary), m.record(dict(e.data or {})))
                           for e in case.events],
            }
        return cls(
            id=case.id, finding_key=m.finding_key(case.finding_key), code=case.code, label=case.label,
            person_id=m.id_number(case.person_id), name=case.name, term=case.term,
            programme_code=case.programme_code, county=case.county, township=case.township,
            village=case.village, school_code=case.school_code, amount_expected=case.amount_expected,
            amount_paid=case.amount_paid, detail=m.text(case.detail), state=case.state,
            state_label=case.state_label, version=case.version, is_closed=case.is_closed, full=m.full, **details,
        )
