"""Benchmark and quality check of the aid audit on a generated province (`yidan.synth`).

    nice -n 10 python bench/bench_audit.py --data DIR            # a folder `yidan generate` wrote
    nice -n 10 python bench/bench_audit.py --preset county        # generate into a temporary folder

Loads the inputs with `yidan.ingest`, builds `reg_persons` with the pipeline's own step and takes
the links from the generator's ground truth (truth/links.parquet), so the figures measure the
audit alone, not the linkage; then runs the `audit` step and compares its findings with
truth/findings.parquet: precision and recall per Z code (by finding key), and per county and code
the expected and paid amounts summed to the fen; the totals' paid_amount per paying county is
checked against the aid files themselves. Prints one JSON line: timings, peak memory, quality.

Recorded 2026-11-30 on the shared 2-core, 24 GB machine (load average 7-18 from other jobs),
DuckDB memory_limit 8GB, seed 1:
- county preset (85,837 enrollment rows, 9,307 payments, 2 terms): audit step 6.5 s; every Z code
  precision = recall = 1.0; county sums equal; paid totals equal the aid file.
- province preset (7,983,498 registry rows, 1,691,701 school-age persons, 13,198,659 enrollment
  rows, 1,662,920 payments over 2020秋 and 2021春): loading (Parquet) 496 s, persons + links 62 s,
  audit step 179 s, peak RSS of the whole process 8.2 GB; 15,090 aid findings, every Z code
  precision = recall = 1.0 (Z01 3,833; Z02 1,533; Z03 1,533; Z04 3,887; Z05 1,162; Z06 1,533;
  Z07 1,609), county sums equal to the fen, paid 1,056,175,400.00 yuan equal to the aid file.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pyarrow.parquet as pq

from yidan.engine import connect
from yidan.identity.terms import parse_term
from yidan.ingest import load_table
from yidan.pipeline.audit import AUDIT_STEPS
from yidan.pipeline.context import RunContext, RunInputs
from yidan.pipeline.persons import build_persons
from yidan.settings import EngineConfig, RunConfig

TABLES = ("registry", "enrollment", "out_of_province", "aid", "policies", "targets")


def inputs_of(data: Path) -> dict[str, list[Path]]:
    meta = json.loads((data / "generated.json").read_text(encoding="utf-8"))
    files = {t: [data / f for f in meta["files"].get(t, [])] for t in TABLES}
    for table, copies in (meta.get("parquet_copies") or {}).items():
        if table in files and copies:
            files[table] = [data / f for f in (copies if isinstance(copies, list) else [copies])]
    return files


def prepare(data: Path, engine_config: EngineConfig | None = None) -> tuple[RunContext, dict[str, float]]:
    """A run context holding the audit's input tables, as the pipeline would have them."""
    meta = json.loads((data / "generated.json").read_text(encoding="utf-8"))
    engine = connect(engine_config)
    ctx = RunContext(
        engine=engine, config=RunConfig(), term=parse_term(meta["run_term"]),
        inputs=RunInputs(registry=[], enrollment=[]), audit_terms=[parse_term(t) for t in meta["audit_terms"]],
    )
    timings: dict[str, float] = {}
    for table, paths in inputs_of(data).items():
        if not paths:
            continue
        t0 = time.perf_counter()
        load_table(engine.duckdb, table, paths, default_term=meta["run_term"])
        ctx.tables[table] = engine.ibis.table(table)
        timings[f"load_{table}"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    build_persons(ctx)
    truth = ibis.memtable(pq.read_table(data / "truth" / "links.parquet"))
    ctx.put("links", truth.select(
        "person_id", "student_no",
        method=(truth.student_no == ibis.literal("G").concat(truth.person_id)).ifelse("id", "linkage"),
        match_probability=ibis.literal(1.0), decision=ibis.literal("accepted"),
    ))
    timings["persons_and_links"] = round(time.perf_counter() - t0, 2)
    return ctx, timings


def _money(v: Any) -> Decimal:
    return Decimal(str(v)) if v is not None else Decimal("0.00")


def evaluate(ctx: RunContext, data: Path) -> dict[str, Any]:
    """Precision and recall per Z code; county sums against the truth; paid totals against the files."""
    got = ctx.get("aid_findings").to_pyarrow().to_pylist()
    truth = [r for r in pq.read_table(data / "truth" / "findings.parquet").to_pylist() if r["code"].startswith("Z")]
    codes = sorted({r["code"] for r in got} | {r["code"] for r in truth})
    quality: dict[str, Any] = {}
    for code in codes:
        g = {r["finding_key"] for r in got if r["code"] == code}
        t = {r["finding_key"] for r in truth if r["code"] == code}
        hit = len(g & t)
        quality[code] = {
            "found": len(g), "true": len(t), "correct": hit,
            "precision": round(hit / len(g), 4) if g else 1.0,
            "recall": round(hit / len(t), 4) if t else 1.0,
            "false_positives": sorted(g - t)[:5], "missed": sorted(t - g)[:5],
        }
    sums: dict[str, dict[tuple[str, str], Decimal]] = {"got": defaultdict(Decimal), "truth": defaultdict(Decimal)}
    for side, rows in (("got", got), ("truth", truth)):
        for r in rows:
            sums[side][(r["county"], r["code"] + ":expected")] += _money(r["amount_expected"])
            sums[side][(r["county"], r["code"] + ":paid")] += _money(r["amount_paid"])
    keys = set(sums["got"]) | set(sums["truth"])
    county_diff = {f"{c}/{k}": [str(sums["got"][(c, k)]), str(sums["truth"][(c, k)])]
                   for c, k in sorted(keys) if sums["got"][(c, k)] != sums["truth"][(c, k)]}
    totals = ctx.get("aid_totals")
    paid = {r["county"]: _money(r["p"]) for r in
            totals.group_by("county").aggregate(p=totals.paid_amount.sum()).to_pyarrow().to_pylist()}
    aid = ctx.get("aid")
    audited = ctx.notes["audit"]["terms_audited"]
    aid = aid.filter(aid.term.isin(audited))
    files = {r["payer_county_code"]: _money(r["p"]) for r in
             aid.group_by("payer_county_code").aggregate(p=aid.amount.sum()).to_pyarrow().to_pylist()}
    return {
        "quality": quality,
        "county_amount_differences": county_diff,
        "paid_totals_equal_files": paid == files,
        "paid_total": str(sum(paid.values(), Decimal("0"))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--preset", default="county")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--memory-limit", default=None)
    ap.add_argument("--temp-directory", default=None)
    args = ap.parse_args()
    data = args.data
    if data is None:
        from yidan.synth import generate

        data = Path(tempfile.mkdtemp(prefix="yidan-bench-audit-"))
        generate(args.preset, args.seed, data)
    ctx, timings = prepare(data, EngineConfig(memory_limit=args.memory_limit, temp_directory=args.temp_directory))
    t0 = time.perf_counter()
    for step in AUDIT_STEPS:
        step.run(ctx)
    timings["audit"] = round(time.perf_counter() - t0, 2)
    counts = {t: int(ctx.get(t).count().execute()) for t in ("aid", "enrollment", "reg_persons")}
    result = {
        "data": str(data), "rows": counts, "timings_s": timings,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "notes": ctx.notes["audit"], **evaluate(ctx, data),
    }
    print(json.dumps(result, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
