"""The whole comparison, end to end, beside the floor (a hand-written DuckDB exact join).

    nice -n 10 python bench/bench_run.py --data DIR           # a folder `yidan generate` wrote
    nice -n 10 python bench/bench_run.py --preset province     # generate into a temporary folder first

Runs `yidan.pipeline.run.run_comparison` on the generated set twice — once from the Parquet
copies of registry, enrollment and aid (where the generator wrote them), once from CSV/XLSX —
each in its own process so peak memory is that run's alone, and the floor: DuckDB reading the
same registry and enrollment files, one inner join on the ID, two anti-joins and a group-by.
Prints stage timings, wall time, peak resident memory and the ratio to the floor, then one
JSON line with every figure (see bench/README.md for recorded results and targets).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_s() -> float:
    """User + system CPU seconds of this process so far (fairer than wall time on a shared machine)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def files_of(data: Path, fmt: str) -> dict[str, list[Path]]:
    """Input files by table; `fmt` = parquet uses the generator's Parquet copies where there are some."""
    meta = json.loads((data / "generated.json").read_text(encoding="utf-8"))
    files = {t: [data / f for f in fs] for t, fs in meta["files"].items()}
    if fmt == "parquet":
        for table, copies in (meta.get("parquet_copies") or {}).items():
            if copies:
                files[table] = [data / f for f in (copies if isinstance(copies, list) else [copies])]
    return files


def run_pipeline(data: Path, fmt: str, out: Path, memory_limit: str | None, threads: int | None) -> dict[str, Any]:
    from yidan.identity.terms import parse_term
    from yidan.pipeline.context import RunInputs
    from yidan.pipeline.run import run_comparison
    from yidan.settings import EngineConfig, RunConfig

    meta = json.loads((data / "generated.json").read_text(encoding="utf-8"))
    f = files_of(data, fmt)
    inputs = RunInputs(
        registry=f["registry"], enrollment=f["enrollment"], out_of_province=f.get("out_of_province", []),
        verifications=f.get("verifications", []), aid=f.get("aid", []), policies=f.get("policies", []),
    )
    from yidan.pipeline.context import Step
    from yidan.pipeline.steps import STEPS

    config = RunConfig(engine=EngineConfig(memory_limit=memory_limit, threads=threads,
                                           temp_directory=str(out.parent / "spill")))
    stage_cpu: dict[str, float] = {}
    table_cpu: dict[str, float] = {}
    from yidan.engine import Engine

    materialize = Engine.materialize

    def cpu_materialize(self: Any, name: str, expr: Any) -> Any:  # CPU seconds per materialised table
        c = cpu_s()
        try:
            return materialize(self, name, expr)
        finally:
            table_cpu[name] = round(table_cpu.get(name, 0.0) + cpu_s() - c, 2)

    Engine.materialize = cpu_materialize  # type: ignore[method-assign]
    import yidan.ingest

    load_table = yidan.ingest.load_table

    def cpu_load_table(con: Any, table: str, *args: Any, **kwargs: Any) -> Any:  # and per input table
        c = cpu_s()
        try:
            return load_table(con, table, *args, **kwargs)
        finally:
            table_cpu[table] = round(table_cpu.get(table, 0.0) + cpu_s() - c, 2)

    yidan.ingest.load_table = cpu_load_table  # type: ignore[assignment]

    def cpu_timed(step: Step) -> Step:  # CPU seconds per stage (all threads), beside the manifest's wall times
        def run(ctx: Any) -> None:
            c = cpu_s()
            step.run(ctx)
            stage_cpu[step.name] = round(stage_cpu.get(step.name, 0.0) + cpu_s() - c, 1)

        return Step(step.name, step.label, run)

    t0, c0 = time.perf_counter(), cpu_s()
    run = run_comparison(inputs, term=parse_term(meta["run_term"]), out_dir=out, config=config,
                         audit_terms=[parse_term(t) for t in meta["audit_terms"]],
                         steps=[cpu_timed(s) for s in STEPS])
    stage_cpu["write"] = round(cpu_s() - c0 - sum(stage_cpu.values()), 1)  # the rest: writing the outputs
    wall = time.perf_counter() - t0
    m = run.manifest
    return {
        "format": fmt,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu_s() - c0, 1),
        "peak_mb": peak_mb(),
        "timings": m["timings"],
        "cpu_timings": stage_cpu,
        "table_timings": m.get("table_timings", {}),
        "table_cpu": table_cpu,
        "linkage": {k: v for k, v in (m.get("notes", {}).get("linkage") or {}).items() if k != "m_u"},
        "rows": {i["table"]: i["read"] for i in m["inputs"]},
        "persons": m["totals"].get("persons"),
        "findings": m["totals"].get("findings"),
    }


