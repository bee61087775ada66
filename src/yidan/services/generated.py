"""What a generated set (`yidan generate`) asks of a comparison: its inputs, run term and audit terms.

Read from the set's `generated.json`, whose file names are relative to the set's folder. Used by
the demo, the benchmarks and the tests, so they all run a generated set the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from yidan.errors import NotFoundError
from yidan.identity.terms import Term, parse_term
from yidan.pipeline.context import RunInputs


@dataclass(frozen=True)
class GeneratedRun:
    inputs: RunInputs
    term: Term
    audit_terms: list[Term]


def generated_run(folder: Path | str) -> GeneratedRun:
    folder = Path(folder)
    try:
        meta = json.loads((folder / "generated.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"不是 yidan generate 生成的目录（缺少 generated.json）：{folder}",
                            hint="先运行 yidan generate --out DIR，再指定该目录。") from None
    files = {table: [folder / name for name in names] for table, names in meta["files"].items()}
    inputs = RunInputs(
        registry=files["registry"],
        enrollment=files["enrollment"],
        out_of_province=files.get("out_of_province", []),
        verifications=files.get("verifications", []),
        aid=files.get("aid", []),
        policies=files.get("policies", []),
        schools=files.get("schools", []), classes=files.get("classes", []), population=files.get("population", []),
        targets=files.get("targets", []),
    )
    return GeneratedRun(inputs, parse_term(meta["run_term"]), [parse_term(t) for t in meta["audit_terms"]])
