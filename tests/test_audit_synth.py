"""The aid audit in the real pipeline (ingest, linkage, classify, audit) against the synthetic
province's ground truth (yidan.synth).

The generator knows who was entitled to what and which payments it changed; the run must find
exactly those findings (precision and recall per Z code ≥ 99.5 %), with the same expected and
paid amounts per county to the fen, and the summary's paid totals must equal the aid file. The
province preset is checked the same way by bench/bench_audit.py (too slow for the suite).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from yidan.contract.codes import FINDING_CODES

Z_CODES = {c for c, f in FINDING_CODES.items() if f.family == "aid"}


def _z(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["code"] in Z_CODES]


def _sums(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    out: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal("0"), Decimal("0")])
    for r in rows:
        out[(r["county"], r["code"])][0] += r["amount_expected"] or Decimal("0")
        out[(r["county"], r["code"])][1] += r["amount_paid"] or Decimal("0")
    return {k: (v[0], v[1]) for k, v in out.items()}


def _aid_file_total(folder: Path, terms: set[str]) -> Decimal:
    total = Decimal("0")
    for path in folder.glob("aid*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            total += sum((Decimal(r["金额"]) for r in csv.DictReader(fh) if r["学期"] in terms), Decimal("0"))
    return total


def _assert_run_matches_truth(run: Any, data: Path) -> None:
    got = _z(run.findings().to_pylist())
    truth = _z(pq.read_table(data / "truth" / "findings.parquet").to_pylist())
    assert {r["code"] for r in truth} == Z_CODES  # every code is injected, so every code is measured
    for code in sorted(Z_CODES):
        g = {r["finding_key"] for r in got if r["code"] == code}
        t = {r["finding_key"] for r in truth if r["code"] == code}
        hit = len(g & t)
        assert hit >= 0.995 * len(g) and hit >= 0.995 * len(t), (code, sorted(g - t)[:3], sorted(t - g)[:3])
    assert _sums(got) == _sums(truth)
    audit = run.manifest["notes"]["audit"]
    assert audit["terms_audited"] == run.manifest["audit_terms"] and audit["terms_not_audited"] == []
    aid = [r for r in run.summary().to_pylist() if r["dimension"] == "aid"]
    paid = sum((r["amount_paid"] for r in aid), Decimal("0"))
    assert paid == _aid_file_total(data, set(audit["terms_audited"]))


def test_aid_findings_of_the_tiny_province_run_match_the_ground_truth(tiny_run: Any, tiny_dataset: Any) -> None:
    _assert_run_matches_truth(tiny_run, Path(tiny_dataset.out))


@pytest.mark.slow
def test_aid_findings_of_the_county_run_match_the_ground_truth(county_run: Any, county_dataset: Any) -> None:
    _assert_run_matches_truth(county_run, Path(county_dataset.out))
