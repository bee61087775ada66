"""The intake folder (issue 22): a new extract dropped in starts a run without a manual step, and what
changed since the last published run reaches the county's home page as alerts the same day."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import write_table_csv
from web_fixtures import (
    COUNTY_A,
    COUNTY_B,
    POLICIES,
    TERM,
    Env,
    background_children,
    browser_login,
    fixture_findings,
    make_user,
    publish_fixture_run,
)
from yidan.jobs.intake import schedule_allows, term_of_day
from yidan.settings import AppSettings, IntakeSettings, RunConfig, WorkerSettings
from yidan.store.db import make_engine, session_scope, upgrade
from yidan.store.models import Alert, Run
from yidan.web.app import create_app
from yidan.web.masking import mask_id


@pytest.fixture
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from yidan.web import security

    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def watched(tmp_path: Path, quick_hashes: None) -> Iterator[tuple[Env, Path]]:
    """An application on SQLite whose in-process worker watches an intake folder, with the real pipeline."""
    engine = make_engine(f"sqlite:///{tmp_path / 'yidan.db'}")
    upgrade(engine)
    intake = tmp_path / "intake"
    intake.mkdir()
    settings = AppSettings(database_url="sqlite://", data_dir=tmp_path / "data",
                           intake=IntakeSettings(folder=intake, term=TERM, settle_seconds=0.2),
                           worker=WorkerSettings(poll_seconds=0.2, lease_seconds=120, heartbeat_seconds=5))
    app = create_app(settings, engine=engine, migrate=False)  # the production runner: `yidan run`'s pipeline
    yield Env(app=app, engine=engine, data_dir=tmp_path / "data"), intake
    app.state.worker.shutdown()
    engine.dispose()


def _rows(children: list[dict]) -> dict[str, list[dict]]:
    return {t: [r for c in children for r in ([c["registry"]] if t == "registry" else c[t])]
            for t in ("registry", "enrollment", "aid")}


def test_a_new_enrollment_extract_in_the_intake_folder_reaches_the_county_as_alerts(
        watched: tuple[Env, Path], tmp_path: Path) -> None:
    env, intake = watched
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    make_user(env, "other", "county", COUNTY_B)
    # last published: the county's children, the one who drops out and the one who transfers still absent
    before = [c for c in fixture_findings(COUNTY_A) if c["code"] not in ("K02", "K03")]
    publish_fixture_run(env, admin, tmp_path / "published", run_id="published", findings=before)
    now = [*fixture_findings(COUNTY_A), *background_children(COUNTY_A)]
    dropout = next(c for c in now if c["code"] == "K02")  # enrolled as 辍学 in the new extract
    transfer = next(c for c in now if c["code"] == "K03")  # 转出 with no later enrollment
    rows = _rows(now)
    staging = tmp_path / "staging"
    staging.mkdir()
    write_table_csv(staging, "registry", rows["registry"])[0].rename(intake / "registry_2021.csv")
    write_table_csv(staging, "aid", rows["aid"])[0].rename(intake / "aid_2021.csv")
    write_table_csv(staging, "policies", POLICIES)[0].rename(intake / "policies.csv")
    time.sleep(1.5)
    with session_scope(env.sessions()) as s:  # no enrollment extract yet: nothing starts
        assert s.scalar(select(func.count()).select_from(Run).where(Run.started_by.is_(None))) == 0

    # the enrollment system drops its extract (written elsewhere, then moved in, as a transfer would)
    write_table_csv(staging, "enrollment", rows["enrollment"])[0].rename(intake / "enrollment_20210315.csv")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with session_scope(env.sessions()) as s:
            run = s.scalars(select(Run).where(Run.started_by.is_(None))).first()
            if run is not None and run.status in ("complete", "failed") and s.scalar(select(func.count()).select_from(Alert)):
                break
        time.sleep(0.5)
    assert run is not None and run.status == "complete", (run.status, run.error) if run else None
    assert run.term == TERM

    clerk = browser_login(env, "clerk")
    page = clerk.get(f"/dashboard/{COUNTY_A}").text
    assert "数据变化提醒" in page
    for child, label in ((dropout, "新增辍学"), (transfer, "新增学籍接转中")):
        row = next(line for line in page.splitlines() if mask_id(child["person_id"]) in line)
        assert label in row and child["name"] in row
        assert child["person_id"] not in page  # the ID is masked on the page
    assert [c["code"] for c in now if c.get("name") and mask_id(c["person_id"]) in page] == ["K02", "K03"]
    assert "数据变化提醒" not in browser_login(env, "other").get(f"/dashboard/{COUNTY_B}").text

    time.sleep(1.0)  # the same files again: no second run
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(Run).where(Run.started_by.is_(None))) == 1


def test_the_schedule_and_the_term_of_the_day() -> None:
    nightly = IntakeSettings(at="02:00")
    assert not schedule_allows(nightly, datetime(2021, 3, 15, 1, 59))
    assert schedule_allows(nightly, datetime(2021, 3, 15, 2, 0))
    twice_a_month = IntakeSettings(days=[1, 15])
    assert schedule_allows(twice_a_month, datetime(2021, 3, 15, 9, 0))
    assert not schedule_allows(twice_a_month, datetime(2021, 3, 16, 9, 0))
    config = RunConfig()
    assert [term_of_day(datetime(y, m, d).date(), config) for y, m, d in
            ((2021, 1, 31), (2021, 2, 1), (2021, 8, 31), (2021, 9, 1))] == ["2020秋", "2021春", "2021春", "2021秋"]


