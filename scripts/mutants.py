"""`make mutants`: mutation testing of the rule modules, one package at a time, with the fast tests
that cover it; the survivors and the score per package go to mutants/report.md.

A test suite that lets a mutant survive does not test the line the mutant changed, however many
tests mention it. Run it before a release (not part of `make test`: it takes tens of minutes) and
record the scores in docs/dev/testing.md.

    python scripts/mutants.py                 # every package below
    python scripts/mutants.py classify audit  # some of them
    python scripts/mutants.py --list          # the packages and their tests

Each package runs in its own folder (mutants/<package>/) holding a copy of src/ and tests/ and a
pyproject.toml whose [tool.mutmut] is the project's plus the package's files and tests, because
mutmut reads one configuration from the folder it runs in. Results are kept there: a second run
re-tests only what changed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "mutants"
SQLITE_ONLY = ["-k", "not postgres"]  # the web tests run once, on SQLite (the rules are the same on both)


@dataclass(frozen=True)
class Package:
    """One package to mutate: glob patterns of its files (as mutmut sees them) and the tests that cover it."""

    name: str
    files: tuple[str, ...]
    tests: tuple[str, ...]
    extra: tuple[str, ...] = ()  # further pytest arguments (a -k filter)


CLASSIFY_RULES = tuple(f"src/yidan/pipeline/classify/{m}.py" for m in (
    "__init__", "rule", "in_school", "enrollment_state", "out_of_province", "verification", "graduated",
    "transferred", "review", "unmatched", "multiple_enrollment", "invalid_id", "inconsistent"))
AUDIT_DECISIONS = tuple(f"src/yidan/pipeline/audit/{m}.py" for m in ("findings", "payments", "entitlement"))

# the rules first (what a release must not break); the machinery under them (facts, messages,
# totals) as packages of their own, as time allows: they hold most of the mutants
PACKAGES = (
    Package("classify", CLASSIFY_RULES, ("tests/test_classify_rules.py",)),
    Package("audit", AUDIT_DECISIONS, ("tests/test_audit_rules.py",)),
    Package("classify_facts", ("src/yidan/pipeline/classify/facts.py", "src/yidan/pipeline/classify/run.py",
                               "src/yidan/pipeline/classify/details.py"), ("tests/test_classify_rules.py",)),
    Package("audit_rest", tuple(f"src/yidan/pipeline/audit/{m}.py" for m in ("__init__", "payer", "terms", "totals")),
            ("tests/test_audit_rules.py", "tests/test_audit.py")),
    Package("ingest_rules", ("src/yidan/ingest/rules.py",), ("tests/test_ingest_rules.py",)),
    Package("identity", ("src/yidan/identity/idnumber.py",), ("tests/test_idnumber.py", "tests/test_ingest_rules.py")),
    Package("link_resolve", ("src/yidan/pipeline/link/resolve.py", "src/yidan/pipeline/link/decisions.py"),
            ("tests/test_link_resolve.py", "tests/test_link_decisions.py")),
    # the web packages with their closest tests only: each web test builds a database, and the wider tests
    # (test_web_matrix, test_web_auth) make a mutant cost about 15 s on two shared cores
    Package("web_masking", ("src/yidan/web/masking.py",), ("tests/test_web_masking.py",), ("-k", "not real_run")),
    # the same module against the published real run (every role's bodies): for what the unit tests let through
    Package("web_masking_run", ("src/yidan/web/masking.py",),
            ("tests/test_web_masking.py", "tests/test_web_two_provinces.py"), tuple(SQLITE_ONLY)),
    Package("web_scope", ("src/yidan/web/deps.py", "src/yidan/store/crud/cases.py", "src/yidan/store/crud/stats.py"),
            ("tests/test_web_scope.py", "tests/test_web_two_provinces.py"), tuple(SQLITE_ONLY)),
    Package("publish", ("src/yidan/store/publish.py",), ("tests/test_store_publish.py", "tests/test_publish_scale.py"),
            tuple(SQLITE_ONLY)),
    Package("store", ("src/yidan/store/crud/*",),
            ("tests/test_web_cases.py", "tests/test_web_matrix.py", "tests/test_web_runs.py"), tuple(SQLITE_ONLY)),
)


def project_config() -> dict:
    """The project's [tool.mutmut] (shared settings: what the per-package configurations start from)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(data.get("tool", {}).get("mutmut", {}))


def toml_value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # lists of strings, numbers and booleans: JSON is TOML here


