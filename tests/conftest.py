"""Shared fixtures.

Rule cases (tests/rules/classify/*.toml, see the README there):
* `classified_cases` — every case through the real pipeline (ingest load → persons → linkage →
  classify → findings → summary → run directory), all cases of a term in one run; stem → RunDir.
* `rule_case_runner` / `module_case_runner` — run one case (or a `CaseSet`) into a run directory,
  with `exact_link`, a fast exact-ID stand-in for the linkage steps, for tests of the run itself.

Tests that need PostgreSQL, Chromium or Java (markers `postgres`, `browser`, `spark`) are skipped with
the reason when it is missing, and fail the run in CI (tests/needs.py).

Spark (`spark_session`): one local[2] SparkSession per test process (an xdist worker is a process),
started by the first Spark test that asks for it and stopped at the end; every Spark engine a test
connects joins it (`connect_spark` takes a session of its own on the running context), so the JVM
starts and warms up once instead of once per module.

Generated data (yidan.synth) and completed runs, for every module's tests:
* `tiny_dataset`, `tiny_run` — the tiny preset and a complete run on it (aid audit included).
* `county_dataset`, `county_run` — the county preset; slow, for tests marked `slow`.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import needs
import shared_runs

RULES_DIR = Path(__file__).parent / "rules"
DEFAULT_COUNTY = "430124"
AGREEMENTS = ("name_agrees", "gender_agrees", "birth_agrees")  # a `[[candidate]]`'s K08 evidence (default true)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(county: str, birth: date, seq: int, gender: str) -> str:
    """A valid 18-character ID (check character by ISO 7064 MOD 11-2) for a case row."""
    odd = gender != "女"
    order = seq * 2 + (1 if odd else 0)
    body = f"{county}{birth:%Y%m%d}{order % 1000:03d}"
    total = sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


class Case:
    """One rule case: rows of the input tables, by person name, and what is expected."""

    def __init__(self, path: Path, ns: int = 0) -> None:
        # ns: the case's number when several cases share one run (keeps IDs and student numbers apart)
        self.path = path
        self.ns = ns
        self.data = tomllib.loads(path.read_text(encoding="utf-8"))
        self.term = self.data.get("term", "2021春")
        self.ids: dict[str, str] = {}  # name -> person_id (the normalised ID the run reports)
        self.written: dict[str, str] = {}  # name -> the registry ID as written in the file
        self.people: dict[str, dict[str, Any]] = {}
        for i, row in enumerate(self.data.get("registry", [])):
            gender = row.get("gender", "男")
            pid = row.get("id_number") or make_id(
                row.get("hukou_code", DEFAULT_COUNTY)[:6], row["birth_date"], ns * 20 + i + 1, gender
            )
            self.written[row["name"]] = pid
            self.ids[row["name"]] = row.get("person_id", pid)
            self.people[row["name"]] = {**row, "gender": gender}

    def rows(self, table: str) -> list[dict[str, Any]]:
        out = []
        for i, row in enumerate(self.data.get(table, [])):
            row = dict(row)
            who = self.people.get(row.pop("person", ""), {})
            if table == "registry":
                who = row
                out.append({
                    "id_number": self.written[row["name"]], "name": row["name"], "gender": row.get("gender", "男"),
                    "birth_date": row.get("birth_date"), "hukou_code": row.get("hukou_code", DEFAULT_COUNTY + "101001"),
                    "category": row.get("category", "建档立卡"), "recognized_on": row.get("recognized_on", date(2016, 1, 1)),
                    "removed_on": row.get("removed_on"), "head_name": row.get("head_name"),
                    "household_id": row.get("household_id"), "_row": i + 2,
                })
                continue
            given = row.pop("id_number", None)
            pid = given or self.ids.get(who.get("name", ""))
            base: dict[str, Any] = {"id_number": pid, "name": who.get("name"), "_row": i + 2}
            if table == "enrollment":
                base.update(student_no="G" + (pid or ""), gender=who.get("gender"), birth_date=who.get("birth_date"),
                            school_code="4301240001", school_name="宁乡市第一小学", school_county_code=DEFAULT_COUNTY,
                            stage="小学", enrollment_status="在读", term=self.term)
            elif table == "out_of_province":
                base.update(province="广东省", term=self.term)
            elif table == "verifications":
                base.update(verified_on=date(2021, 3, 1))
            base.update(row)
            if given == "":  # an empty ID column (the student number still holds "G" + the ID)
                base["id_number"] = None
            if row.get("student_no"):
                base["student_no"] = self.student_no(row["student_no"])
            out.append(base)
        return out

    def student_no(self, given: str) -> str:
        """A student number written in the case, made unique to the case within a shared run."""
        return f"{given}{self.ns:02d}" if self.ns else given

    def candidates(self) -> list[dict[str, Any]]:
        return [
            {"person_id": self.ids[c["person"]], "student_no": self.student_no(c["student_no"]),
             "probability": c.get("probability", 0.7), "decision": c.get("decision", "review"),
             **{k: c.get(k, True) for k in AGREEMENTS}}
            for c in self.data.get("candidate", [])
        ]


class CaseSet:
    """Several cases of one term run together (one pipeline run instead of one per case)."""

    def __init__(self, cases: list[Case]) -> None:
        self.cases = cases
        self.term = cases[0].term

    def rows(self, table: str) -> list[dict[str, Any]]:
        return [r for c in self.cases for r in c.rows(table)]

    def candidates(self) -> list[dict[str, Any]]:
        return [r for c in self.cases for r in c.candidates()]


def write_table_csv(folder: Path, table: str, rows: list[dict[str, Any]]) -> list[Path]:
    """Rows as `table`.csv with the contract's English headers (as a user could give them)."""
    from yidan.contract import TABLES

    aliases = [c.alias for c in TABLES[table].columns]
    path = folder / f"{table}.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(aliases)
        for row in rows:
            w.writerow(["" if row.get(a) is None else str(row.get(a)) for a in aliases])
    return [path]


