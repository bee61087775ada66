"""The indicator dashboard and the report form download, on a run the real pipeline made from input rows."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from test_indicator_targets import A, B, C, full_run
from web_fixtures import (  # noqa: F401 - fixtures
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
)
from yidan.store.db import session_scope
from yidan.store.models import AuditEntry, User


def indicator_run(root: Path) -> Path:
    """The run of test_indicator_targets' full tables (built once per session, copied)."""
    shutil.copytree(full_run().path, root)
    return root


def publish_indicator_run(env: Env, admin: User, root: Path) -> Path:
    """Publish that run and give the app the synthetic county boundaries of A, B and C."""
    from yidan.reports.indicator_map import synthetic_boundaries
    from yidan.runs.rundir import RunDir
    from yidan.store.crud import runs as run_crud
    from yidan.store.publish import publish_run

    rd = RunDir(indicator_run(root / "run"))
    with session_scope(env.sessions()) as s:
        run = run_crud.create_run(s, path=str(rd.path), region="43", started_by=admin.id, status="complete")
        run.run_id, run.term = rd.run_id, rd.term
        user = s.get(User, admin.id)
        assert user is not None
        publish_run(s, run=run, user=user)
    geo = root / "boundaries.geojson"
    geo.write_text(json.dumps(synthetic_boundaries([(A, "宁乡市"), (B, "邵东市"), (C, "浏阳市")])), encoding="utf-8")
    env.app.state.settings.indicator_boundaries = geo
    return geo


def test_the_province_sees_each_indicator_with_target_gap_and_a_county_map(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    publish_indicator_run(env, admin, tmp_path)
    client = browser_login(env, "admin")
    page = client.get("/indicators/43?code=registered_in_school_rate").text
    row = page.split('data-code="registered_in_school_rate"')[1].split("</tr>")[0]
    assert "60.0%" in row and "100.0%" in row and "2020" in row and "+40.0 个百分点" in row  # 3 of 5, target 100 %
    counties = page.split('id="county-table"')[1]
    assert counties.index(f'data-region="{A}"') < counties.index(f'data-region="{B}"')  # A (50 %) is further off
    svg = page.split('class="choropleth"')[1].split("</svg>")[0]
    assert sorted(svg.count(f'data-region="{c}"') for c in (A, B, C)) == [1, 1, 1]
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from elsewhere
    by_code = client.get("/indicators/43?code=registered_in_school_rate&sort=region").text.split('id="county-table"')[1]
    assert by_code.index(f'data-region="{A}"') < by_code.index(f'data-region="{B}"')
    gross = client.get("/indicators/43?code=preschool_gross_enrolment").text.split('id="county-table"')[1]
    b_row = gross.split(f'data-region="{B}"')[1].split("</tr>")[0]  # B: no child aged 3–5 in its population
    assert "<td class=\"num\">—</td>" in b_row and gross.index(f'data-region="{A}"') < gross.index(f'data-region="{B}"')


def test_a_county_sees_only_its_own_county_and_cannot_open_another(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    publish_indicator_run(env, admin, tmp_path)
    make_user(env, "clerk", "county", B)
    client = browser_login(env, "clerk")
    page = client.get(f"/indicators/{B}?code=registered_in_school_rate")
    assert page.status_code == 200
    assert f'data-region="{A}"' not in page.text and "宁乡" not in page.text
    assert client.get(f"/indicators/{A}").status_code == 404
    assert client.get("/indicators/43").status_code == 404


def test_the_report_form_download_has_one_row_per_county_and_is_audited(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    publish_indicator_run(env, admin, tmp_path)
    client = browser_login(env, "admin")
    got = client.get("/indicators/43/form.xlsx")
    assert got.status_code == 200 and got.content[:2] == b"PK"
    ws = load_workbook(io.BytesIO(got.content))["报表"]
    header = [c.value for c in ws[4]]
    assert header[:3] == ["区划代码", "地区", "层级"]
    assert "九年义务教育巩固率" in header and "学前三年毛入园率" in header
    rows = {r[0]: r for r in ws.iter_rows(min_row=5, values_only=True)}
    assert {A, B, C} <= set(rows)
    col = header.index("建档立卡学生义务教育在校率")
    assert rows[A][col] == 0.5 and rows[B][col] == 1.0
    assert "来源比对" in str(ws["A2"].value) and "数据截至" in str(ws["A2"].value)
    with session_scope(env.sessions()) as s:
        actions = [e.action for e in s.scalars(select(AuditEntry))]
    assert "export_indicators" in actions




def test_the_api_gives_the_same_figures_to_a_token_holder_within_its_region(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    publish_indicator_run(env, admin, tmp_path)
    from fastapi.testclient import TestClient

    from yidan.store.crud import users
    from yidan.web.security import new_api_token

    clerk = make_user(env, "clerk", "county", A)
    plain, hashed = new_api_token()
    with session_scope(env.sessions()) as s:
        users.add_token(s, user=s.merge(clerk), name="县平台", token_hash=hashed)
    client = TestClient(env.app, headers={"Authorization": f"Bearer {plain}"})
    got = client.get(f"/api/indicators/{A}").json()
    rows = {(r["code"], r["region"]): r for r in got["rows"]}
    assert rows[("registered_in_school_rate", A)]["value"] == 0.5
    assert rows[("registered_in_school_rate", A)]["gap"] == 0.5
    assert not any(r["region"] == B for r in got["rows"])
    assert client.get(f"/api/indicators/{B}").status_code == 404
