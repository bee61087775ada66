"""Benchmark: the largest county workbook, its time and peak memory.

    nice -n 10 python bench/bench_report.py --run RUN_DIR          # a real run (e.g. the province preset)
    nice -n 10 python bench/bench_report.py --findings 50000       # a synthetic county of that size

With --run, the county with the most findings is written. Without it, a run directory with
one county holding N findings (the contract's columns, Chinese text of realistic length) is
made first, so the writer can be measured before a province-sized run exists. Each size runs
in a fresh process, so the peak resident memory (ru_maxrss) is that size's alone; a flat
peak across sizes is what XlsxWriter's constant-memory mode promises. `cpu_s` is the process's
CPU time: on a shared machine it is the figure to compare. Prints one JSON line per size.
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


def synthetic_run(path: Path, n: int) -> Path:
    """A complete run directory: one county (430124) with n findings across every code."""
    import duckdb

    from yidan.contract.codes import FINDING_CODES, STATUSES

    path.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    codes = list(FINDING_CODES.values())
    code_case = "CASE i % 16 " + " ".join(f"WHEN {k} THEN '{c.code}'" for k, c in enumerate(codes)) + " END"
    label_case = "CASE i % 16 " + " ".join(f"WHEN {k} THEN '{c.label}'" for k, c in enumerate(codes)) + " END"
    fam_case = "CASE i % 16 " + " ".join(f"WHEN {k} THEN '{c.family}'" for k, c in enumerate(codes)) + " END"
    con.execute(f"""
        COPY (SELECT code || '|2021春|' || (CASE WHEN code LIKE 'Z%' THEN 'ZX01' ELSE '-' END) || '|' || person_id
                     AS finding_key, * FROM (
          SELECT {code_case} AS code, {label_case} AS label,
                 '430124' || strftime(DATE '2006-01-01' + (i % 4000)::INT, '%Y%m%d') || lpad((i // 4000)::VARCHAR, 4, '0')
                     AS person_id,
                 '张' || chr(19968 + (i % 5000)::INT) || chr(20000 + (i % 700)::INT) AS name, '2021春' AS term,
                 CASE WHEN i % 16 >= 9 THEN 'ZX01' END AS programme_code, '430124' AS county,
                 '430124' || lpad((100 + i % 20)::VARCHAR, 3, '0') AS township,
                 '430124' || lpad((100 + i % 20)::VARCHAR, 3, '0') || lpad((i % 300)::VARCHAR, 3, '0') AS village,
                 '43012400' || lpad((i % 90)::VARCHAR, 2, '0') AS school_code,
                 CASE WHEN i % 16 >= 9 THEN 625.00::DECIMAL(14,2) END AS amount_expected,
                 CASE WHEN i % 16 >= 9 THEN 0.00::DECIMAL(14,2) END AS amount_paid,
                 '义务教育阶段儿童无学籍、无省外学籍、无核实结论；最近一次学籍记录为宁乡市第' || (i % 90)::VARCHAR
                     || '小学三年级，状态变动日期 2020-09-01' AS detail,
                 '{{"学籍号":"G430124","学校":"宁乡市第一小学","状态":"转出","日期":"2020-09-01"}}' AS evidence,
                 {fam_case} AS family
          FROM range({n}) t(i)) ORDER BY code, person_id
        ) TO '{path / "findings.parquet"}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT 'status' AS dimension, '430124' AS county, s AS key, '2021春' AS term,
                    1000::BIGINT AS count, NULL::DECIMAL(18,2) AS amount_expected, NULL::DECIMAL(18,2) AS amount_paid,
                    NULL::DECIMAL(18,2) AS amount_missed, NULL::DECIMAL(18,2) AS amount_duplicate,
                    NULL::DECIMAL(18,2) AS amount_wrong
                    FROM unnest({list(STATUSES)}) t(s)) TO '{path / "summary.parquet"}' (FORMAT parquet)""")
    con.execute(f"COPY (SELECT 'x' AS person_id LIMIT 0) TO '{path / 'persons.parquet'}' (FORMAT parquet)")
    (path / "manifest.json").write_text(json.dumps(
        {"run_id": f"bench-{n}", "term": "2021春", "status": "complete", "finished_at": "2021-03-01T00:00:00"}),
        encoding="utf-8")
    return path


def largest_county(run_dir: Path) -> tuple[str, int]:
    import duckdb

    con = duckdb.connect()
    return con.execute(
        f"SELECT county, count(*) FROM read_parquet('{run_dir / 'findings.parquet'}') GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    ).fetchone()


def measure(run_dir: Path, out: Path) -> dict:
    """Runs in its own process (see main): write the largest county's workbook."""
    from yidan.reports import write_workbooks
    from yidan.runs.rundir import RunDir

    county, n = largest_county(run_dir)
    t0, c0 = time.perf_counter(), time.process_time()
    (path,) = write_workbooks(RunDir(run_dir), out, "county", regions=[county])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"county": county, "findings": n, "seconds": round(seconds, 2), "cpu_s": round(cpu, 2),
            "rows_per_s": round(n / seconds),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "workbook_mb": round(path.stat().st_size / 2**20, 1)}


def measure_pdfs(run_dir: Path, out: Path, by: str) -> dict:
    """Runs in its own process: the largest county's 走访台账 PDFs (one per village or school)."""
    from yidan.reports.visits import write_visit_books
    from yidan.runs.rundir import RunDir

    county, n = largest_county(run_dir)
    t0, c0 = time.perf_counter(), time.process_time()
    paths = write_visit_books(RunDir(run_dir), out, by, counties=[county])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"county": county, "findings": n, "by": by, "pdfs": len(paths), "seconds": round(seconds, 2),
            "cpu_s": round(cpu, 2), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "pdf_mb": round(sum(p.stat().st_size for p in paths) / 2**20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a run directory (the largest county is written)")
    ap.add_argument("--findings", type=int, nargs="*", default=[5_000, 50_000, 200_000],
                    help="sizes of the synthetic county (findings)")
    ap.add_argument("--pdf", choices=("village", "school"), help="the 走访台账 PDFs instead of the workbook")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_dir, out = Path(args.child[0]), Path(args.child[1])
        got = measure_pdfs(run_dir, out, args.pdf) if args.pdf else measure(run_dir, out)
        print(json.dumps(got, ensure_ascii=False))
        return
    with tempfile.TemporaryDirectory() as tmp:
        runs = [args.run] if args.run else [synthetic_run(Path(tmp) / f"run{n}", n) for n in args.findings]
        for i, run_dir in enumerate(runs):
            out = Path(tmp) / f"out{i}"
            pdf = ["--pdf", args.pdf] if args.pdf else []
            got = subprocess.run([sys.executable, __file__, *pdf, "--child", str(run_dir), str(out)],
                                 capture_output=True, text=True, check=True)
            print(got.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