def run_yidan(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    """`yidan ARGS` in-process through the real entry point: exit status and the screen, line breaks removed."""
    import sys

    from yidan.cli import main

    monkeypatch.setattr(sys, "argv", ["yidan", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    got = capsys.readouterr()
    return code, (got.out + got.err).replace("\n", "")


def write_case_files(case: Case, folder: Path) -> dict[str, list[Path]]:
    """The case's rows as CSV files with the contract's English headers (as a user could give them)."""

    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[Path]] = {}
    for table in ("registry", "enrollment", "out_of_province", "verifications"):
        rows = case.rows(table)
        if not rows and table not in ("registry", "enrollment"):
            continue
        files[table] = write_table_csv(folder, table, rows)
    return files


def exact_link(ctx: Any) -> None:
    """A fast stand-in for the linkage steps, for tests of the run directory (not of linkage):
    exact ID (or "G"+ID student number) → accepted link."""
    import ibis

    persons = ctx.get("reg_persons")
    enr = ctx.get("enrollment")
    students = enr.mutate(_n=ibis.row_number().over(group_by="student_no", order_by=[ibis.desc("term"), "_row"]))
    students = students.filter(students._n == 0)
    key = ibis.coalesce(students.id_number, students.student_no.substr(1))
    j = persons.join(students, persons.person_id == key)
    ctx.put("links", j.select(
        person_id=persons.person_id, reg_key=persons.reg_key, student_no=students.student_no,
        method=ibis.literal("id"), match_probability=ibis.literal(1.0, type="float64"),
        decision=ibis.literal("accepted"),
        explanation=ibis.literal("[]"), name_agrees=persons.name == students.name,
        gender_agrees=persons.gender == students.gender, birth_agrees=persons.birth_date == students.birth_date,
    ))
    add_candidates(ctx)


def add_candidates(ctx: Any) -> None:
    """The `[[candidate]]` rows of the cases as model links (`decision` review by default, or accepted) of
    persons the linker left unlinked (a probability band cannot be written as rows without depending on
    the model's calibration)."""
    import ibis

    cand = ctx.notes.pop("_candidates", [])
    if not cand:
        return
    links = ctx.get("links")
    persons = ctx.get("reg_persons")
    import pyarrow as pa

    cand_table = pa.table({
        "person_id": pa.array([r["person_id"] for r in cand], pa.string()),
        "student_no": pa.array([r["student_no"] for r in cand], pa.string()),
        "probability": pa.array([float(r["probability"]) for r in cand], pa.float64()),
        "decision": pa.array([r["decision"] for r in cand], pa.string()),
        **{k: pa.array([bool(r[k]) for r in cand], pa.bool_()) for k in AGREEMENTS},
    })
    c = ibis.memtable(cand_table).join(persons, "person_id").anti_join(links, "person_id")
    extra = c.select(
        person_id=c.person_id, reg_key=c.reg_key, student_no=c.student_no, method=ibis.literal("linkage"),
        match_probability=c.probability.cast("float64"), decision=c.decision,
        explanation=ibis.literal("[]"), **{k: c[k] for k in AGREEMENTS},
    )
    extra = extra.select(*[extra[col].cast(links[col].type()).name(col) for col in links.columns])
    ctx.put("links", ctx.put("links_and_candidates", links.union(extra)))


@pytest.fixture
def case_files() -> Callable[[Case, Path], dict[str, list[Path]]]:
    """Writes a case's rows as the CSV files a user would give `yidan run`."""
    return write_case_files


@pytest.fixture
def classify_case_named() -> Callable[[str], Case]:
    """A case of tests/rules/classify by file name (without .toml)."""
    return lambda stem: Case(RULES_DIR / "classify" / f"{stem}.toml")


@pytest.fixture(scope="module")
def case_from_text(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Case]:
    """A case written inline in a test (same TOML format as tests/rules/classify)."""
    base = tmp_path_factory.mktemp("case_text")

    def make(name: str, text: str) -> Case:
        path = base / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        return Case(path)

    return make


def exact_link_step_tuple() -> tuple[Any, ...]:
    from yidan.pipeline.context import Step

    return (Step("link", "身份匹配（测试用精确匹配）", exact_link),)


def real_link_step_tuple() -> tuple[Any, ...]:
    """The linkage module's steps, then the cases' review candidates."""
    from yidan.pipeline.context import Step
    from yidan.pipeline.link import LINK_STEPS

    return (*LINK_STEPS, Step("link_candidates", "复核候选（用例）", add_candidates))


@pytest.fixture
def exact_link_steps() -> tuple[Any, ...]:
    return exact_link_step_tuple()


def make_case_runner(base: Path, link_steps: tuple[Any, ...], config: Any = None) -> Callable[..., Any]:
    """A function running one case through the pipeline into `base`/run (or `out`); returns the RunDir."""
    from yidan.identity.terms import parse_term
    from yidan.pipeline import steps as S
    from yidan.pipeline.context import RunInputs, Step
    from yidan.pipeline.run import run_comparison
    from yidan.settings import RunConfig

    def run(case: Case | CaseSet, out: Path | None = None, extra_steps: tuple[Any, ...] = (),
            input_dir: Path | None = None) -> Any:
        def load_with_candidates(ctx: Any) -> None:
            S.LOAD.run(ctx)
            ctx.notes["_candidates"] = case.candidates()

        target = out or base / "run"
        files = write_case_files(case, input_dir or target.parent / f"{target.name}-input")
        steps = (Step("load", "读取", load_with_candidates), S.PERSONS, *link_steps, S.CLASSIFY, S.FINDINGS,
                 S.SUMMARY, *extra_steps)
        inputs = RunInputs(registry=files["registry"], enrollment=files["enrollment"],
                           out_of_province=files.get("out_of_province", []),
                           verifications=files.get("verifications", []))
        return run_comparison(inputs, term=parse_term(case.term), out_dir=target,
                              config=config or RunConfig(), steps=steps)

    run.base = base  # type: ignore[attr-defined]
    return run


@pytest.fixture
def rule_case_runner(tmp_path: Path, exact_link_steps: tuple[Any, ...]) -> Callable[..., Any]:
    """Run one case through the pipeline; returns the RunDir."""
    return make_case_runner(tmp_path, exact_link_steps)


@pytest.fixture
def runner_on_engine() -> Callable[[Path, Any], Callable[..., Any]]:
    """`runner_on_engine(base, config)`: a case runner (exact-ID links) on the engine `config` names."""
    return lambda base, config: make_case_runner(base, exact_link_step_tuple(), config)


@pytest.fixture(scope="session")
def case_set() -> type[CaseSet]:
    return CaseSet


@pytest.fixture(scope="module")
def module_case_runner(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """The same runner for runs shared by the tests of one module."""
    return make_case_runner(tmp_path_factory.mktemp("cases"), exact_link_step_tuple())


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist starts its workers (its own hook is trylast)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Under pytest-xdist in CI the controller checks every need before the workers start: it never sees the
    tests (the workers collect them), and a worker stopping the run (`pytest.exit`) during its collection is
    an INTERNALERROR that hides the message. Outside CI the workers skip what they cannot run, as without
    xdist."""
    if not needs.in_ci() or not session.config.pluginmanager.has_plugin("dsession"):
        return
    problems = [p for p in (check() for check in needs.PROBLEM_BY_MARKER.values()) if p]
    if problems:
        pytest.exit(needs.ci_message(problems), returncode=1)


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected: only what will run is checked
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check once what the collected tests need from the machine; skip (with the reason) or, in CI, stop."""
    problems: dict[str, str] = {}
    for marker, check in needs.PROBLEM_BY_MARKER.items():
        if any(item.get_closest_marker(marker) for item in items):
            problem = check()
            if problem:
                problems[marker] = problem
    if not problems:
        return
    if needs.in_ci():
        pytest.exit(needs.ci_message(list(problems.values())), returncode=1)
    for item in items:
        for marker, problem in problems.items():
            if item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=needs.skip_reason(problem)))


CLASSIFY_CASES = [Case(p, ns=i + 1) for i, p in enumerate(sorted((RULES_DIR / "classify").glob("*.toml")))]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every file in tests/rules/classify/ is one `classify_case`."""
    if "classify_case" in metafunc.fixturenames:
        metafunc.parametrize("classify_case", [pytest.param(c, id=c.path.stem) for c in CLASSIFY_CASES])


@pytest.fixture(scope="session")
def all_classify_cases() -> list[Case]:
    return CLASSIFY_CASES


@pytest.fixture(scope="session")
def classified_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """All classify cases through the pipeline, one run per term (cases are kept apart by `ns`);
    case file stem -> RunDir."""
    runner = make_case_runner(tmp_path_factory.mktemp("classify_cases"), real_link_step_tuple())
    by_term: dict[str, list[Case]] = {}
    for c in CLASSIFY_CASES:
        by_term.setdefault(c.term, []).append(c)
    runs = {}
    for term, cases in by_term.items():
        run = runner(CaseSet(cases), out=runner.base / f"run-{term}")
        runs.update({c.path.stem: run for c in cases})
    return runs


# --- generated datasets and completed runs, shared by the tests of every module -------------------------


def run_generated(gen: Any, out: Path, steps: Any = None) -> Any:
    """The comparison on a generated set, with the aid audit of its audit terms (`steps`: the pipeline's own)."""
    from yidan.pipeline.run import run_comparison
    from yidan.services.generated import generated_run
    from yidan.settings import RunConfig

    plan = generated_run(gen.out)
    return run_comparison(plan.inputs, term=plan.term, out_dir=out, config=RunConfig(),
                          audit_terms=plan.audit_terms, steps=steps)


@pytest.fixture(scope="session")
def tiny_dataset(_shared_runs_dir: None) -> Any:
    """The generated `tiny` preset (two counties, every injected case at least once), with ground truth."""
    from yidan.synth import generate

    return shared_runs.once("tiny-dataset-7", lambda folder: generate("tiny", 7, folder / "input"))


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset: Any) -> Any:
    """A completed run (RunDir) on the tiny preset, aid audit included; read it, never write into it."""
    return shared_runs.once("tiny-run-7", lambda folder: run_generated(tiny_dataset, folder / "run"))


@pytest.fixture(scope="session")
def county_dataset(_shared_runs_dir: None) -> Any:
    """The generated `county` preset (one county, ~39 k registry members), with ground truth. Slow."""
    from yidan.synth import generate

    return shared_runs.once("county-dataset-2021", lambda folder: generate("county", 2021, folder / "input"))


@pytest.fixture(scope="session")
def county_run(county_dataset: Any) -> Any:
    """A completed run on the county preset. Slow: use it only in tests marked `slow`."""
    return shared_runs.once("county-run-2021", lambda folder: run_generated(county_dataset, folder / "run"))


@pytest.fixture(scope="session", autouse=True)
def _shared_runs_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Where `shared_runs.once` keeps what the session's xdist workers share (before any fixture uses it)."""
    shared_runs.set_base(tmp_path_factory.getbasetemp())


# Modules that must run on one worker, whole: the Spark modules share one local Spark (a JVM of several GB:
# two at once on a 2-core machine only slow each other down). Every other module is a unit of its own, so
# that a module's tests (and its module-scoped fixtures: a pipeline run, `live_app`, Chromium) stay on one
# worker.
XDIST_GROUPS = {name: "spark" for name in (
    "test_spark_parity.py", "test_audit_spark.py", "test_classify_spark.py", "test_link_spark.py",
    "test_engine_spark.py",
)}


def xdist_unit(nodeid: str) -> str:
    """The unit of work a test belongs to under pytest-xdist: its module, or its module's group."""
    path = nodeid.split("::")[0]
    return XDIST_GROUPS.get(path.rsplit("/", 1)[-1], path)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown when it is not loaded (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `-n N`, whole modules (and the Spark group) are sent to a worker, whatever `--dist` says.

    Not xdist's own `--dist loadgroup`: it tags a test by rewriting `item._nodeid`, which pytest 9.2
    no longer reads (a node's id is `item._id`), so every module was split between the workers and its
    module fixtures built on both (measured: the Spark parity run twice, 125 + 133 s)."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_unit(nodeid)

    return ModuleScheduling(config, log)


@pytest.fixture(scope="session")
def spark_session() -> Any:
    """The process's one SparkSession (local[2]); engines connected while it runs join it.

    Request it in every Spark test or fixture *before* connecting an engine: an engine that
    finds no running session starts one of its own and stops it on close.
    """
    needs.require(needs.spark_problem())
    from yidan.engine.spark import connect_spark
    from yidan.settings import EngineConfig

    engine = connect_spark(EngineConfig(name="spark", spark_master="local[2]"))
    yield engine.spark
    engine.close()  # started the session: stops it


@pytest.fixture(scope="session", autouse=True)
def _stop_worker_threads() -> Any:
    """Applications a test left running stop their in-process workers before pytest's own end (issue 22)."""
    yield
    from yidan.jobs.worker import close_all

    close_all()
