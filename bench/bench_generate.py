"""Benchmark: time `yidan generate --preset province` (rows per second, peak memory).

Run with `nice -n 10 python bench/bench_generate.py [--preset province] [--out DIR] [--seed N]`.
Prints one JSON line with the stage timings, rows written per table, total rows per second and the
peak resident memory of the process; the output folder is removed afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from yidan.synth import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="province")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="yidan-bench-"))
    stages: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    gs = generate(args.preset, args.seed, out, progress=lambda m: stages.append((m, time.perf_counter() - t0)))
    total = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    rows = sum(gs.rows.values())
    result = {
        "preset": args.preset, "seed": args.seed, "seconds": round(total, 1),
        "rows": gs.rows, "rows_per_second": round(rows / total),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "stages": [{"stage": m, "at_s": round(t, 1)} for m, t in stages],
        "file_mb": {k: round(v / 2**20, 1) for k, v in sizes.items()},
    }
    print(json.dumps(result, ensure_ascii=False))
    if not args.keep and args.out is None:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
