"""The exact tier: registry ID = the student's ID, or the ID inside a "G" student number."""

from __future__ import annotations

from datetime import date
from typing import Any

from test_link_world import World, _create
from yidan.engine import connect
from yidan.identity.terms import parse_term
from yidan.pipeline.context import RunContext, RunInputs
from yidan.pipeline.link import link_exact, link_prepare
from yidan.pipeline.load import register_tables
from yidan.pipeline.steps import PERSONS
from yidan.settings import RunConfig

BIRTH = date(2010, 5, 6)


def exact(world: World) -> tuple[RunContext, dict[str, dict[str, Any]]]:
    config = RunConfig()
    ctx = RunContext(engine=connect(config.engine), config=config, term=parse_term("2021春"),
                     inputs=RunInputs([], []))
    con = ctx.engine.duckdb
    for table, rows in (("registry", world.registry), ("enrollment", world.enrollment)):
        _create(con, table, rows)
    for table in ("out_of_province", "verifications", "aid", "policies", "link_decisions"):
        _create(con, table, [])
    con.execute('CREATE TABLE rejects ("table" VARCHAR, file VARCHAR, row_number BIGINT, "column" VARCHAR, '
                "value VARCHAR, reason VARCHAR)")
    register_tables(ctx)
    PERSONS.run(ctx)
    link_prepare(ctx)
    link_exact(ctx)
    links = ctx.get("links_exact").to_pyarrow().to_pylist()
    return ctx, {r["student_no"]: r for r in links}


def test_a_child_enrolled_under_their_own_id_is_linked_by_id() -> None:
    w = World()
    pid = w.person("张伟", BIRTH)
    sno = w.student("张伟", BIRTH, pid=pid)
    _, links = exact(w)
    assert links[sno]["person_id"] == pid
    assert links[sno]["method"] == "id"
    assert links[sno]["decision"] == "accepted" and links[sno]["match_probability"] == 1.0
    assert links[sno]["name_agrees"] and links[sno]["gender_agrees"] and links[sno]["birth_agrees"]


def test_the_id_inside_a_g_student_number_links_when_the_id_column_is_empty() -> None:
    w = World()
    pid = w.person("李娜", BIRTH, gender="女")
    sno = w.student("李娜", BIRTH, pid=pid, gender="女", id_column=False)
    _, links = exact(w)
    assert links[sno]["person_id"] == pid
    assert links[sno]["method"] == "id_repaired"


def test_an_l_number_without_id_is_left_to_the_probabilistic_tier() -> None:
    w = World()
    w.person("赵敏", BIRTH, gender="女")
    sno = w.student("赵敏", BIRTH, pid=None, gender="女")
    _, links = exact(w)
    assert sno not in links


def test_a_child_with_two_current_records_keeps_both_links_for_k07() -> None:
    w = World()
    pid = w.person("刘强", BIRTH)
    first = w.student("刘强", BIRTH, pid=pid)
    second = w.student("刘强", BIRTH, pid=pid, student_no="L4301240000009999")
    _, links = exact(w)
    assert {first, second} <= set(links)
    assert links[first]["person_id"] == links[second]["person_id"] == pid


def test_a_traditional_written_name_still_agrees_but_a_different_name_is_flagged_for_k08() -> None:
    w = World()
    same = w.person("陈丽华", BIRTH, gender="女")
    other = w.person("陈国强", date(2011, 2, 3))
    s1 = w.student("陳麗華", BIRTH, pid=same, gender="女")
    s2 = w.student("陈国庆", date(2011, 2, 3), pid=other, gender="女")
    _, links = exact(w)
    assert links[s1]["name_agrees"] is True
    assert links[s2]["name_agrees"] is False
    assert links[s2]["gender_agrees"] is False
    assert '"level":"不一致"' in links[s2]["explanation"]


def test_students_keep_the_latest_term_of_each_student_number() -> None:
    w = World()
    pid = w.person("孙悦", BIRTH, gender="女")
    w.student("孙悦", BIRTH, pid=pid, gender="女", term="2020秋", status="在读")
    w.student("孙悦", BIRTH, pid=pid, gender="女", term="2021春", status="转出")
    ctx, _ = exact(w)
    rows = ctx.get("students").to_pyarrow().to_pylist()
    assert len(rows) == 1
    assert rows[0]["term"] == "2021春" and rows[0]["enrollment_status"] == "转出"
