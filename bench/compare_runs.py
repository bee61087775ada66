"""Are two run directories the same result? Hash-compare every output of run A with run B.

    python bench/compare_runs.py RUN_A RUN_B            # e.g. main's run and this branch's, same data

For every declared output (persons — the statuses —, links, findings, summary, rejects) it
compares the column names and types, the row count, an order-independent hash of the rows (a
sum of DuckDB row hashes: equal = the same rows, whatever their order) and whether the files
hold the same rows in the same order (the writer sorts every output). Then the manifest's
totals (persons by status, findings by code, rejected rows) and the per-file accounting. For a
difference it prints how many rows each side has that the other lacks, and a few of them.
Exits 1 when anything differs. Run time, ids and timings are not compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _table_report(con: Any, a: Path, b: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    ta, tb = pq.read_table(a), pq.read_table(b)
    out: dict[str, Any] = {"rows": [ta.num_rows, tb.num_rows],
                           "schema_equal": ta.schema.remove_metadata() == tb.schema.remove_metadata()}
    hashes = []
    for name, t in (("a", ta), ("b", tb)):
        con.register(name, t)
        hashes.append(con.execute(f"SELECT coalesce(sum(hash({name})::HUGEINT), 0)::VARCHAR FROM {name}").fetchall()[0][0])
    out["hash"] = hashes
    out["same_rows"] = hashes[0] == hashes[1] and ta.num_rows == tb.num_rows
    out["same_order"] = out["schema_equal"] and ta.equals(tb)
    if not out["same_rows"] and out["schema_equal"]:
        only_a = con.execute("SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)").fetchall()[0][0]
        only_b = con.execute("SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)").fetchall()[0][0]
        out["only_a"], out["only_b"] = only_a, only_b
        out["sample_only_a"] = [str(r) for r in con.execute(
            "SELECT * FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b) LIMIT 3").fetchall()]
        out["sample_only_b"] = [str(r) for r in con.execute(
            "SELECT * FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a) LIMIT 3").fetchall()]
    elif not out["schema_equal"]:
        out["schema_a"] = str(ta.schema.remove_metadata())
        out["schema_b"] = str(tb.schema.remove_metadata())
    con.unregister("a")
    con.unregister("b")
    return out


def _manifest_facts(run: Path) -> dict[str, Any]:
    m = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    inputs = [{k: v for k, v in i.items() if k != "path"} for i in m.get("inputs", [])]
    linkage = {k: v for k, v in (m.get("notes", {}).get("linkage") or {}).items()
               if k not in ("m_u", "timings", "splink_timings") and not k.endswith("_s")}
    return {"status": m.get("status"), "totals": m.get("totals"), "inputs": inputs, "linkage": linkage}


def compare(a: Path, b: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    names = sorted({p.name for p in a.glob("*.parquet")} | {p.name for p in b.glob("*.parquet")})
    result: dict[str, Any] = {"outputs": {}, "equal": True}
    for name in names:
        pa_, pb = a / name, b / name
        if not (pa_.exists() and pb.exists()):
            result["outputs"][name] = {"missing_in": "a" if not pa_.exists() else "b"}
            result["equal"] = False
            continue
        rep = _table_report(con, pa_, pb)
        result["outputs"][name] = rep
        result["equal"] &= bool(rep["same_rows"] and rep["schema_equal"])
    fa, fb = _manifest_facts(a), _manifest_facts(b)
    result["manifest_equal"] = fa == fb
    if fa != fb:
        result["manifest"] = {k: [fa[k], fb[k]] for k in fa if fa[k] != fb.get(k)}
    result["equal"] &= result["manifest_equal"]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    args = ap.parse_args()
    result = compare(args.a, args.b)
    for name, rep in result["outputs"].items():
        if "missing_in" in rep:
            print(f"{name:<20} 只在一边：缺于 {rep['missing_in']}")
            continue
        verdict = "相同" if rep["same_rows"] and rep["schema_equal"] else "不同"
        order = "，顺序也相同" if rep["same_order"] else ("，顺序不同" if verdict == "相同" else "")
        print(f"{name:<20} {verdict}{order}：{rep['rows'][0]} / {rep['rows'][1]} 行")
        if verdict == "不同":
            print("    " + json.dumps({k: v for k, v in rep.items() if k not in ("hash",)}, ensure_ascii=False))
    print(f"manifest 汇总 {'相同' if result['manifest_equal'] else '不同'}")
    if not result["manifest_equal"]:
        print("    " + json.dumps(result["manifest"], ensure_ascii=False)[:2000])
    print(json.dumps({"equal": result["equal"]}, ensure_ascii=False))
    sys.exit(0 if result["equal"] else 1)


if __name__ == "__main__":
    main()
