"""One-to-one resolution and reviewers' decisions, on candidate pairs written by hand.

Each case lists candidate pairs (child, student record, probability) as the model
would score them; the resolver must keep at most one record per child and one child
per record, accept above `accept`, send the review band and ties to a person, and
obey reviewers' decisions.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import pyarrow as pa

from yidan.engine import connect
from yidan.identity.terms import parse_term
from yidan.pipeline.context import RunContext, RunInputs
from yidan.pipeline.link.exact import LINK_COLUMNS
from yidan.pipeline.link.predict import CANDIDATE_SCHEMA
from yidan.pipeline.link.resolve import link_resolve
from yidan.settings import LinkageConfig, RunConfig


def resolve(cands: list[tuple[str, str, float]], *, exact: list[tuple[str, str]] = (),
            decisions: list[tuple[str, str, str]] = (),
            conflicts: set[tuple[str, str]] = frozenset(),
            differ: set[tuple[str, str]] = frozenset()) -> dict[tuple[str, str], dict[str, Any]]:
    """Run link_resolve; children are named by their ID, records by their student number."""
    config = RunConfig(linkage=LinkageConfig(accept=0.95, review=0.5))
    ctx = RunContext(engine=connect(config.engine), config=config, term=parse_term("2021春"),
                     inputs=RunInputs([], []))
    people = sorted({c[0] for c in cands} | {e[0] for e in exact} | {d[0] for d in decisions})
    key = {p: i + 1 for i, p in enumerate(people)}
    ctx.put("reg_persons", ibis.memtable({"reg_key": [key[p] for p in people], "person_id": people}))
    rows = [{"reg_key": key[p], "person_id": p, "student_no": s, "match_probability": pr,
             "explanation": '[{"field":"name","label":"姓名","level":"完全相同","weight":9.5}]',
             "name_agrees": True, "gender_agrees": True, "birth_agrees": True,
             "ids_conflict": (p, s) in conflicts, "names_differ": (p, s) in differ} for p, s, pr in cands]
    ctx.put("link_candidates", ibis.memtable(pa.Table.from_pylist(rows, schema=CANDIDATE_SCHEMA.to_pyarrow())))
    ex = [{"person_id": p, "reg_key": key[p], "student_no": s, "method": "id", "match_probability": 1.0,
           "decision": "accepted", "explanation": "[]", "name_agrees": True, "gender_agrees": True,
           "birth_agrees": True} for p, s in exact]
    schema = pa.schema([(c, pa.string()) for c in LINK_COLUMNS]).set(1, pa.field("reg_key", pa.int64()))
    schema = schema.set(4, pa.field("match_probability", pa.float64()))
    for i in (7, 8, 9):
        schema = schema.set(i, pa.field(LINK_COLUMNS[i], pa.bool_()))
    ctx.put("links_exact", ibis.memtable(pa.Table.from_pylist(ex, schema=schema)))
    if decisions:
        ctx.put("link_decisions", ibis.memtable({
            "person_id": [d[0] for d in decisions], "student_no": [d[1] for d in decisions],
            "decision": [d[2] for d in decisions], "decided_on": [date(2021, 3, 1)] * len(decisions)}))
    link_resolve(ctx)
    links = ctx.get("links").to_pyarrow().to_pylist()
    return {(r["person_id"], r["student_no"]): r for r in links}


def test_a_confident_unique_candidate_is_accepted() -> None:
    links = resolve([("A", "s1", 0.999)])
    assert links[("A", "s1")]["decision"] == "accepted"
    assert links[("A", "s1")]["method"] == "linkage"


def test_a_candidate_in_the_review_band_goes_to_review() -> None:
    links = resolve([("A", "s1", 0.7)])
    assert links[("A", "s1")]["decision"] == "review"


def test_candidates_below_the_review_threshold_are_dropped() -> None:
    assert resolve([("A", "s1", 0.3)]) == {}


def test_one_record_goes_to_the_child_it_fits_best_and_the_other_child_takes_its_next_best() -> None:
    # twins A and B both resemble record s1; A fits it better, B's own record is s2
    links = resolve([("A", "s1", 0.999), ("B", "s1", 0.98), ("B", "s2", 0.97)])
    assert set(links) == {("A", "s1"), ("B", "s2")}
    assert all(r["decision"] == "accepted" for r in links.values())


def test_a_child_never_holds_two_records_from_the_model() -> None:
    links = resolve([("A", "s1", 0.999), ("A", "s2", 0.99)])
    assert set(links) == {("A", "s1")}


def test_two_children_tied_on_one_record_go_to_review_not_to_a_guess() -> None:
    # same name, same birthday, no ID to tell them apart: the model scores both alike
    links = resolve([("A", "s1", 0.99), ("B", "s1", 0.99)])
    assert len(links) == 1
    assert next(iter(links.values()))["decision"] == "review"


def test_a_rejected_pair_is_not_proposed_again_and_the_next_best_gets_its_chance() -> None:
    links = resolve([("A", "s1", 0.999), ("A", "s2", 0.97)], decisions=[("A", "s1", "不是同一人")])
    assert set(links) == {("A", "s2")}


def test_a_confirmed_pair_is_linked_whatever_the_model_says() -> None:
    links = resolve([("A", "s1", 0.6), ("A", "s2", 0.999)], decisions=[("A", "s1", "确认同一人")])
    assert set(links) == {("A", "s1")}
    assert links[("A", "s1")]["decision"] == "accepted"
    assert '"label":"人工复核","level":"确认同一人"' in links[("A", "s1")]["explanation"]


def test_a_confirmed_pair_the_model_never_proposed_is_still_linked() -> None:
    links = resolve([], decisions=[("A", "s9", "确认同一人")])
    assert links[("A", "s9")]["decision"] == "accepted"
    assert links[("A", "s9")]["match_probability"] is None


def test_exact_links_pass_through_and_a_rejected_exact_pair_is_dropped() -> None:
    links = resolve([], exact=[("A", "G1"), ("B", "G2")], decisions=[("B", "G2", "不是同一人")])
    assert set(links) == {("A", "G1")}
    assert links[("A", "G1")]["method"] == "id"


def test_two_different_valid_ids_are_never_accepted_however_confident_the_model() -> None:
    """A same-name, same-birthday stranger (different valid ID) goes to a reviewer, not to a link."""
    links = resolve([("A", "s1", 0.999), ("B", "s2", 0.999)], conflicts={("A", "s1")})
    assert links[("A", "s1")]["decision"] == "review"
    assert links[("B", "s2")]["decision"] == "accepted"


def test_a_confident_pair_whose_names_share_nothing_goes_to_review_not_to_a_link() -> None:
    # an invalid registry ID one digit from a stranger's valid one, same birth date and county,
    # a wholly different name: the model is sure, a reviewer decides
    links = resolve([("A", "s1", 0.9997), ("B", "s2", 0.9997)], differ={("A", "s1")})
    assert links[("A", "s1")]["decision"] == "review"
    assert links[("B", "s2")]["decision"] == "accepted"