def run_floor(data: Path, fmt: str, threads: int | None, *, fair: bool = False) -> dict[str, Any]:
    """The least any exact reconciliation must do: read, join on the ID, two anti-joins, group-by.

    `fair` (issue 18): what any exact reconciliation *with aid* must do — read registry, enrollment
    and aid; registry × enrollment and aid × registry on the ID; the two anti-joins; a group-by by
    county and one by county × programme × term."""
    import duckdb

    f = files_of(data, fmt)
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")

    def utf8(path: str) -> bool:
        from yidan.ingest.scan import detect_encoding  # the ingest's own detection

        with open(path, "rb") as fh:
            return detect_encoding(fh.read(1 << 16), Path(path)).startswith("utf-8")

    def load(name: str, table: str) -> None:
        paths = [str(p) for p in f[table]]
        if all(p.endswith(".parquet") for p in paths):
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet({paths!r})")
        elif all(utf8(p) for p in paths):
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv({paths!r}, all_varchar = true, header = true)")
        else:
            # GB18030 (the generator writes the registry so, as county systems export it): DuckDB reads
            # only UTF-8 offline, so the floor transcodes with Arrow's CSV reader, as little as can be done
            import pyarrow as pa
            import pyarrow.csv as pacsv

            parts = []
            for path in paths:
                opts = pacsv.ReadOptions(encoding="gb18030", block_size=1 << 24)
                head = pacsv.open_csv(path, read_options=opts)
                types = {n: pa.string() for n in head.schema.names}
                parts.append(pacsv.read_csv(path, read_options=opts,
                                            convert_options=pacsv.ConvertOptions(column_types=types)))
            con.register("_arrow", pa.concat_tables(parts))
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _arrow")
            con.unregister("_arrow")

    def col(table: str, chinese: str, alias: str) -> str:
        names = [c[0] for c in con.execute(f"DESCRIBE {table}").fetchall()]
        return chinese if chinese in names else alias

    if fair:
        return _fair_floor(f, con, load, col)
    t0, c0 = time.perf_counter(), cpu_s()
    load("r", "registry")
    load("e", "enrollment")
    t_read = time.perf_counter() - t0
    rid, eid = col("r", "身份证号", "id_number"), col("e", "身份证号", "id_number")
    county = col("r", "户籍地区划代码", "hukou_code")
    t1 = time.perf_counter()
    joined = con.execute(f'SELECT count(*) FROM r JOIN e ON r."{rid}" = e."{eid}"').fetchone()[0]
    r_only = con.execute(f'SELECT count(*) FROM r ANTI JOIN e ON r."{rid}" = e."{eid}"').fetchone()[0]
    e_only = con.execute(f'SELECT count(*) FROM e ANTI JOIN r ON r."{rid}" = e."{eid}"').fetchone()[0]
    con.execute(f'SELECT left(r."{county}", 6) AS c, count(*) FROM r ANTI JOIN e ON r."{rid}" = e."{eid}" '
                "GROUP BY c").fetchall()
    t_join = time.perf_counter() - t1
    out: dict[str, Any] = {
        "format": fmt, "read_s": round(t_read, 2), "join_s": round(t_join, 2),
        "wall_s": round(t_read + t_join, 2), "cpu_s": round(cpu_s() - c0, 1), "peak_mb": peak_mb(),
        "joined": joined, "registry_only": r_only, "enrollment_only": e_only}
    return out


def _fair_floor(f: dict[str, list[Path]], con: Any, load: Any, col: Any) -> dict[str, Any]:
    if not f.get("aid"):
        return {"skipped": "no aid file"}
    t2, c2 = time.perf_counter(), cpu_s()
    load("r", "registry")
    load("e", "enrollment")
    load("a", "aid")
    t_read2 = time.perf_counter() - t2
    aid_id, programme = col("a", "身份证号", "id_number"), col("a", "资助项目代码", "programme_code")
    term = col("a", "学期", "term")
    rid, eid = col("r", "身份证号", "id_number"), col("e", "身份证号", "id_number")
    county = col("r", "户籍地区划代码", "hukou_code")
    t3 = time.perf_counter()
    fair = con.execute(f"""
        WITH re AS (SELECT left(r."{county}", 6) AS c, e."{eid}" IS NULL AS unmatched
                    FROM r LEFT JOIN e ON r."{rid}" = e."{eid}"),
             ar AS (SELECT left(r."{county}", 6) AS c, a."{programme}" AS p, a."{term}" AS t,
                           r."{rid}" IS NULL AS unknown
                    FROM a LEFT JOIN r ON a."{aid_id}" = r."{rid}")
        SELECT (SELECT count(*) FROM (SELECT c, count(*), count(*) FILTER (WHERE unmatched) FROM re GROUP BY c)),
               (SELECT count(*) FROM (SELECT c, p, t, count(*), count(*) FILTER (WHERE unknown) FROM ar
                                      GROUP BY c, p, t)),
               (SELECT count(*) FROM e ANTI JOIN r ON r."{rid}" = e."{eid}"),
               (SELECT count(*) FROM a ANTI JOIN r ON r."{rid}" = a."{aid_id}")
    """).fetchone()
    t_join2 = time.perf_counter() - t3
    return {"format": "fair", "read_s": round(t_read2, 2), "join_s": round(t_join2, 2),
            "wall_s": round(t_read2 + t_join2, 2),
            "cpu_s": round(cpu_s() - c2, 1), "peak_mb": peak_mb(), "county_groups": fair[0],
            "county_programme_term_groups": fair[1], "enrollment_only": fair[2], "aid_without_registry": fair[3]}


