"""Benchmark: `load_table` per table, on generated data (`--data DIR`) or a synthetic enrollment CSV.

With `--data DIR` (a set written by `yidan generate`, e.g. the province-tenth preset) each of
registry, enrollment and aid is loaded from its Parquet copy and from its CSV, each in its own
process (so peak RSS is that load's), and one JSON line per load gives wall and CPU seconds
(user + sys, all DuckDB threads included), per million rows too, peak RSS, and the time of each
SQL statement ingest ran (the proxy connection below). `--profile DIR` also writes DuckDB's JSON
profile of every statement and prints the costliest operators of the slowest ones.

    nice -n 10 python bench/bench_ingest.py --data /tmp/p10 --formats parquet,csv
    nice -n 10 python bench/bench_ingest.py --data /tmp/p10 --tables enrollment --formats parquet --profile /tmp/prof

Without `--data` it generates an enrollment-like CSV of N rows (default 12 million) with numpy
(valid IDs with a sprinkling of typos, Excel-mangled IDs and bad dates, so the reject path is
exercised too), writes a UTF-8 CSV and a GB18030 variant, and times `load_table` on each:

    nice -n 10 python bench/bench_ingest.py --rows 12000000 --dir /tmp/yidan-bench

Recorded 2026-11-30 on the shared 2-core, 24 GB machine while ~8 other jobs ran (load average
15-40, so wall time is mostly waiting; CPU seconds are the comparable figure), memory_limit 4GB,
one process per variant:
    UTF-8    12 M rows (1.66 GB): 559 s wall, 106 CPU s, peak RSS 3.9 GB, 17,840 rows rejected
    GB18030  12 M rows (1.46 GB): 361 s wall, 113 CPU s (transcoding included), peak RSS 3.9 GB
Per million rows, single thread: CSV read 1.5 CPU s, validation 5.2 CPU s (ID columns ~1.8 of it).
Figures on the province-tenth preset: bench/README.md, section bench_ingest.py.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
COUNTIES = np.array(["430124", "430121", "430181", "431121", "433130", "430502", "430611", "431224"])
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红")


def _pick(rng: np.random.Generator, values: list[str] | np.ndarray, n: int) -> pa.Array:
    return pa.array(np.asarray(values)).take(pa.array(rng.integers(0, len(values), n)))


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def ids(rng: np.random.Generator, n: int) -> tuple[pa.Array, pa.Array]:
    """Valid 18-character IDs (county, birth date, sequence, check character), as Arrow strings."""
    county = COUNTIES.astype(np.int64)[rng.integers(0, len(COUNTIES), n)]
    born = np.datetime64("2003-09-01") + rng.integers(0, 365 * 15, n).astype("timedelta64[D]")
    y = born.astype("datetime64[Y]").astype(np.int64) + 1970
    m = born.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (born - born.astype("datetime64[M]")).astype(np.int64) + 1
    body = county * 10**11 + (y * 10000 + m * 100 + d) * 1000 + rng.integers(0, 1000, n)
    total = np.zeros(n, dtype=np.int64)
    for i, w in enumerate(WEIGHTS):
        total += w * ((body // 10 ** (16 - i)) % 10)
    check = pa.array(np.array(list("10X98765432"))).take(pa.array(total % 11))
    return _join(pa.array(body).cast(pa.string()), check), pa.array(born).cast(pa.string())


def generate(path: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    id_number, birth = ids(rng, n)
    faults = rng.random(n)
    mangled = pa.array(faults < 0.001)  # Excel-mangled IDs: rejected
    id_number = pc.if_else(mangled, "4.30124E+17", id_number)
    bad_date = pa.array((faults > 0.001) & (faults < 0.0015))  # impossible dates: rejected
    birth = pc.if_else(bad_date, "2010-02-30", birth)
    table = pa.table({
        "全国学籍号": _join("G", id_number),
        "身份证号": id_number,
        "姓名": _join(_pick(rng, SURNAMES, n), _pick(rng, GIVEN, n)),
        "性别": _pick(rng, ["男", "女"], n),
        "出生日期": birth,
        "学校标识码": _pick(rng, [f"21430124{i:02d}" for i in range(100)], n),
        "学校名称": _pick(rng, ["城关镇中心小学", "第一中学", "实验学校"], n),
        "学校区划代码": _pick(rng, COUNTIES, n),
        "学段": _pick(rng, ["小学", "初中", "高中", "学前"], n),
        "年级": _pick(rng, [str(i) for i in range(1, 7)], n),
        "班级": _pick(rng, [str(i) for i in range(1, 12)], n),
        "学籍状态": _pick(rng, ["在读"] * 33 + ["转出"], n),
        "就读方式": _pick(rng, [""] * 99 + ["送教上门"], n),
        "是否寄宿": _pick(rng, ["是", "否"], n),
        "状态变动日期": _pick(rng, [""] * 9 + ["2021/3/1"], n),
        "学期": _pick(rng, ["2021春", "2020-2021学年第二学期"], n),
    })
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))


def transcode(src: Path, dst: Path) -> None:
    with open(src, encoding="utf-8", newline="") as fin, open(dst, "w", encoding="gb18030", newline="") as fout:
        while chunk := fin.read(1 << 22):
            fout.write(chunk)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(path: Path, rows: int, memory_limit: str) -> dict:
    import duckdb

    from yidan.ingest import load_table

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{path.parent / 'duckdb-tmp'}'")
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = load_table(con, "enrollment", [path], default_term="2021春")
    seconds = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    stats = result.files[0]
    assert stats.read == rows == stats.loaded + stats.rejected
    con.close()
    return {"file": path.name, "encoding": stats.encoding, "rows": rows, "loaded": stats.loaded,
            "rejected": stats.rejected, "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "rows_per_s": int(rows / seconds),
            "peak_rss_mb": int(peak_rss_mb())}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class TimedConnection:
    """A DuckDB connection that records wall and CPU seconds of every statement run through it."""

    def __init__(self, con, profile_dir: Path | None = None) -> None:
        self._con = con
        self._profile_dir = profile_dir
        self.statements: list[dict] = []

    def __getattr__(self, name: str):
        return getattr(self._con, name)

    def _timed(self, method: str, sql: str, *args):
        n = len(self.statements)
        if self._profile_dir is not None:  # (nothing may run after the statement: it holds the result)
            self._con.execute("PRAGMA enable_profiling = 'json'")
            self._con.execute(f"SET profiling_output = '{self._profile_dir / f'{n:03d}.json'}'")
        wall, cpu = time.perf_counter(), _cpu()
        try:
            return getattr(self._con, method)(sql, *args)
        finally:
            wall, cpu = time.perf_counter() - wall, _cpu() - cpu
            self.statements.append({"n": n, "sql": " ".join(sql.split())[:90], "wall": wall, "cpu": cpu})

    def execute(self, sql: str, *args):
        return self._timed("execute", sql, *args)

    def executemany(self, sql: str, *args):
        return self._timed("executemany", sql, *args)


def _operators(node: dict, out: list) -> None:
    if node.get("timing") is not None and node.get("type"):
        out.append((node["timing"], node["type"], node.get("intermediate_rows"),
                    json.dumps(node.get("extra_info", {}), ensure_ascii=False)[:160]))
    for child in node.get("children", []):
        _operators(child, out)


def load_one(table: str, path: Path, memory_limit: str, threads: int | None, profile_dir: Path | None,
             staging: str = "auto") -> dict:
    """One `load_table` in this process: timings, per-statement figures, peak RSS."""
    import duckdb

    from yidan.ingest import load_table, parquet_reader

    if staging != "auto":  # Parquet straight from the file (view) or copied first (table), whatever its row groups
        parquet_reader._streams_evenly = lambda con, path: staging == "view"  # type: ignore[assignment]

    raw = duckdb.connect()
    raw.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        raw.execute(f"SET threads = {threads}")
    if profile_dir is not None:
        profile_dir = profile_dir / f"{table}_{path.suffix.lstrip('.')}"
        profile_dir.mkdir(parents=True, exist_ok=True)
    con = TimedConnection(raw, profile_dir)
    cpu0, start = _cpu(), time.perf_counter()
    result = load_table(con, table, [path], default_term="2021春")
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu0
    stats = result.files[0]
    assert stats.read == stats.loaded + stats.rejected
    rows = stats.read
    checksum = raw.execute(
        f'SELECT count(*), sum(hash(*COLUMNS(* EXCLUDE (_file)))) FROM "{table}"').fetchone() or ()
    rejects = raw.execute(
        'SELECT count(*), sum(hash(file, row_number, "column", value, reason)) FROM rejects').fetchone() or ()
    top = sorted(con.statements, key=lambda st: -st["wall"])[:6]
    out = {
        "table": table, "format": path.suffix.lstrip("."), "staging": staging, "rows": rows, "loaded": stats.loaded,
        "rejected": stats.rejected, "wall_s": round(seconds, 2), "cpu_s": round(cpu, 2),
        "wall_s_per_m": round(seconds / rows * 1e6, 2), "cpu_s_per_m": round(cpu / rows * 1e6, 2),
        "peak_rss_mb": int(peak_rss_mb()), "threads": (raw.execute("SELECT current_setting('threads')").fetchone() or ("?",))[0],
        "table_hash": [int(v) if v is not None else None for v in checksum],
        "rejects_hash": [int(v) if v is not None else None for v in rejects],
        "statements": [{**st, "wall": round(st["wall"], 2), "cpu": round(st["cpu"], 2)} for st in top],
    }
    if profile_dir is not None:
        ops: list = []
        for st in top[:3]:
            prof = profile_dir / f"{st['n']:03d}.json"
            if prof.exists():
                for node in json.loads(prof.read_text()).get("operator", []):
                    _operators(node, ops)
        out["operators"] = [
            {"s": round(t, 2), "type": ty, "rows": r, "info": info} for t, ty, r, info in sorted(ops, reverse=True)[:12]]
    return out


def run_data(data: Path, tables: list[str], formats: list[str], memory_limit: str, threads: int | None,
             profile_dir: Path | None, staging: str = "auto") -> None:
    """Each (table, format) of a generated set in its own process; one JSON line each."""
    meta = json.loads((data / "generated.json").read_text(encoding="utf-8"))
    for fmt in formats:
        for table in tables:
            if fmt == "parquet":
                name = meta.get("parquet_copies", {}).get(table)
            else:
                name = next((f for f in meta["files"].get(table, []) if f.endswith(".csv")), None)
            if name is None:
                continue
            cmd = [sys.executable, __file__, "--one", table, "--file", str(data / name),
                   "--memory-limit", memory_limit, "--staging", staging]
            if threads:
                cmd += ["--threads", str(threads)]
            if profile_dir is not None:
                cmd += ["--profile", str(profile_dir)]
            line = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ).stdout
            print(line.strip().splitlines()[-1], flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=12_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/yidan-bench"))
    parser.add_argument("--skip-gb18030", action="store_true")
    parser.add_argument("--only-gb18030", action="store_true", help="run only the GB18030 variant (own process)")
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit (it spills to disk beyond)")
    parser.add_argument("--data", type=Path, help="a generated set (yidan generate): load its tables instead")
    parser.add_argument("--tables", default="registry,enrollment,aid")
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's, the core count)")
    parser.add_argument("--profile", type=Path, help="write DuckDB's JSON profile of every statement here")
    parser.add_argument("--staging", choices=("auto", "view", "table"), default="auto",
                        help="Parquet: validate from the file (view), from a copy (table), or as ingest decides")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one table, in this process
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(load_one(args.one, args.file, args.memory_limit, args.threads, args.profile, args.staging),
                         ensure_ascii=False), flush=True)
        return
    if args.data:
        run_data(args.data, args.tables.split(","), args.formats.split(","), args.memory_limit, args.threads,
                 args.profile, args.staging)
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    utf8 = args.dir / f"enrollment_{args.rows}.csv"
    if not utf8.exists():
        t = time.perf_counter()
        generate(utf8, args.rows)
        print(f"generated {utf8} ({utf8.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s")
    if not args.only_gb18030:
        print(run(utf8, args.rows, args.memory_limit), flush=True)
    if not args.skip_gb18030:
        gb = args.dir / f"enrollment_{args.rows}_gb18030.csv"
        if not gb.exists():
            transcode(utf8, gb)
        print(run(gb, args.rows, args.memory_limit), flush=True)


if __name__ == "__main__":
    main()
