"""The same comparison on Spark local[N] beside DuckDB, per stage; DuckDB under a memory limit.

    nice -n 10 python bench/bench_spark.py --preset county                      # generate, then measure
    nice -n 10 python bench/bench_spark.py --data DIR --cases duckdb,spark      # reuse a generated set
    nice -n 10 python bench/bench_spark.py --data DIR --cases duckdb,duckdb@4GB # spilling DuckDB
    nice -n 10 python bench/bench_spark.py --data DIR --keep RUNS               # keep the runs' folders

Cases: `duckdb` (no limit), `duckdb@4GB` (memory limit, spill directory beside the run), `spark`
(`--spark-master`, default local[2]). Each case runs `yidan.pipeline.run.run_comparison` in its
own process; peak memory is the largest resident set of that process *and its children* (the
JVM for Spark), sampled every 0.2 s, and CPU seconds are those of the same process tree (user +
system, last sample per process; on a shared machine compare CPU seconds, wall time moves with load). Prints per-stage seconds per case, seconds per million
input rows, and one JSON line with every figure (docs/sizing.md is written from these).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def tree_rss_mb(root: int, cpu: dict[int, float] | None = None) -> float:
    """Resident memory of `root` and all its descendants (Linux /proc), in MB.

    With `cpu`, also records each process's CPU seconds so far (user + system) into it.
    """
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    ticks: dict[int, float] = {}
    hz = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        ticks[pid] = (int(fields[11]) + int(fields[12])) / hz
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        if cpu is not None and pid in ticks:
            cpu[pid] = max(cpu.get(pid, 0.0), ticks[pid])
        stack.extend(children.get(pid, []))
    return total / 2**20


def inputs_of(data: Path) -> tuple[Any, Any, list[Any]]:
    from yidan.identity.terms import parse_term
    from yidan.pipeline.context import RunInputs

    meta = json.loads((data / "generated.json").read_text(encoding="utf-8"))
    files = {t: [data / f for f in fs] for t, fs in meta["files"].items()}
    for table, copies in (meta.get("parquet_copies") or {}).items():  # Parquet where the generator wrote it
        if copies:
            files[table] = [data / f for f in (copies if isinstance(copies, list) else [copies])]
    inputs = RunInputs(
        registry=files["registry"], enrollment=files["enrollment"],
        out_of_province=files.get("out_of_province", []), verifications=files.get("verifications", []),
        aid=files.get("aid", []), policies=files.get("policies", []),
    )
    return inputs, parse_term(meta["run_term"]), [parse_term(t) for t in meta["audit_terms"]]


def run_case(data: Path, case: str, out: Path, master: str) -> dict[str, Any]:
    """One measured run (in this process); returns its figures."""
    from yidan.pipeline.run import run_comparison
    from yidan.settings import EngineConfig, RunConfig

    name, _, limit = case.partition("@")
    engine = EngineConfig(name=name, spark_master=master, memory_limit=limit or None,
                          temp_directory=str(out.parent / f"spill-{case.replace('@', '-')}") if limit else None)
    inputs, term, audit = inputs_of(data)
    t0 = time.perf_counter()
    run = run_comparison(inputs, term=term, out_dir=out, config=RunConfig(engine=engine), audit_terms=audit)
    wall = time.perf_counter() - t0
    m = run.manifest
    return {"case": case, "wall_s": round(wall, 2), "timings": m["timings"],
            "table_timings": m.get("table_timings", {}),
            "rows": {i["table"]: i["read"] for i in m["inputs"]}, "persons": m["totals"].get("persons"),
            "findings": m["totals"].get("findings"), "linkage": m.get("notes", {}).get("linkage", {})}


def measured(args: list[str]) -> dict[str, Any]:
    """Run one case in a fresh process, sampling the memory of its process tree."""
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    peak = [0.0]
    cpu: dict[int, float] = {}  # pid -> CPU seconds, last sample (the JVM's are gone once it exits)

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_mb(proc.pid, cpu))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        return {"case": args, "failed": True, "error": err[-3000:]}
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = round(peak[0], 1)
    result["cpu_s"] = round(sum(cpu.values()), 1)  # sampled every 0.2 s: the last fraction is missed
    return result


def per_million(result: dict[str, Any]) -> dict[str, float]:
    """Seconds per million input rows (registry + enrollment + aid), per stage."""
    rows = sum(v for k, v in result.get("rows", {}).items() if k in ("registry", "enrollment", "aid"))
    m = max(rows, 1) / 1e6
    return {stage: round(secs / m, 2) for stage, secs in result.get("timings", {}).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="folder written by yidan generate")
    ap.add_argument("--preset", default="county", help="generate this preset when --data is not given")
    ap.add_argument("--seed", type=int, default=2021)
    ap.add_argument("--cases", default="duckdb,spark", help="duckdb, duckdb@4GB, spark (comma-separated)")
    ap.add_argument("--spark-master", default="local[2]")
    ap.add_argument("--keep", type=Path, help="keep each case's run folder here (for compare_runs.py)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.one:
        print(json.dumps(run_case(a.data, a.one, a.out, a.spark_master), ensure_ascii=False))
        return

    with tempfile.TemporaryDirectory(prefix="bench_spark_") as tmp:
        data, gen_s = a.data, None
        if data is None:
            from yidan.synth import generate

            t0 = time.perf_counter()
            data = Path(tmp) / "data"
            generate(a.preset, a.seed, data)
            gen_s = round(time.perf_counter() - t0, 1)
        result: dict[str, Any] = {"data": str(data), "preset": a.preset if a.data is None else None,
                                  "generate_s": gen_s, "cpus": os.cpu_count(), "load": os.getloadavg(), "runs": []}
        for case in a.cases.split(","):
            out = (a.keep or Path(tmp)) / f"run-{case.replace('@', '-')}"
            run = measured(["--one", case, "--data", str(data), "--out", str(out), "--spark-master", a.spark_master])
            result["runs"].append(run)
            if run.get("failed"):
                print(f"[{case}] 失败：{run['error'][-500:]}")
                continue
            run["s_per_million_rows"] = per_million(run)
            print(f"[{case}] 比对 {run['wall_s']} s，CPU {run['cpu_s']} s，峰值内存（含子进程）{run['peak_mb']} MB，"
                  f"输入 {run['rows']}")
            for stage, secs in run["timings"].items():
                print(f"    {stage:<20} {secs:>9.2f} s   {run['s_per_million_rows'][stage]:>9.2f} s/百万行")
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
