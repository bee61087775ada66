"""Aid audit rules, one data file per finding code and per boundary (tests/rules/audit/*.toml).

Each file lists registry children, enrollment snapshots, out-of-province records, payments
(and policies, when the shared catalog `_catalog.toml` is not enough) beside the exact
findings the audit must raise, with amounts to the fen. Until the pipeline's `run_comparison`
lands, the cases run the audit step on engine tables built in the documented shapes, with
exact-ID links (enrollment ID = registry ID) plus the links a case lists.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

import shared_runs
from yidan.engine import connect
from yidan.identity.terms import parse_term
from yidan.pipeline.audit import AUDIT_STEPS
from yidan.pipeline.context import RunContext, RunInputs
from yidan.settings import RunConfig

RULES = Path(__file__).parent / "rules" / "audit"
CASES = sorted(p for p in RULES.glob("*.toml") if not p.name.startswith("_"))
MONEY = pa.decimal128(14, 2)

SHAPES: dict[str, dict[str, pa.DataType]] = {
    "reg_persons": {
        "reg_key": pa.int64(), "person_id": pa.string(), "id_valid": pa.bool_(), "name": pa.string(),
        "category": pa.string(), "recognized_on": pa.date32(), "removed_on": pa.date32(),
        "hukou_code": pa.string(), "hukou_county": pa.string(), "hukou_township": pa.string(),
        "hukou_village": pa.string(),
    },
    "enrollment": {
        "student_no": pa.string(), "id_number": pa.string(), "name": pa.string(), "school_code": pa.string(),
        "school_county_code": pa.string(), "stage": pa.string(), "enrollment_status": pa.string(),
        "boarding": pa.string(), "term": pa.string(), "_file": pa.string(), "_row": pa.int32(),
    },
    "links": {
        "person_id": pa.string(), "reg_key": pa.int64(), "student_no": pa.string(), "method": pa.string(),
        "match_probability": pa.float64(), "decision": pa.string(),
    },
    "out_of_province": {
        "id_number": pa.string(), "name": pa.string(), "province": pa.string(), "stage": pa.string(),
        "enrollment_status": pa.string(), "aided_there": pa.string(), "term": pa.string(),
    },
    "aid": {
        "id_number": pa.string(), "name": pa.string(), "student_no": pa.string(),
        "programme_code": pa.string(), "term": pa.string(), "amount": MONEY,
        "payer_county_code": pa.string(), "paid_on": pa.date32(), "grade": pa.string(),
        "_file": pa.string(), "_row": pa.int32(),
    },
    "targets": {
        "id_number": pa.string(), "name": pa.string(), "category": pa.string(), "recognized_on": pa.date32(),
        "removed_on": pa.date32(), "source": pa.string(),
    },
    "policies": {
        "programme_code": pa.string(), "programme_name": pa.string(), "stages": pa.list_(pa.string()),
        "boarding_rule": pa.string(), "target_categories": pa.list_(pa.string()),
        "amount_per_term": MONEY, "first_term": pa.string(), "last_term": pa.string(),
        "payer_rule": pa.string(), "grade": pa.string(), "region": pa.string(), "share_central": MONEY,
        "share_province": MONEY, "approved_share": MONEY, "pay_within_days": pa.string(),
        "_file": pa.string(), "_row": pa.int32(),
    },
}


def _arrow(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    shape = SHAPES[name]
    cols: dict[str, list[Any]] = {c: [] for c in shape}
    for row in rows:
        unknown = set(row) - set(shape)
        assert not unknown, f"{name}: unknown columns {unknown}"
        for c, t in shape.items():
            v = row.get(c)
            if v is not None and t == MONEY:
                v = Decimal(str(v))
            cols[c].append(v)
    return pa.table({c: pa.array(v, type=shape[c]) for c, v in cols.items()})


def _expand(case: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The case's rows in the engine's shapes (shorthands: enrollment `person`, registry `hukou_code`)."""
    persons = []
    for i, r in enumerate(case.get("registry", [])):
        code = r["hukou_code"]
        persons.append({**r, "reg_key": i + 1, "id_valid": True, "hukou_county": code[:6],
                        "hukou_township": code[:9] if len(code) >= 9 else None,
                        "hukou_village": code[:12] if len(code) >= 12 else None})
    enrollment = []
    for i, r in enumerate(case.get("enrollment", [])):
        r = dict(r)
        who = r.pop("person", None)
        if who:
            r.setdefault("student_no", "G" + who)
            r.setdefault("id_number", who)
        r.setdefault("enrollment_status", "在读")
        enrollment.append({**r, "_file": "enrollment.csv", "_row": i + 2})
    keys = {p["person_id"]: p["reg_key"] for p in persons}
    links = [
        {"person_id": e["id_number"], "reg_key": keys[e["id_number"]], "student_no": e["student_no"],
         "method": "id", "match_probability": 1.0, "decision": "accepted"}
        for e in enrollment if e.get("id_number") in keys
    ]
    links = list({(x["person_id"], x["student_no"]): x for x in links}.values())
    links += [{"reg_key": keys.get(x["person_id"]), **x} for x in case.get("links", [])]
    aid = [{**r, "_file": "aid.csv", "_row": i + 2} for i, r in enumerate(case.get("aid", []))]
    catalog = tomllib.loads((RULES / "_catalog.toml").read_text(encoding="utf-8"))["policies"]
    policies = [{**r, "_file": "policies.csv", "_row": i + 2}
                for i, r in enumerate(case.get("policies", catalog) + case.get("more_policies", []))]
    return {
        "reg_persons": persons, "enrollment": enrollment, "links": links,
        "out_of_province": case.get("out_of_province", []), "aid": aid,
        "policies": policies,
        **({"targets": case["targets"]} if "targets" in case else {}),
    }


