"""The Splink model for Chinese registries: comparisons, blocking rules, training.

Why these comparisons (measured, see ENGINE-NOTES):
* The ID has levels of its own. Two *valid* IDs that differ are nearly always two
  people (a typo breaks the check character), so that level is strong evidence
  against; an invalid ID one substitution or one swap away from the other is strong
  evidence for. Strangers born the same day in the same county share the first 14
  characters, so a small edit distance alone proves nothing.
* Pinyin is a level *inside* the name comparison (a separate comparison would count
  the same evidence twice). Readings are compared as sets per position, so 曾/增
  (zeng) and 单/善 (shan) agree.
* A birth date shifted by one day, or by one month on the same day, is the usual
  slip of an enrollment clerk; it is one level of its own, met however many digits
  change (2007-12-10 / 2008-01-10 changes three), ahead of "one digit differs" and
  of the broad "within 31 days", where it would share its m with unrelated dates; so is a date
  a few days off (within a week), the other usual slip.
  Date distances are integer arithmetic on numbers computed once per record
  (`features.birth_numbers`), never date parsing per pair: u alone compares millions.
* m comes from the exact-ID pairs (free labels), u from random pairs, term
  frequencies from the data; only the ID comparison's m — which the exact pairs
  cannot teach, they all agree on the ID — is learnt by EM on the residue, with
  every other m held fixed.

The settings are backend-neutral (SQL every engine speaks, or Splink's own level
creators); `splink_api` is the one place that knows DuckDB from Spark.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule
from splink.internals.exceptions import EMTrainingException

from yidan.errors import EngineError
from yidan.pipeline.link.features import ID_BLOCK_KEYS

SQL = "duckdb"  # the dialect the SQL snippets below are written in; Splink transpiles

# Chinese labels of the compared fields, shown to reviewers.
FIELD_LABELS: dict[str, str] = {
    "id": "身份证号",
    "name": "姓名",
    "birth": "出生日期",
    "gender": "性别",
    "county": "所在县",
}
ID_COMPARISON = "id"
# Two valid IDs that differ by more than one digit: two people, whatever else agrees (a
# same-name, same-birthday stranger of the same county shares everything but the ID).
# Its m is never learnt by EM: EM would count those strangers as matches and learn that
# matches often carry two different IDs. It stays what the labelled exact pairs say.
VALID_IDS_DIFFER = "两个有效号码不同"


def _level(sql: str, label: str) -> Any:
    return cll.CustomLevel(sql, label_for_charts=label, base_dialect_str=SQL)


def comparisons() -> list[Any]:
    id_cmp = cl.CustomComparison(
        output_column_name="id",
        comparison_description=FIELD_LABELS["id"],
        comparison_levels=[
            _level("id_l IS NULL OR id_r IS NULL", "缺失").configure(is_null_level=True),
            _level("id_l = id_r", "完全相同"),
            # a legacy 15-digit ID converted to 18 digits: its century and check character are guesses,
            # the 15 digits written (area, yymmdd, sequence) are the evidence
            _level("(id_conv_l OR id_conv_r) AND substr(id_l, 1, 6) = substr(id_r, 1, 6) "
                   "AND substr(id_l, 9, 9) = substr(id_r, 9, 9)", "15位旧号码相同（世纪、校验位为转换所加）"),
            # one substitution leaves one half of the 18 characters untouched: the cheap test first
            _level("id_valid_l AND id_valid_r AND (substr(id_l, 1, 9) = substr(id_r, 1, 9) "
                   "OR substr(id_l, 10, 9) = substr(id_r, 10, 9)) AND levenshtein(id_l, id_r) = 1",
                   "两个有效号码仅一位不同"),
            _level("id_valid_l AND id_valid_r", VALID_IDS_DIFFER),
            _level("levenshtein(id_l, id_r) = 1", "一位数字不同（一方号码无效）"),
            _level(
                "levenshtein(id_l, id_r) = 2 AND id_s1_l = id_s1_r AND id_s2_l = id_s2_r",
                "两位数字互换（一方号码无效）",
            ),
            _level("substr(id_l, 1, 14) = substr(id_r, 1, 14)", "地区码和出生日期相同、顺序码不同"),
            cll.ElseLevel().configure(label_for_charts="不同"),
        ],
    )
    name_cmp = cl.CustomComparison(
        output_column_name="name",
        comparison_description=FIELD_LABELS["name"],
        comparison_levels=[
            _level("name_norm_l IS NULL OR name_norm_r IS NULL", "缺失").configure(is_null_level=True),
            _level("name_norm_l = name_norm_r", "完全相同").configure(tf_adjustment_column="name_norm"),
            _level("name_py_l = name_py_r", "读音相同（同音字）"),
            cll.And(  # the cheap string test first: most pairs fail it and skip the array work
                _level("py_rest_l = py_rest_r AND name_len_l = name_len_r", "其余读音相同"),
                cll.ArrayIntersectLevel("py0", 1),
                cll.ArrayIntersectLevel("py1", 1),
                cll.ArrayIntersectLevel("py2", 1),
            ).configure(label_for_charts="读音可相同（多音字）"),
            _level("name_len_l = name_len_r AND levenshtein(name_norm_l, name_norm_r) = 1", "一字不同"),
            _level("surname_py_l = surname_py_r", "仅姓氏相同"),
            cll.ElseLevel().configure(label_for_charts="不同"),
        ],
    )
    birth_cmp = cl.CustomComparison(
        output_column_name="birth",
        comparison_description=FIELD_LABELS["birth"],
        comparison_levels=[
            _level("birth_str_l IS NULL OR birth_str_r IS NULL", "缺失").configure(is_null_level=True),
            _level("birth_str_l = birth_str_r", "完全相同"),
            _level("abs(birth_days_l - birth_days_r) <= 1 "
                   "OR (birth_dom_l = birth_dom_r AND abs(birth_months_l - birth_months_r) = 1)",
                   "相差一天或整一个月"),
            # a few days off (a date noted at registration, say): near in time whatever digits change
            _level("abs(birth_days_l - birth_days_r) <= 7", "相差一周以内"),
            _level("levenshtein(birth_str_l, birth_str_r) = 1", "一位数字不同"),
            _level(
                "substr(birth_str_l, 1, 4) = substr(birth_str_r, 1, 4) "
                "AND substr(birth_str_l, 6, 2) = substr(birth_str_r, 9, 2) "
                "AND substr(birth_str_l, 9, 2) = substr(birth_str_r, 6, 2)",
                "月日颠倒",
            ),
            _level("abs(birth_days_l - birth_days_r) <= 31", "相差一个月以内"),
            cll.ElseLevel().configure(label_for_charts="不同"),
        ],
    )
    gender_cmp = cl.CustomComparison(
        output_column_name="gender",
        comparison_description=FIELD_LABELS["gender"],
        comparison_levels=[
            _level("gender_l IS NULL OR gender_r IS NULL", "缺失").configure(is_null_level=True),
            _level("gender_l = gender_r", "相同"),
            cll.ElseLevel().configure(label_for_charts="不同"),
        ],
    )
    county_cmp = cl.CustomComparison(
        output_column_name="county",
        comparison_description=FIELD_LABELS["county"],
        comparison_levels=[
            _level("county_l IS NULL OR county_r IS NULL", "缺失").configure(is_null_level=True),
            _level("county_l = county_r", "户籍县与学校县相同"),
            _level("city_l = city_r", "同一地市"),
            cll.ElseLevel().configure(label_for_charts="不同"),
        ],
    )
    return [id_cmp, name_cmp, birth_cmp, gender_cmp, county_cmp]


# The columns of each blocking rule (also used to drop students who share no key at all).
BLOCK_KEYS: tuple[tuple[str, ...], ...] = (
    ("birth_str", "surname_py"),
    ("county", "name_py"),
    # a child enrolled in another county without an ID, the birth date a few days off: the full
    # reading and the birth month (or the month fifteen days on, for dates either side of a month's end)
    ("birth_months", "name_py"),
    ("birth_months15", "name_py"),
    ("birth_year", "birth_dom", "name_py"),  # ... and a month off on the same day
    *((f"idk{i}",) for i in range(1, len(ID_BLOCK_KEYS) + 1)),
)


# Kept by every blocking rule: a pair is compared unless both IDs are valid and differ. A valid
# ID carries a right MOD 11-2 check character, which changes with every single substitution and
# every swap of two neighbours, so two valid IDs that differ are two people (a same-name,
# same-birthday stranger, a twin): such a pair is never a candidate (`predict.candidates`), and
# scoring it first cost most of a province's linkage (strangers born the same day in the same
# county share the ID's first 14 characters; a birth date and a surname are shared province-wide).
PAIR_FILTER = "NOT COALESCE(l.id_valid AND r.id_valid AND l.id <> r.id, FALSE)"


def blocking_rules() -> list[Any]:
    """Candidate pairs: birth date + surname reading; county + full reading; birth month + full reading
    (twice: calendar month, and the month fifteen days on); birth year and day + full reading; the ID blocks.

    Each rule keeps only pairs that pass `PAIR_FILTER` (the engine applies it on the join).
    """
    return [CustomRule(" AND ".join([*(f"l.{c} = r.{c}" for c in cols), PAIR_FILTER]), sql_dialect=SQL)
            for cols in BLOCK_KEYS]


def settings(prior: float) -> SettingsCreator:
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="uid",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        probability_two_random_records_match=prior,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        additional_columns_to_retain=["truth"],
    )


def splink_api(engine: Any) -> Any:
    """The Splink database API sharing the run's engine connection (the only backend switch).

    Spark is tested first: a Spark engine also carries a staging DuckDB connection
    (for ingest), but the run's tables live in Spark.
    """
    if engine.name == "spark" and engine.spark is not None:
        from splink import SparkAPI

        return SparkAPI(spark_session=engine.spark)
    if engine.duckdb is not None:
        from splink import DuckDBAPI

        return DuckDBAPI(connection=engine.duckdb)
    raise EngineError(f"计算引擎 {engine.name} 不支持概率匹配。", hint="使用 duckdb 或 spark 引擎。")


def smooth(model: dict[str, Any], *, n_labels: int, n_random: int) -> dict[str, Any]:
    """Add-one-half smoothing of the estimated m (from `n_labels` pairs) and u (from `n_random`).

    A level never seen among the labelled pairs (a birth date typo, say) would
    otherwise get no m at all, or m = 0 and an infinite weight against. Half a
    pseudo-count per level keeps every estimate a frequency from the data. (The
    ID's m, all "equal" among labelled pairs, is only EM's starting point.)
    """
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        k = len(levels)
        for key, n in (("m_probability", n_labels), ("u_probability", n_random)):
            for lv in levels:
                count = float(lv.get(key) or 0.0) * n
                lv[key] = (count + 0.5) / (n + 0.5 * k)
    return model


def free_only(model: dict[str, Any], free: str, *, prior: float) -> dict[str, Any]:
    """The model with every m and u held, except the m of comparison `free` (for the next EM)."""
    model = copy.deepcopy(model)
    model["probability_two_random_records_match"] = prior
    for comparison in model["comparisons"]:
        is_free = comparison["output_column_name"] == free
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            level["fix_m_probability"] = not is_free or level.get("label_for_charts") == VALID_IDS_DIFFER
            level["fix_u_probability"] = True
    return model


def _linker(api: Any, tables: tuple[str, str], model: Any, tag: str, *, validate: bool = False) -> Linker:
    """A linker on two registered tables; settings are validated once (it costs ~1.5 s each time)."""
    reg = api.register(tables[0], dataset_display_name="registry", table_name=f"{tables[0]}_{tag}")
    stu = api.register(tables[1], dataset_display_name="students", table_name=f"{tables[1]}_{tag}")
    return Linker([reg, stu], model, log_level=None, validate_settings=validate)


def _em(linker: Linker, *columns: str) -> dict[str, Any]:
    """One EM run on the pairs blocked on `columns`.

    Iterations run on the counts of each agreement pattern (a few hundred rows), not on
    every pair: term-frequency weights are left out of EM's expectation step (they still
    weigh every prediction). Scanning the pairs again on each of up to 25 iterations made
    EM the largest cost of a province run.
    """
    before = linker.misc.save_model_to_json()
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns), fix_probability_two_random_records_match=True,
            estimate_without_term_frequencies=True,
        )
    except EMTrainingException:
        # a small input (one county's few unlinked children) may give EM no pair to train on: the
        # parameters estimated from the labelled exact pairs stand, as they would for an unseen level
        return before
    return linker.misc.save_model_to_json()


def floor_m(model: dict[str, Any], *, n_labels: int) -> dict[str, Any]:
    """No level's m below what half an observation among `n_labels` pairs would give.

    EM may drive the m of a level that no true pair of *this* data meets (a birth-date
    digit typo where the clerks never made one) towards zero; its weight would then rule
    out for good a true pair that does meet it in the next file. The floor is the same
    half pseudo-count `smooth` gives an unseen level before EM; the levels are then
    rescaled to sum to one.
    """
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        floor = 0.5 / (n_labels + 0.5 * len(levels))
        raised = [max(float(lv.get("m_probability") or 0.0), floor) for lv in levels]
        total = sum(raised)
        for lv, m in zip(levels, raised, strict=True):
            lv["m_probability"] = m / total
    return model


def train(api: Any, u_tables: tuple[str, str], label_tables: tuple[str, str], blocked: tuple[str, str],
          residue: tuple[str, str], scored: tuple[str, str], *, priors: tuple[float, float], max_pairs_u: float,
          seed: int, n_labels: int, n_random: int, name_tf: str | None = None) -> tuple[Linker, dict[str, float]]:
    """Estimate the model; returns the linker that predicts (it reads the `scored` tables).

    1. u from every pair of `u_tables` (a product sample of residue persons and residue
       students, at most `max_pairs_u` pairs, so Splink samples nothing itself and every
       engine counts the same pairs) and m from the labelled exact pairs of
       `label_tables`, smoothed. u must describe random pairs of the population the priors
       describe, so it is *not* estimated on `blocked` (students sharing a blocking key
       with the registry residue are more alike registry persons than random);
    2. the ID's m by EM on `blocked` (labelled pairs and a fixed-size sample of residue
       persons against the students sharing a blocking key with that sample), every other
       parameter held (the labelled pairs anchor EM's "match" class, so "two valid IDs
       differ" stays strong evidence against);
    3. the name's m (pairs born the same day), then the birth date's m (pairs with the
       same name), by EM on `residue` (the sampled residue persons against the residue
       students sharing a blocking key with them) alone, the ID held: that is the population scored, and once the
       ID is missing a homophone or a shifted birth date is far more common among true
       pairs than among ID-matched ones;
    4. every m floored (`floor_m`), and a linker on `scored` (the whole residue), weighing
       an exact name by `name_tf` (table `name_norm`, `tf_name_norm`) where given: name
       frequencies of the whole residue, not of the students that happen to be scored.
    `priors` = (P(match) for a random pair of `blocked`, for a random residue pair).
    """
    timings: dict[str, float] = {}
    linker = _linker(api, u_tables, settings(priors[0]), "u", validate=True)
    t0 = time.perf_counter()
    # one pass: the rare ID levels never reach Splink's early-stop count, so its ten chunks
    # only add overhead (measured 3x slower at 2M pairs on the county preset)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs_u, seed=seed, num_chunks=1,
                                                     min_count_per_level=None)
    timings["u_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    linker = _linker(api, label_tables, linker.misc.save_model_to_json(), "m")
    linker.training.estimate_m_from_label_column("truth")
    timings["m_labels_s"] = round(time.perf_counter() - t0, 3)
    model = smooth(linker.misc.save_model_to_json(), n_labels=n_labels, n_random=n_random)
    t0 = time.perf_counter()
    model = _em(_linker(api, blocked, free_only(model, ID_COMPARISON, prior=priors[0]), "em_id"), "birth_str")
    timings["em_id_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    model = _em(_linker(api, residue, free_only(model, "name", prior=priors[1]), "em_name"), "birth_str")
    timings["em_name_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    model = _em(_linker(api, residue, free_only(model, "birth", prior=priors[1]), "em_birth"), "name_norm")
    timings["em_birth_s"] = round(time.perf_counter() - t0, 3)
    model = floor_m(model, n_labels=n_labels)
    linker = _linker(api, scored, model, "predict")
    if name_tf is not None:
        linker.table_management.register_term_frequency_lookup(
            api.register(name_tf, table_name=f"{name_tf}_predict"), "name_norm")
    return linker, timings
