"""Inspection as 国检 does it (reports/inspection.py): multi-stage samples and defect rates with Wilson intervals."""

from __future__ import annotations

import openpyxl
import pytest

from reports_fixtures import build_run
from web_fixtures import ANY_ID, engine_fixture, env_fixture, pg_schema_fixture  # noqa: F401 - fixtures
from yidan.errors import ConfigError
from yidan.reports.inspection import draw_inspection, inspection_results, parse_stages, wilson

STAGES = "county:fixed:2,township:share:0.5,household:fixed:3"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("run") / "run", n_per_county=30, counties=("430102", "430121", "430302"))


def _rows(path) -> list[dict]:
    rows = list(openpyxl.load_workbook(path)["抽查名单"].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_each_stage_draws_its_count_inside_the_units_drawn_before(run, tmp_path) -> None:
    result = draw_inspection(run, parse_stages(STAGES), 7, tmp_path / "s.xlsx")
    rows = _rows(tmp_path / "s.xlsx")
    counties = {r["户籍县代码"] for r in rows}
    assert len(counties) == 2 and counties <= {"430102", "430121", "430302"}
    # two townships per county, half of them rounded up: one township per county; three households in it
    for county in counties:
        mine = [r for r in rows if r["户籍县代码"] == county]
        assert len({r["乡镇"] for r in mine}) == 1 and len({r["户编号"] for r in mine}) == 3
    assert result.units == [2, 2, 6] and result.children == len(rows) == 6
    assert all(r["姓名"] and r["户主姓名"] and r["核查结果"] is None for r in rows)


def test_the_same_seed_gives_the_same_households_and_another_seed_others(run, tmp_path) -> None:
    draw_inspection(run, parse_stages(STAGES), 7, tmp_path / "a.xlsx")
    draw_inspection(run, parse_stages(STAGES), 7, tmp_path / "b.xlsx")
    draw_inspection(run, parse_stages(STAGES), 8, tmp_path / "c.xlsx")
    ids = [[r["身份证号"] for r in _rows(tmp_path / f"{n}.xlsx")] for n in "abc"]
    assert ids[0] == ids[1] and ids[0] != ids[2]


def test_wilson_intervals_match_the_published_values() -> None:
    low, high = wilson(2, 10)
    assert (round(low, 4), round(high, 4)) == (0.0567, 0.5098)
    low, high = wilson(1, 3)
    assert (round(low, 4), round(high, 4)) == (0.0615, 0.7923)
    assert wilson(0, 20)[0] == 0.0 and round(wilson(0, 20)[1], 4) == 0.1611


def test_returned_results_give_each_countys_defect_rate_with_its_interval(run, tmp_path) -> None:
    draw_inspection(run, parse_stages(STAGES), 7, tmp_path / "s.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx")
    ws = wb["抽查名单"]
    header = [c.value for c in ws[1]]
    county_col, result_col = header.index("户籍县代码"), header.index("核查结果")
    seen: dict[str, int] = {}
    for row in ws.iter_rows(min_row=2):
        county = row[county_col].value
        seen[county] = seen.get(county, 0) + 1
        first = sorted({r[county_col].value for r in ws.iter_rows(min_row=2)})[0]
        if county == first:
            row[result_col].value = "有问题" if seen[county] == 1 else "无问题"
        elif seen[county] <= 2:
            row[result_col].value = "无问题"  # the third household of the second county not visited yet
    wb.save(tmp_path / "back.xlsx")
    results = inspection_results([tmp_path / "back.xlsx"])
    assert [(r.checked, r.defects) for r in results] == [(3, 1), (2, 0)]
    assert (round(results[0].low, 4), round(results[0].high, 4)) == (0.0615, 0.7923)
    assert round(results[1].high, 4) == 0.6576 and results[1].low == 0.0


def test_badly_written_stages_are_refused_in_chinese() -> None:
    for text in ("county:fixed:0", "township:share:1.5", "household:fixed:3,county:fixed:1", "city:fixed:1", "county:all:1"):
        with pytest.raises(ConfigError) as exc:
            parse_stages(text)
        assert "抽样阶段" in exc.value.message


def test_the_cli_draws_the_sample_and_prints_defect_rates_in_chinese(run, tmp_path, monkeypatch, capsys) -> None:
    from conftest import run_yidan

    out = tmp_path / "抽查.xlsx"
    code, screen = run_yidan(monkeypatch, capsys, ["inspect-sample", str(run.path), "--out", str(out), "--stages", STAGES,
                                                   "--seed", "7"])
    assert code == 0 and "已抽取 6 人" in screen, screen
    wb = openpyxl.load_workbook(out)
    ws = wb["抽查名单"]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("核查结果") + 1, value="有问题")
    wb.save(out)
    code, screen = run_yidan(monkeypatch, capsys, ["inspect-results", str(out)])
    assert code == 0 and "核查 1 人，有问题 1 人，问题率 100.0%" in screen, screen
    code, screen = run_yidan(monkeypatch, capsys, ["inspect-sample", str(run.path), "--out", str(out), "--stages",
                                                   "city:fixed:1"])
    assert code != 0 and "抽样阶段写法不对" in screen and "Traceback" not in screen


def test_inspectors_see_and_record_only_their_own_sample_in_the_application(env, tmp_path) -> None:
    import re

    from web_fixtures import browser_login, make_user, publish_fixture_run

    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "insp", "inspector", "43")
    make_user(env, "insp2", "inspector", "43")
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    province, insp, insp2 = browser_login(env, "admin"), browser_login(env, "insp"), browser_login(env, "insp2")
    bad = province.post("/inspection/draw", data={"csrf_token": province.csrf, "inspector": "insp", "stages": "city:fixed:1"})
    assert bad.status_code == 400 and "抽样阶段写法不对" in bad.text
    drawn = province.post("/inspection/draw", data={"csrf_token": province.csrf, "inspector": "insp", "seed": 3,
                                                    "stages": "county:fixed:2,household:fixed:1"})
    assert drawn.status_code == 303
    page = insp.get("/inspection").text
    ids = re.findall(r'id="item-(\d+)"', page)
    assert len(ids) == 2 and not ANY_ID.search(page)  # IDs masked on the inspector's list
    assert "还没有分配给您的抽查名单" in insp2.get("/inspection").text
    assert insp2.post(f"/inspection/items/{ids[0]}", data={"csrf_token": insp2.csrf, "result": "无问题"}).status_code == 404
    no_note = insp.post(f"/inspection/items/{ids[0]}", data={"csrf_token": insp.csrf, "result": "有问题"})
    assert no_note.status_code == 400 and "须写明问题" in no_note.text
    assert insp.post(f"/inspection/items/{ids[0]}", data={"csrf_token": insp.csrf, "result": "有问题",
                                                          "note": "孩子实际在外省打工"}).status_code == 303
    results = province.get("/inspection").text.split('id="inspection-results"')[1]
    # one child checked, one defect: 100%, Wilson 95% interval 20.7%–100.0%
    assert "100.0%" in results and "20.7%–100.0%" in results