def run_case(case: dict[str, Any], *, skip: tuple[str, ...] = ()) -> RunContext:
    """Run the audit step on the case's tables; `skip` leaves input tables out (to test skipping)."""
    terms = [parse_term(t) for t in case["audit_terms"]]
    engine = connect()
    ctx = RunContext(engine=engine, config=RunConfig(), term=parse_term(case.get("run_term", "2021春")),
                     inputs=RunInputs(registry=[], enrollment=[]), audit_terms=terms,
                     allow_missing_terms=case.get("allow_missing_terms", False))
    for name, rows in _expand(case).items():
        if name not in skip:
            ctx.put(name, ibis.memtable(_arrow(name, rows)))
    for step in AUDIT_STEPS:
        step.run(ctx)
    return ctx


def findings_of(ctx: RunContext) -> list[dict[str, Any]]:
    return ctx.get("aid_findings").to_pyarrow().to_pylist()


@dataclass(frozen=True)
class Outcome:
    case: dict[str, Any]
    findings: list[dict[str, Any]]
    totals: list[dict[str, Any]]
    notes: dict[str, Any]


def outcome(stem: str) -> Outcome:
    """The audit of one rule file, run once per test session (the engine's compile time dominates).

    Kept per mutant too: `make mutants` (mutmut) runs the tests once, then forks a process per mutant
    that inherits this cache; without the mutant in the key every mutant would be judged on the
    unmutated audit's findings and "survive"."""
    return _outcome(stem, os.environ.get("MUTANT_UNDER_TEST", ""))


def _outcome(stem: str, mutant: str) -> Outcome:
    # shared by the xdist workers too (test_audit_spark compares Spark's findings with these)
    return shared_runs.once(f"audit-outcome-{stem}-{mutant}", lambda _folder: _audit(stem))


def _audit(stem: str) -> Outcome:
    case = tomllib.loads((RULES / f"{stem}.toml").read_text(encoding="utf-8"))
    ctx = run_case(case)
    return Outcome(case, findings_of(ctx), ctx.get("aid_totals").to_pyarrow().to_pylist(), ctx.notes["audit"])


def _key(f: dict[str, Any]) -> tuple[Any, ...]:
    return (f["code"], f["person_id"], f["term"], f["programme_code"], f["county"],
            Decimal(str(f["amount_expected"])), Decimal(str(f["amount_paid"])))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_audit_rule_case_raises_exactly_the_expected_findings(path: Path) -> None:
    result = outcome(path.stem)
    case, got = result.case, result.findings
    expected = case.get("expected", [])
    assert sorted(_key(f) for f in got) == sorted(_key(e) for e in expected), case["description"]
    by_key = {(f["code"], f["person_id"], f["term"], f["programme_code"]): f for f in got}
    for e in expected:
        f = by_key[(e["code"], e["person_id"], e["term"], e["programme_code"])]
        if "detail" in e:
            assert f["detail"] == e["detail"]
        for part in e.get("detail_contains", []):
            assert part in f["detail"], f["detail"]
        for field in ("name", "township", "village", "school_code"):
            if field in e:
                assert f[field] == e[field], (field, f[field])
        for part in e.get("evidence_contains", []):
            assert part in f["evidence"], f["evidence"]
        assert f["finding_key"] == f"{e['code']}|{e['term']}|{e['programme_code']}|{e['person_id']}"
    assert result.notes["terms_not_audited"] == case.get("expected_not_audited", [])
    shares = result.notes.get("approved_share", [])
    for want in case.get("expected_approved_share", []):
        row = [r for r in shares if (r["county"], r["programme_code"], r["term"]) ==
               (want["county"], want["programme_code"], want["term"])]
        assert row and {k: row[0][k] for k in want} == want, (want, shares)
    assert len(shares) == len(case.get("expected_approved_share", [])), shares
    totals = result.totals
    for t in case.get("expected_totals", []):
        row = [r for r in totals if (r["county"], r["programme_code"], r["term"]) ==
               (t["county"], t["programme_code"], t["term"])]
        assert len(row) == 1, t
        for k, v in t.items():
            if k not in ("county", "programme_code", "term"):
                assert Decimal(str(row[0][k])) == Decimal(str(v)), (k, row[0])


def test_every_aid_finding_code_has_a_rule_case() -> None:
    codes = set()
    for path in CASES:
        case = tomllib.loads(path.read_text(encoding="utf-8"))
        codes |= {e["code"] for e in case.get("expected", [])}
    assert codes >= {"Z01", "Z02", "Z03", "Z04", "Z05", "Z06", "Z07"}
