"""Linkage on a county-sized-down input: too little residue for EM must not fail the run.

A small county (or one school's file) may leave after the exact tier only a child or two and a
stranger with another name and birthday: no pair shares a blocking key, so Splink's EM has nothing
to train on. The run goes on with the parameters estimated from the exact pairs; nobody is linked
on that thin evidence.
"""

from __future__ import annotations

from datetime import date

from test_link_world import World, link_world, links_of


def test_a_residue_without_any_pair_for_em_links_nothing_and_does_not_fail() -> None:
    w = World()
    for i in range(30):  # exact pairs: the labelled pairs m is estimated from
        birth = date(2008 + i % 8, 1 + i % 12, 1 + i % 27)
        pid = w.person(f"张{'一二三四五六七八九十'[i % 10]}{'明亮华强'[i % 4]}", birth)
        w.student(f"张{'一二三四五六七八九十'[i % 10]}{'明亮华强'[i % 4]}", birth, pid=pid, of=pid)
    lonely = w.person("欧阳娜娜", date(2010, 2, 3), gender="女")
    w.student("司马光", date(2012, 11, 30), pid=None)  # no ID, another name and birthday
    links = links_of(link_world(w))
    assert not [r for r in links if r["person_id"] == lonely]
    assert len([r for r in links if r["decision"] == "accepted" and r["method"] != "linkage"]) == 30