def prepare(pkg: Package) -> Path:
    """mutants/<package>/ with fresh copies of src/ and tests/ and the package's pyproject.toml."""
    folder = WORK / pkg.name
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("src", "tests"):
        shutil.rmtree(folder / part, ignore_errors=True)
        shutil.copytree(ROOT / part, folder / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis"))
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", text)
    config = project_config()
    config["only_mutate"] = list(pkg.files)
    config["pytest_add_cli_args_test_selection"] = [*pkg.tests, *pkg.extra]
    # every mutant runs all of the package's tests, not only those mutmut saw calling the function: a
    # session fixture (one pipeline run for all rule cases) is recorded against the first test alone,
    # and that test checking one case would let the mutant "survive" the others
    config["pytest_add_cli_args"] = [*config.get("pytest_add_cli_args", []), *pkg.tests, *pkg.extra]
    text += "\n[tool.mutmut]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in config.items())
    (folder / "pyproject.toml").write_text(text, encoding="utf-8")
    return folder


def mutmut(folder: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # mutmut puts mutants/src first itself
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=folder, env=env, text=True,
                          capture_output=capture, check=False)


def results(folder: Path) -> tuple[dict[str, int], list[str]]:
    """Counts by status and the names of the surviving mutants, from mutmut's own records."""
    proc = mutmut(folder, "results", "--all", "true", capture=True)
    counts: dict[str, int] = {}
    survivors = []
    for line in proc.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if not name:
            continue
        counts[status] = counts.get(status, 0) + 1
        if status == "survived":
            survivors.append(name)
    return counts, survivors


def score(counts: dict[str, int]) -> float | None:
    """Killed share of the mutants the tests ran against (a timeout counts as killed, as mutmut does)."""
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    tested = killed + counts.get("survived", 0) + counts.get("suspicious", 0)
    return None if tested == 0 else 100.0 * killed / tested


def report(rows: list[tuple[Package, dict[str, int], list[str], Path]]) -> str:
    lines = ["# Mutation report (`make mutants`)", "",
             "Score = killed / (killed + survived), over the mutants tested; `not checked` were not run "
             "(a run cut short, or `--only`).", "",
             "| package | mutants | killed | survived | no tests | not checked | score |",
             "|---|---|---|---|---|---|---|"]
    for pkg, counts, survivors, _ in rows:
        s = score(counts)
        lines.append(f"| {pkg.name} | {sum(counts.values())} | {counts.get('killed', 0) + counts.get('timeout', 0)} "
                     f"| {len(survivors)} | {counts.get('no tests', 0)} | {counts.get('not checked', 0)} "
                     f"| {'-' if s is None else f'{s:.1f} %'} |")
    for pkg, _, survivors, folder in rows:
        if not survivors:
            continue
        lines += ["", f"## Survivors in {pkg.name}", "", f"Tests: {' '.join(pkg.tests)}", ""]
        for name in survivors:
            diff = mutmut(folder, "show", name, capture=True).stdout.strip()
            lines += [f"### {name}", "```diff", diff, "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", help="package names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the packages and their tests")
    parser.add_argument("--max-children", type=int, default=1, help="mutants tested in parallel")
    parser.add_argument("--report-only", action="store_true", help="write the report from earlier results")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in its folder (no fresh copy: earlier results stay valid)")
    parser.add_argument("--only", nargs="+", default=[], metavar="PATTERN",
                        help="test only the mutants whose names match (e.g. 'yidan.pipeline.audit.findings.x__conditions*')")
    args = parser.parse_args(argv)
    by_name = {p.name: p for p in PACKAGES}
    if args.list:
        for p in PACKAGES:
            print(f"{p.name}: {' '.join(p.files)}  <-  {' '.join(p.tests)}")
        return 0
    unknown = [n for n in args.packages if n not in by_name]
    if unknown:
        print(f"unknown package(s): {', '.join(unknown)}; known: {', '.join(by_name)}", file=sys.stderr)
        return 2
    chosen = [by_name[n] for n in args.packages] or list(PACKAGES)
    rows = []
    for pkg in chosen:
        folder = WORK / pkg.name
        if not args.report_only:
            folder = folder if args.resume and (folder / "pyproject.toml").exists() else prepare(pkg)
            print(f"== {pkg.name}: {' '.join(pkg.files)}", flush=True)
            mutmut(folder, "run", "--max-children", str(args.max_children), *args.only)
        counts, survivors = results(folder)
        rows.append((pkg, counts, survivors, folder))
    text = report(rows)
    (WORK / "report.md").write_text(text, encoding="utf-8")
    print(text.split("\n## ")[0])
    print(f"report: {WORK / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
