"""Quality on the generated county preset, against the generator's ground truth.

Each test fails when one figure falls below the floor the project promises (issue 3):
accepted-link precision ≥ 99.9 %, recall of true links (accepted + review) ≥ 99.5 %,
review ≤ 2 % of the non-exact residue, status accuracy ≥ 99.5 % of compulsory-age
children, and precision and recall ≥ 99 % for every schooling finding code (K05 excepted: the
truth has no doubtful matches, so its share is held by the review test).

Where linkage is hard (issue 20): the model's links are judged alone, not diluted by the
thousands of exact-ID links — every true pair the exact tier did not take must be accepted by the
model at ≥ 95 % (and ≥ 85 % in each age band: pre-school 3–5, primary 6–11, junior 12–14, upper
secondary 15–18, each holding identity faults), none of its accepted links may be wrong, and
the pairs it sends to a reviewer stay below 5 % of those true pairs. The generator puts pairs near
both thresholds (no ID, a birth date a few days off, school in the neighbouring county), so a
stricter accept threshold (0.9995 instead of 0.95) fails these tests.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow

# K05 (doubtful match for a person to confirm) has no ground truth: a perfect linker leaves none.
# Its share is bounded by the review test instead.
K_CODES = [f"K0{i}" for i in range(1, 10) if i != 5]


def _truth(gen, name):
    return pq.read_table(Path(gen.out) / "truth" / f"{name}.parquet").to_pylist()


@pytest.fixture(scope="module")
def q(county_dataset, county_run):
    persons = county_run.persons().to_pylist()
    links = county_run.links().to_pylist()
    findings = county_run.findings().to_pylist()
    t_persons = _truth(county_dataset, "persons")
    school_age = {p["person_id"] for p in t_persons if p["in_school_age"]}
    true_links = {(r["person_id"], r["student_no"]) for r in _truth(county_dataset, "links")
                  if r["person_id"] in school_age}
    exact = {(r["person_id"], r["student_no"]) for r in links if r["method"] != "linkage"}
    return {
        "persons": persons,
        "links": links,
        "findings": findings,
        "t_persons": {p["person_id"]: p for p in t_persons},
        "true_links": true_links,
        # the true pairs left to the model: those the exact tier (ID, or ID inside the student number) did not take
        "true_model": true_links - exact,
        "t_findings": _truth(county_dataset, "findings"),
    }


AGE_BANDS = {"学前 3–5": (3, 5), "小学 6–11": (6, 11), "初中 12–14": (12, 14), "高中 15–18": (15, 18)}


def model_figures(q: dict, ages: tuple[int, int] | None = None) -> dict:
    """Precision and recall of the model's (probabilistic) links alone, for children of `ages` (default all)."""
    def in_band(pid: str) -> bool:
        return ages is None or ages[0] <= q["t_persons"][pid]["age"] <= ages[1]

    model = [r for r in q["links"] if r["method"] == "linkage" and in_band(r["person_id"])]
    accepted = {(r["person_id"], r["student_no"]) for r in model if r["decision"] == "accepted"}
    review = {(r["person_id"], r["student_no"]) for r in model if r["decision"] == "review"}
    true = {t for t in q["true_model"] if in_band(t[0])}
    return {
        "true": len(true), "accepted": len(accepted), "review": len(review),
        "precision": len(accepted & true) / len(accepted) if accepted else 1.0,
        "recall": len(accepted & true) / len(true) if true else 1.0,
        "found": len((accepted | review) & true) / len(true) if true else 1.0,
        "wrong": sorted(accepted - true)[:5], "missed": sorted(true - accepted)[:5],
    }


def _report(q: dict) -> str:
    rows = [("全部", model_figures(q))] + [(band, model_figures(q, ages)) for band, ages in AGE_BANDS.items()]
    return "\n".join(f"{name}: 真实配对 {f['true']}，自动认定 {f['accepted']}，复核 {f['review']}，"
                     f"精确率 {f['precision']:.3f}，召回率 {f['recall']:.3f}（含复核 {f['found']:.3f}）"
                     for name, f in rows)


def test_model_links_alone_are_all_right_and_accept_95_percent_of_their_true_pairs(q, request):
    # the figures per age band go to the test output (also under -q): what a reader of the gate wants
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        for line in ["", "县级数据集（种子 2021）仅概率匹配的配对：", *_report(q).splitlines()]:
            reporter.write_line(line)
    f = model_figures(q)
    assert f["true"] >= 100, _report(q)  # enough hard pairs for the figures to mean something
    assert f["precision"] == 1.0, f"wrong model links {f['wrong']}\n{_report(q)}"
    assert f["recall"] >= 0.95, f"model links missed {f['missed']}\n{_report(q)}"


