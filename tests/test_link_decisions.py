"""Reviewers' decisions, read from the `link_decisions` table, override the model in a real run."""

from __future__ import annotations

import json
from datetime import date

from test_link_world import World, link_world, links_of, make_id, population

COUNTY = "430124"


def test_reviewers_decisions_override_the_model_in_the_next_run() -> None:
    w = World()
    population(w, seed=5, children=500, strangers=900)
    # the model would link this pair (one wrong digit in the registry ID) — a reviewer says no
    right = make_id(COUNTY, date(2009, 12, 5), 377)
    typo = w.person("周杰伦", date(2009, 12, 5), pid=right[:15] + ("0" if right[15] != "0" else "1") + right[16:])
    record = w.student("周杰伦", date(2009, 12, 5), pid=right)
    w.decide(typo, record, "不是同一人")
    # the model would never link this pair (the record's name differs) — a reviewer confirms it
    child = w.person("欧阳娜娜", date(2011, 1, 2), gender="女")
    renamed = w.student("欧阳思远", date(2011, 1, 2), pid=None, gender="女")
    w.decide(child, renamed, "确认同一人")

    ctx = link_world(w)
    links = {(r["person_id"], r["student_no"]): r for r in links_of(ctx)}

    assert (typo, record) not in links
    assert all(r["student_no"] != record and r["person_id"] != typo for r in links.values())
    confirmed = links[(child, renamed)]
    assert confirmed["decision"] == "accepted"
    assert {"field": "review", "label": "人工复核", "level": "确认同一人", "weight": None} in json.loads(
        confirmed["explanation"]
    )
    notes = ctx.notes["linkage"]
    assert notes["decisions_confirmed"] == 1 and notes["decisions_rejected"] == 1
