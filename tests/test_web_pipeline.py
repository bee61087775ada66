"""The web application on the real comparison: start, publish, review a K05, and the next run honours it.

One synthetic tiny province, two real runs through the background worker (SQLite only: the
database side is covered on both databases by the other web tests).
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from stdnum.cn import ric

from yidan.settings import AppSettings
from yidan.store.crud import runs as run_crud
from yidan.store.crud import users
from yidan.store.db import make_engine, session_scope, upgrade
from yidan.store.models import Case
from yidan.web.app import create_app
from yidan.web.security import hash_password

PASSWORD = "Pipeline-Test-3"


def _client(app, username: str) -> TestClient:  # type: ignore[no-untyped-def]
    import re

    client = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    assert client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}).status_code == 303
    client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account/tokens").text).group(1)  # type: ignore[attr-defined,union-attr]
    return client


def _run_and_publish(app, admin: TestClient, folder: Path) -> int:  # type: ignore[no-untyped-def]
    r = admin.post("/runs", data={"csrf_token": admin.csrf, "term": "2021春", "audit_terms": "2020秋,2021春",
                                  "folder": str(folder)})
    assert r.status_code == 303, r.text[:300]
    run_pk = int(r.headers["location"].rsplit("/", 1)[1])
    app.state.worker.wait(run_pk, timeout=600)
    with session_scope(app.state.sessions) as s:
        run = run_crud.get_run(s, run_pk=run_pk, region="43")
        assert run.status == "complete", run.error
    assert admin.post(f"/runs/{run_pk}/publish", data={"csrf_token": admin.csrf}).status_code == 303
    app.state.worker.wait(run_pk, timeout=600)  # the publish is a job the worker takes
    return run_pk


def _with_a_same_name_registration(folder: Path) -> None:
    """Register a second child identical to one enrolled without an ID (name, birth, county; another valid ID).

    The student record then fits both children equally well: a tie the model cannot break,
    so the pair goes to a reviewer (K05) — the situation this test is about.
    """
    import csv
    import io

    import pyarrow.parquet as pq

    truth = pq.read_table(folder / "truth" / "links.parquet").to_pylist()
    person = next(r["person_id"] for r in truth if r["fault"] == "enrollment_missing_id")
    path = folder / "registry.csv"
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gb18030"))))
    row = next(r for r in rows if r[0] == person)
    body = person[:14] + f"{(int(person[14:17]) + 2) % 1000:03d}"
    twin = [body + ric.calc_check_digit(body + "0"), *row[1:]]  # the check character from stdnum, not our code
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(twin)
    with path.open("ab") as f:
        f.write(out.getvalue().encode("gb18030"))


def first_dir(app, run_pk: int) -> Path:  # type: ignore[no-untyped-def]
    with session_scope(app.state.sessions) as s:
        return Path(run_crud.get_run(s, run_pk=run_pk, region="43").path)


def _review_link(run_dir: Path, person_id: str) -> dict:
    """The review-band link of a child in the run's links.parquet (read apart from the web code)."""
    import pyarrow.parquet as pq

    rows = [r for r in pq.read_table(run_dir / "links.parquet").to_pylist()
            if r["person_id"] == person_id and r["decision"] == "review"]
    assert rows, f"no review link for {person_id}"
    return max(rows, key=lambda r: r["match_probability"])


def test_a_confirmed_k05_link_is_fed_to_the_next_run_and_the_case_is_closed_by_data(tmp_path: Path) -> None:
    from yidan.synth import generate

    generate("tiny", 3, tmp_path / "in")
    _with_a_same_name_registration(tmp_path / "in")
    engine = make_engine(f"sqlite:///{tmp_path / 'y.db'}")
    upgrade(engine)
    app = create_app(AppSettings(data_dir=tmp_path / "data"), engine=engine,
                     migrate=False)
    with session_scope(app.state.sessions) as s:
        users.create_user(s, username="admin", password_hash=hash_password(PASSWORD), role="province_admin", region="43")
    admin = _client(app, "admin")
    first = _run_and_publish(app, admin, tmp_path / "in")
    with session_scope(app.state.sessions) as s:
        k05 = s.scalar(select(Case).where(Case.code == "K05", Case.opened_run_pk == first))
        assert k05 is not None, "the tied registration should have raised a K05 review"
        county = k05.county
        users.create_user(s, username="clerk", password_hash=hash_password(PASSWORD), role="county", region=county)
    clerk = _client(app, "clerk")
    page = clerk.get(f"/cases/{k05.id}").text
    # the reviewer sees the model's field-by-field comparison of this pair, as the run wrote it
    explanation = json.loads(_review_link(first_dir(app, first), k05.person_id)["explanation"])
    assert explanation, "the run's review link should carry the comparison of each field"
    for e in explanation:
        assert f"<td>{e['label']}</td><td>{e['level']}</td>" in page, e
    assert clerk.post(f"/cases/{k05.id}/link-decision", data={"csrf_token": clerk.csrf, "version": k05.version,
                                                              "decision": "确认同一人"}).status_code == 303
    second = _run_and_publish(app, admin, tmp_path / "in")
    with session_scope(app.state.sessions) as s:
        after = s.get(Case, k05.id)
        assert after is not None and after.state == "resolved" and after.closed_run_pk == second
    app.state.worker.shutdown()
    engine.dispose()
