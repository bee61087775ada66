"""Linkage benchmark: yidan's linkage steps vs Splink's default workflow, on the synth truth.

    nice -n 10 python bench/bench_linkage.py --preset county --seed 1 [--data DIR] [--skip-peer]

Both sides read the same data: the synth preset loaded by the real `load` and
`persons_base` steps. yidan runs its four linkage steps; the peer is Splink as its
tutorial would have it (name with Jaro-Winkler levels, date of birth, gender, ID as a
string with Levenshtein levels, county; u by random sampling, m by EM on two blocking
rules, threshold 0.95 and no one-to-one step) on the *same residue* the exact tier
leaves. Precision, recall and F1 are measured against `truth/links.parquet`.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from yidan.engine import connect
from yidan.identity.terms import parse_term
from yidan.pipeline.context import RunContext, RunInputs
from yidan.pipeline.link import LINK_STEPS
from yidan.pipeline.load import register_tables
from yidan.pipeline.steps import LOAD, PERSONS
from yidan.settings import RunConfig


def load(data: Path, cache: Path | None = None, max_pairs_u: int | None = None) -> RunContext:
    """Load the synth set with the real steps; with `cache`, keep (or reuse) the loaded tables in a file."""
    meta = json.loads((data / "generated.json").read_text(encoding="utf-8"))
    files = {k: [data / f for f in v] for k, v in meta["files"].items()}
    inputs = RunInputs(registry=files["registry"], enrollment=files["enrollment"])
    config = RunConfig()
    if max_pairs_u:
        config.linkage.max_pairs_for_u = max_pairs_u
    reuse = cache is not None and cache.exists()
    engine = connect(config.engine, database=str(cache) if cache else ":memory:")
    ctx = RunContext(engine=engine, config=config, term=parse_term(meta["run_term"]),
                     inputs=inputs, audit_terms=[parse_term(t) for t in meta["audit_terms"]])
    if reuse:
        register_tables(ctx)
        ctx.tables["reg_persons"] = engine.ibis.table("reg_persons")
        return ctx
    LOAD.run(ctx)
    PERSONS.run(ctx)
    return ctx


def score(found: set[tuple[str, str]], accepted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict:
    tp_acc = len(accepted & truth)
    precision = tp_acc / max(len(accepted), 1)
    recall_acc = tp_acc / max(len(truth), 1)
    return {
        "precision_accepted": round(precision, 5),
        "recall_found": round(len(found & truth) / max(len(truth), 1), 5),
        "recall_accepted": round(recall_acc, 5),
        "f1_accepted": round(2 * precision * recall_acc / max(precision + recall_acc, 1e-12), 5),
        "accepted": len(accepted),
        "false_accepted": len(accepted - truth),
    }


def run_yidan(ctx: RunContext) -> dict[str, Any]:
    timings = {}
    t0 = time.perf_counter()
    for step in LINK_STEPS:
        t = time.perf_counter()
        step.run(ctx)
        timings[step.name] = round(time.perf_counter() - t, 2)
    timings["total"] = round(time.perf_counter() - t0, 2)
    return {"timings_s": timings, "notes": ctx.notes.get("linkage", {})}


def run_peer(ctx: RunContext, seed: int) -> tuple[set[tuple[str, str]], dict[str, float]]:
    """Splink's tutorial workflow on the residue (registry vs students without an exact link)."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    con = ctx.engine.duckdb
    con.execute("""
        CREATE OR REPLACE TABLE peer_reg AS
        SELECT CAST(reg_key AS VARCHAR) AS unique_id, person_id AS id_number, name, gender,
               CAST(birth_date AS VARCHAR) AS birth_date, hukou_county AS county
        FROM reg_persons WHERE reg_key NOT IN (SELECT reg_key FROM links_exact)""")
    con.execute("""
        CREATE OR REPLACE TABLE peer_stu AS
        SELECT student_no AS unique_id, link_id AS id_number, name, gender,
               CAST(birth_date AS VARCHAR) AS birth_date, school_county_code AS county
        FROM students WHERE student_no NOT IN (SELECT student_no FROM links_exact)""")
    t0 = time.perf_counter()
    api = DuckDBAPI(connection=con)
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.92, 0.88]),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("gender"),
            cl.LevenshteinAtThresholds("id_number", [1, 2]),
            cl.ExactMatch("county"),
        ],
        blocking_rules_to_generate_predictions=[block_on("birth_date"), block_on("name")],
    )
    regs = [api.register("peer_reg", dataset_display_name="peer_reg"),
            api.register("peer_stu", dataset_display_name="peer_stu")]
    linker = Linker(regs, settings, log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name"))
    pred = linker.inference.predict(threshold_match_probability=0.95).as_pyarrow_table().to_pylist()
    elapsed = time.perf_counter() - t0
    ids = dict(con.execute("SELECT CAST(reg_key AS VARCHAR), person_id FROM reg_persons").fetchall())
    out = set()
    for r in pred:
        reg, stu = (r["unique_id_l"], r["unique_id_r"])
        if r["source_dataset_l"] != "peer_reg":
            reg, stu = stu, reg
        out.add((ids[reg], stu))
    return out, {"total": round(elapsed, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="county")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--max-pairs-u", type=int, default=None, help="override linkage.max_pairs_for_u")
    ap.add_argument("--cache", type=Path, default=None, help="DuckDB file keeping the loaded tables between runs")
    args = ap.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    data = args.data or Path(f"/tmp/yidan-bench-{args.preset}-{args.seed}")
    if not (data / "generated.json").exists():
        from yidan.synth import generate

        generate(args.preset, args.seed, data)
    t = time.perf_counter()
    ctx = load(data, args.cache, args.max_pairs_u)
    load_s = round(time.perf_counter() - t, 2)
    ours = run_yidan(ctx)
    links = ctx.get("links").to_pyarrow().to_pylist()
    persons = {r for (r,) in ctx.engine.duckdb.execute("SELECT person_id FROM reg_persons").fetchall()}
    truth_all = pq.read_table(data / "truth" / "links.parquet").to_pylist()
    truth = {(r["person_id"], r["student_no"]) for r in truth_all if r["person_id"] in persons}
    found = {(r["person_id"], r["student_no"]) for r in links}
    accepted = {(r["person_id"], r["student_no"]) for r in links if r["decision"] == "accepted"}
    exact = {(r["person_id"], r["student_no"]) for r in links if r["method"] != "linkage"}
    residue_truth = truth - exact
    model_found = {p for p in found if p not in exact}
    model_acc = {p for p in accepted if p not in exact}
    notes = ours["notes"]
    report: dict[str, Any] = {
        "preset": args.preset, "seed": args.seed, "load_s": load_s, "yidan": ours["timings_s"],
        "overall": score(found, accepted, truth),
        "residue": score(model_found, model_acc, residue_truth),
        "review": notes.get("review"), "residue_persons": notes.get("residue_persons"),
        "review_share_of_residue": round((notes.get("review") or 0) / max(notes.get("residue_persons") or 1, 1), 5),
        "splink_timings": notes.get("splink_timings"),
        "false_accepted": sorted(accepted - truth)[:20],
        "missed": sorted(truth - found)[:20],
    }
    print(json.dumps(report, ensure_ascii=False), file=sys.stderr, flush=True)  # ours, before the peer runs
    if not args.skip_peer:
        peer, peer_t = run_peer(ctx, args.seed)
        report["peer"] = {"timings_s": peer_t, "residue": score(peer, peer, residue_truth)}
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
