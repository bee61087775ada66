"""Publishing real runs (the pipeline's own manifest coverage) over a published province: a run of one
county's registry, and a run without aid files, close nothing outside what they looked at."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    Env,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
)
from yidan.store.crud import runs as run_crud
from yidan.store.db import session_scope
from yidan.store.models import Case, User
from yidan.store.publish import publish_run


def _rerun(tiny_dataset: Any, out: Path, *, county: str | None = None, aid: bool = True) -> Any:
    """The tiny preset again, with the registry cut to one county and/or without aid files."""
    from yidan.pipeline.run import run_comparison
    from yidan.services.generated import generated_run
    from yidan.settings import RunConfig

    plan = generated_run(tiny_dataset.out)
    inputs = plan.inputs
    if county is not None:
        source = inputs.registry[0]
        text = source.read_bytes().decode("gb18030")
        rows = list(csv.reader(io.StringIO(text)))
        col = rows[0].index("户籍地区划代码")
        kept = [rows[0]] + [r for r in rows[1:] if r[col].startswith(county)]
        assert 1 < len(kept) < len(rows)
        path = out.parent / f"{out.name}-registry.csv"
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(kept)
        path.write_bytes(buf.getvalue().encode("gb18030"))
        inputs = dataclasses.replace(inputs, registry=[path])
    if not aid:
        inputs = dataclasses.replace(inputs, aid=[], policies=[])
    return run_comparison(inputs, term=plan.term, out_dir=out, config=RunConfig(), audit_terms=plan.audit_terms)


@pytest.fixture(scope="module")
def reruns(tiny_dataset: Any, tiny_run: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    counties = sorted({str(c) for c in tiny_run.findings()["county"].to_pylist()})
    base = tmp_path_factory.mktemp("reruns")
    return {"one": _rerun(tiny_dataset, base / "one", county=counties[0]), "county": counties[0],
            "no_aid": _rerun(tiny_dataset, base / "no_aid", aid=False)}


def _publish(env: Env, admin: User, rundir: Any) -> Any:
    with session_scope(env.sessions()) as s:
        run = run_crud.create_run(s, path=str(rundir.path), region="43", started_by=admin.id, status="complete")
        run.run_id, run.term = rundir.run_id, rundir.term
        return publish_run(s, run=run, user=s.merge(admin))


def _cases(env: Env) -> dict[str, tuple[str, str, str]]:
    with session_scope(env.sessions()) as s:
        return {k: (code, county, state) for k, code, county, state in
                s.execute(select(Case.finding_key, Case.code, Case.county, Case.state))}


def test_a_real_one_county_run_touches_no_case_of_the_other_county(env: Env, tiny_run: Any,
                                                                   reruns: dict[str, Any]) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    _publish(env, admin, tiny_run)
    before = _cases(env)
    one, county = reruns["one"], reruns["county"]
    assert one.manifest["coverage"]["counties"] == [county]
    _publish(env, admin, one)
    after = _cases(env)
    others = {k: v for k, v in before.items() if v[1] != county}
    assert others and {k: after[k] for k in others} == others  # not one state changed outside the county
    gone = set(before) - {str(k) for k in one.findings()["finding_key"].to_pylist()}
    mine_gone = {k for k in gone if before[k][1] == county}
    assert mine_gone and all(after[k][2] == "resolved" for k in mine_gone), sorted(before[k][0] for k in mine_gone)


def test_a_real_run_without_aid_files_resolves_no_aid_case(env: Env, tiny_run: Any, reruns: dict[str, Any]) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    _publish(env, admin, tiny_run)
    before = _cases(env)
    aid = {k for k, v in before.items() if v[0].startswith("Z")}
    assert aid and reruns["no_aid"].manifest["coverage"]["aid_terms"] == []
    result = _publish(env, admin, reruns["no_aid"])
    after = _cases(env)
    assert {after[k][2] for k in aid} == {"open"}
    assert result.resolved == 0  # the schooling findings are the same as in the full run