@pytest.mark.parametrize("band", list(AGE_BANDS))
def test_model_links_accept_85_percent_of_their_true_pairs_in_every_age_band(q, band):
    f = model_figures(q, AGE_BANDS[band])
    assert f["true"] >= 10, f"{band}: too few hard pairs to measure\n{_report(q)}"
    assert f["precision"] == 1.0, f"{band}: wrong model links {f['wrong']}\n{_report(q)}"
    assert f["recall"] >= 0.85, f"{band}: model links missed {f['missed']}\n{_report(q)}"


def test_pairs_sent_to_review_stay_below_5_percent_of_the_models_true_pairs(q):
    f = model_figures(q)
    review = sum(1 for r in q["links"] if r["decision"] == "review")
    assert review <= 0.05 * f["true"], _report(q)


def test_identity_faults_reach_every_age_band_and_boarders(county_dataset):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    faulty = {t["student_no"] for t in _truth(county_dataset, "links")
              if (t["fault"] or "").startswith(("enrollment_", "registry_id", "registry_legacy"))}
    cols = {c: pa.string() for c in ("全国学籍号", "身份证号", "学校标识码", "学校区划代码")}
    enr = pacsv.read_csv(Path(county_dataset.out) / "enrollment.csv",
                         convert_options=pacsv.ConvertOptions(column_types=cols)).to_pylist()
    boarders = {r["全国学籍号"] for r in enr if r["是否寄宿"] == "是"}
    assert len(faulty & boarders) >= 10
    stages = {r["学段"] for r in enr if r["全国学籍号"] in faulty}
    assert {"学前", "小学", "初中"} <= stages and stages & {"高中", "中职"}
    counties = {r["学校区划代码"] for r in enr if r["全国学籍号"] in faulty}
    assert len(counties) == 2  # some faulty children are at school in the neighbouring county


def test_accepted_links_are_all_right(q):
    accepted = {(r["person_id"], r["student_no"]) for r in q["links"] if r["decision"] == "accepted"}
    wrong = accepted - q["true_links"]
    assert len(accepted) > 1000
    assert not wrong, sorted(wrong)[:10]


def test_true_links_are_found_accepted_or_for_review(q):
    found = {(r["person_id"], r["student_no"]) for r in q["links"]}
    missed = q["true_links"] - found
    assert 1 - len(missed) / len(q["true_links"]) >= 0.995, sorted(missed)[:10]


def test_review_is_at_most_two_percent_of_the_non_exact_residue(q):
    exact = {r["person_id"] for r in q["links"] if r["method"] == "id" and r["decision"] == "accepted"}
    residue = [p for p in q["persons"] if p["person_id"] not in exact]
    review = {r["person_id"] for r in q["links"] if r["decision"] == "review"}
    assert residue
    assert len(review) / len(residue) <= 0.02


def test_status_is_right_for_at_least_995_per_mille_of_compulsory_age_children(q):
    got = {p["person_id"]: p["status"] for p in q["persons"]}
    compulsory = [t for t in q["t_persons"].values() if t["compulsory_age"]]
    # a child missing from persons.parquet (a rejected registry row) counts as wrong
    wrong = [(t["person_id"], got.get(t["person_id"]), t["status"]) for t in compulsory
             if got.get(t["person_id"]) != t["status"]]
    assert 1 - len(wrong) / len(compulsory) >= 0.995, wrong[:10]


@pytest.mark.parametrize("code", K_CODES)
def test_every_schooling_finding_code_has_precision_and_recall_of_99_percent(q, code):
    got = {f["finding_key"] for f in q["findings"] if f["code"] == code}
    want = {f["finding_key"] for f in q["t_findings"] if f["code"] == code}
    if not want:
        assert not got, f"{code}: {len(got)} findings where the truth has none, e.g. {sorted(got)[:5]}"
        return
    hit = got & want
    precision = len(hit) / len(got) if got else 0.0
    recall = len(hit) / len(want)
    assert precision >= 0.99, f"{code}: precision {precision:.3f}, false: {sorted(got - want)[:5]}"
    assert recall >= 0.99, f"{code}: recall {recall:.3f}, missed: {sorted(want - got)[:5]}"
