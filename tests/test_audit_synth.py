"""The audit against the synthetic province's ground truth (yidan.synth).

The generator knows who was entitled to what and which payments it changed; the audit must find
exactly those findings (precision and recall per Z code ≥ 99.5 %), with the same expected and paid
amounts per county to the fen, and its paid totals must equal the aid files. Links come from the
ground truth so this measures the audit, not the linkage. The county and province presets are
checked the same way by bench/bench_audit.py (too slow for the suite).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from yidan.pipeline.audit import AUDIT_STEPS


def _bench() -> ModuleType:
    path = Path(__file__).parents[1] / "bench" / "bench_audit.py"
    spec = importlib.util.spec_from_file_location("bench_audit", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _audit_generated(preset: str, out: Path) -> dict:
    from yidan.synth import generate

    generate(preset, 7, out)
    bench = _bench()
    ctx, _ = bench.prepare(out)
    for step in AUDIT_STEPS:
        step.run(ctx)
    result = bench.evaluate(ctx, out)
    ctx.engine.close()
    return result


def _assert_matches_truth(result: dict) -> None:
    quality = result["quality"]
    assert set(quality) == {"Z01", "Z02", "Z03", "Z04", "Z05", "Z06", "Z07"}
    for code, q in quality.items():
        assert q["precision"] >= 0.995 and q["recall"] >= 0.995, (code, q)
    assert result["county_amount_differences"] == {}
    assert result["paid_totals_equal_files"]


def test_audit_of_the_tiny_generated_province_matches_its_ground_truth(tmp_path: Path) -> None:
    _assert_matches_truth(_audit_generated("tiny", tmp_path / "tiny"))