def in_subprocess(args: list[str]) -> dict[str, Any]:
    """Run one measurement in a fresh process (its own peak memory); returns its JSON line."""
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measurement {args} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="folder written by yidan generate")
    ap.add_argument("--preset", default="province", help="generate this preset when --data is not given")
    ap.add_argument("--seed", type=int, default=2021)
    ap.add_argument("--memory-limit", default=None, help="DuckDB memory limit, e.g. 6GB")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--one", choices=["pipeline", "floor", "fair_floor"], help=argparse.SUPPRESS)
    ap.add_argument("--keep", type=Path, help="keep each run directory under this folder (for compare_runs.py)")
    ap.add_argument("--format", default="parquet", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.one == "pipeline":
        print(json.dumps(run_pipeline(a.data, a.format, a.out, a.memory_limit, a.threads), ensure_ascii=False))
        return
    if a.one in ("floor", "fair_floor"):
        print(json.dumps(run_floor(a.data, a.format, a.threads, fair=a.one == "fair_floor"), ensure_ascii=False))
        return

    with tempfile.TemporaryDirectory(prefix="bench_run_") as tmp:
        data = a.data
        gen_s = None
        if data is None:
            from yidan.synth import generate

            t0 = time.perf_counter()
            data = Path(tmp) / "data"
            generate(a.preset, a.seed, data)
            gen_s = round(time.perf_counter() - t0, 1)
        extra = [*(["--memory-limit", a.memory_limit] if a.memory_limit else []),
                 *(["--threads", str(a.threads)] if a.threads else [])]
        result: dict[str, Any] = {"data": str(data), "preset": a.preset if a.data is None else None,
                                  "generate_s": gen_s, "runs": [], "floor": []}
        for fmt in a.formats.split(","):
            out = (a.keep or Path(tmp)) / f"run-{fmt}"
            run = in_subprocess(["--one", "pipeline", "--data", str(data), "--format", fmt, "--out", str(out), *extra])
            print(json.dumps({"pipeline": run}, ensure_ascii=False), flush=True)  # kept even if the floor fails
            floor = in_subprocess(["--one", "floor", "--data", str(data), "--format", fmt, *extra])
            fair = in_subprocess(["--one", "fair_floor", "--data", str(data), "--format", fmt, *extra])
            floor["fair"] = fair
            run["x_floor"] = round(run["wall_s"] / max(floor["wall_s"], 1e-9), 2)
            run["x_floor_cpu"] = round(run["cpu_s"] / max(floor["cpu_s"], 1e-9), 2)
            if "wall_s" in fair:
                run["x_fair_floor"] = round(run["wall_s"] / max(fair["wall_s"], 1e-9), 2)
                run["x_fair_floor_cpu"] = round(run["cpu_s"] / max(fair["cpu_s"], 1e-9), 2)
            result["runs"].append(run)
            result["floor"].append(floor)
            print(f"[{fmt}] 比对 {run['wall_s']} s（CPU {run['cpu_s']} s），峰值内存 {run['peak_mb']} MB；"
                  f"下限（DuckDB 精确连接）{floor['wall_s']} s（CPU {floor['cpu_s']} s），{floor['peak_mb']} MB；"
                  f"倍数 {run['x_floor']}")
            if "wall_s" in fair:
                print(f"    含资助的公平下限 {fair['wall_s']} s（CPU {fair['cpu_s']} s），{fair['peak_mb']} MB；"
                      f"倍数 {run['x_fair_floor']}（CPU {run['x_fair_floor_cpu']}）")
            for stage, secs in run["timings"].items():
                print(f"    {stage:<20} {secs:>8.2f} s（CPU {run['cpu_timings'].get(stage, 0):.1f} s）")
            slowest = sorted(run.get("table_timings", {}).items(), key=lambda kv: -kv[1])[:12]
            print("    最慢的表：" + "，".join(f"{name} {secs:.1f} s" for name, secs in slowest))
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
