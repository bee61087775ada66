"""Step `link_probabilistic`: Splink scores the residue the exact tier left.

Splink sees registry persons without an exact link against students without one,
plus a hashed sample of exact pairs that label the m parameters for free (their
`truth` column holds the shared ID; pairs among them are dropped from the output).
The result is `link_candidates`: every pair at or above the review threshold with
its probability, its explanation and the K08 agreement flags.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import ibis

from yidan.engine.portable import mix_order
from yidan.errors import EngineError
from yidan.pipeline.context import RunContext
from yidan.pipeline.link.exact import agreement
from yidan.pipeline.link.explain import model_explanation
from yidan.pipeline.link.features import (
    ID_BLOCK_KEYS,
    common,
    id_block_key,
    registry_side,
    student_side,
    with_names,
)
from yidan.pipeline.link.model import BLOCK_KEYS, splink_api, train
from yidan.pipeline.link.prepare import READING_CODE_BITS, name_coder, reading_key_parts

# Exact pairs used as labelled matches: enough for stable m, small enough to stay cheap.
LABEL_SAMPLE = 20_000
# Residue registry persons EM learns from: EM's pairs (blocked on the birth date) then stop
# growing with the square of the province's size.
EM_PERSONS = 20_000
_MIX_PRIME = 2_147_483_647  # `mix_order` values lie in [0, this)
# Splink's gamma of the name comparison from which the names read alike (model.comparisons: 0 不同,
# 1 仅姓氏相同, 2 一字不同, 3 读音可相同, 4 读音相同, 5 完全相同; -1 missing)
NAME_READS_ALIKE = 3
TF_COLUMNS = {"name": "mw_tf_adj_name"}  # Splink adds the term-frequency weight of the level met

CANDIDATE_SCHEMA = ibis.schema(
    {
        "reg_key": "int64",
        "person_id": "string",
        "student_no": "string",
        "match_probability": "float64",
        "explanation": "string",
        "name_agrees": "boolean",
        "gender_agrees": "boolean",
        "birth_agrees": "boolean",
        "ids_conflict": "boolean",
        "names_differ": "boolean",
    }
)


def _inputs(ctx: RunContext) -> tuple[Any, Any, dict[str, int]]:
    """The tables Splink reads, with names read aloud only for the students that need it.

    Registry side: every residue person plus the labelled sample. Student side: of the
    (many) residue students only those sharing a blocking key with some residue person
    (they are all a prediction can ever pair), a uniform sample for estimating u (random
    pairs must be random pairs of the whole residue), and the labelled sample. Which
    students share a key is decided on cheap reading parts (`reading_key_parts`) before any
    per-character reading feature is built. Flags `in_block` and `in_sample` tell the
    subsets apart; `link_stu_u`, `link_stu_blocked` and `link_stu_residue` are made of them.
    """
    persons, students, exact = ctx.get("reg_persons"), ctx.get("students"), ctx.get("links_exact")
    resid_p = persons.anti_join(exact, "reg_key")
    resid_s = students.anti_join(exact, "student_no")
    first = exact.group_by("reg_key").aggregate(student_no=exact.student_no.min())
    sample = first.order_by(mix_order(first.reg_key)).limit(LABEL_SAMPLE)  # same pairs on every engine
    sample_p = persons.join(sample.select("reg_key"), "reg_key").select(persons.columns)
    sample_s = students.join(sample.select("student_no"), "student_no").select(students.columns)
    sample_truth = sample.join(persons.select("reg_key", "person_id"), "reg_key")
    normalise, readings = name_coder(resid_p["name"], resid_s["name"], sample_p["name"], sample_s["name"])
    none = ibis.null("string")
    reg = registry_side(resid_p, normalise).mutate(truth=none).union(
        registry_side(sample_p, normalise).join(sample_truth.select(uid=sample_truth.reg_key.cast("string"),
                                                                    truth=sample_truth.person_id), "uid")
    )
    reg = ctx.put("link_reg_side", reg)
    n_students = int(resid_s.count().execute())
    n_persons = int(resid_p.count().execute())
    # EM learns from a fixed number of residue persons (and every labelled pair), and from the
    # students sharing a blocking key with them, whatever the size of the province
    em_cut = int(_MIX_PRIME * min(1.0, EM_PERSONS / max(n_persons, 1)))
    reg_res = reading_key_parts(reg.filter(reg.truth.isnull()), readings)
    reg_keys = ctx.put("link_reg_block_keys", reg_res.select(
        "id", id_ok=reg_res.id_valid.fill_null(False), in_em=mix_order(reg_res.uid.cast("int64")) < em_cut,
        **block_keys(reg_res)))
    u_persons, u_students = u_sample_sizes(n_persons, n_students, ctx.config.linkage.max_pairs_for_u)
    # a uniform, engine-independent sample of residue students (by their row number), about
    # twice the students u needs; the u table takes the first `u_students` of it
    seed = ctx.config.linkage.seed  # which persons and students make the u sample
    mix = mix_order(resid_s._row.cast("int64") + seed)
    cut = int(_MIX_PRIME * min(1.0, 2 * u_students / max(n_students, 1)))
    stu = student_side(resid_s, normalise, _mix=mix, _pick=mix < cut)
    keyed = reading_key_parts(stu, readings)
    key_cols = block_keys(keyed)
    keyed = keyed.mutate(_valid=keyed.id_valid.fill_null(False), **key_cols)

    def keys_of(t: Any) -> dict[str, Any]:
        return {name: t[name] for name in key_cols}

    # the (many) students with a valid ID and the (few) without are tested apart, each only
    # against the persons it can pair with; EM's flag is then computed on the kept few
    with_id = keyed.filter(keyed._valid)
    with_id = with_id.mutate(in_block=pairable_with_valid_id(keys_of(with_id), with_id.id, reg_keys))
    without = keyed.filter(~keyed._valid)
    without = without.mutate(in_block=pairable_without_valid_id(keys_of(without), reg_keys))
    kept = with_id.union(without)
    kept = kept.filter(kept.in_block | kept._pick)
    kept = kept.mutate(in_em=kept.in_block & shares_block_key(keys_of(kept), kept.id, kept._valid,
                                                              reg_keys.filter(reg_keys.in_em)))
    ctx.put("link_name_tf", name_frequencies(normalise, resid_p.name, resid_s.name))
    stu = kept.select(*stu.columns, "in_block", "in_em")
    stu = stu.rename(in_sample="_pick").mutate(truth=none)
    labelled = student_side(sample_s, normalise, _mix=ibis.literal(-1, type="int64"), in_sample=ibis.literal(False),
                            in_block=ibis.literal(True), in_em=ibis.literal(True)).join(
        sample_truth.select("student_no", truth=sample_truth.person_id).rename(uid="student_no"), "uid")
    stu = ctx.put("link_stu_side", stu.union(labelled.select(*stu.columns)))

    reg = ctx.put("link_reg_base", common(reg))
    stu = ctx.put("link_stu_base", common(stu))
    reg = ctx.put("link_reg_features", with_names(reg))
    stu = ctx.put("link_stu_features", with_names(stu))
    reg_res = ctx.put("link_reg_residue", reg.filter(reg.truth.isnull()))
    # u: every pair of a product sample (persons × students, at most max_pairs_for_u pairs),
    # so Splink samples nothing itself (its sample hashes differ between engines)
    ctx.put("link_reg_u", reg_res.order_by([mix_order(reg_res.uid.cast("int64") + seed), reg_res.uid]).limit(u_persons))
    pool = stu.filter(stu.in_sample)
    ctx.put("link_stu_u", pool.order_by([pool._mix, pool.uid]).limit(u_students))
    ctx.put("link_reg_labelled", reg.filter(reg.truth.notnull()))
    ctx.put("link_stu_labelled", stu.filter(stu.truth.notnull()))
    blocked = ctx.put("link_stu_blocked", stu.filter(stu.in_block))
    ctx.put("link_stu_residue", blocked.filter(blocked.truth.isnull()))
    reg_em = ctx.put("link_reg_em", reg.filter(reg.truth.notnull() | (mix_order(reg.uid.cast("int64")) < em_cut)))
    ctx.put("link_reg_em_residue", reg_em.filter(reg_em.truth.isnull()))
    stu_em = ctx.put("link_stu_em", stu.filter(stu.in_em))
    ctx.put("link_stu_em_residue", stu_em.filter(stu_em.truth.isnull()))
    sizes = {
        "residue_persons": n_persons,
        "residue_students": n_students,
        "residue_students_blocked": int(ctx.get("link_stu_residue").count().execute()),
        "u_persons": int(ctx.get("link_reg_u").count().execute()),
        "u_students": int(ctx.get("link_stu_u").count().execute()),
        "em_persons": int(ctx.get("link_reg_em_residue").count().execute()),
        "em_students": int(ctx.get("link_stu_em_residue").count().execute()),
        "label_pairs": int(sample.count().execute()),
        "persons_valid_id": int(persons.filter(persons.id_valid.fill_null(False)).count().execute()),
        "exact_persons_valid_id": int(
            persons.filter(persons.id_valid.fill_null(False)).semi_join(exact, "reg_key").count().execute()
        ),
    }
    return reg, stu, sizes


def name_frequencies(normalise: Any, *names: Any) -> Any:
    """How often each normalised name occurs among all the `names` (Splink's `tf_name_norm`).

    The weight of an exact name must not depend on which students happen to share a blocking
    key, so the frequencies are those of the whole residue — every registry person and every
    student the exact tier left — the population u describes too. Names are counted as
    written first and normalised once per distinct spelling (a few hundred thousand, against
    millions of rows).
    """
    written = [col.name("_w").as_table() for col in names]
    every = written[0]
    for more in written[1:]:
        every = every.union(more, distinct=False)
    spelled = every.group_by("_w").aggregate(_n=every.count())
    spelled = spelled.mutate(name_norm=normalise(spelled._w))
    spelled = spelled.filter(spelled.name_norm.notnull())
    counts = spelled.group_by("name_norm").aggregate(_n=spelled._n.sum())
    return counts.select("name_norm", tf_name_norm=counts._n.cast("float64") / counts._n.sum().over())


def u_sample_sizes(persons: int, students: int, max_pairs: int) -> tuple[int, int]:
    """How many residue persons and students make the product sample u is estimated on.

    As square as the residue allows, with at most `max_pairs` pairs in all.
    """
    n_persons = max(1, min(persons, math.isqrt(max_pairs)))
    return n_persons, max(1, min(students, max_pairs // n_persons))


def shares_block_key(keys: dict[str, Any], ident: Any, valid: Any, reg_keys: Any) -> Any:
    """True for a student Splink may pair with some residue person of `reg_keys`.

    Splink only compares pairs that share a blocking key and pass `model.PAIR_FILTER`
    (not two valid IDs that differ). So a student with no valid ID (`valid` false) needs one
    of its `keys` (`block_keys`) in some person's row; a student with a valid ID `ident`
    needs a key shared with a person *without* a valid ID (`reg_keys.id_ok` false), or a
    person with that very ID. Anyone else can never be a candidate, and dropping them (most
    students are simply not poor, and most carry a valid ID) loses no pair. `isin` over a
    column of another table is a semi-join on every engine.
    """
    return ibis.ifelse(valid, pairable_with_valid_id(keys, ident, reg_keys), pairable_without_valid_id(keys, reg_keys))


def pairable_with_valid_id(keys: dict[str, Any], ident: Any, reg_keys: Any) -> Any:
    """`shares_block_key` for students whose ID `ident` is valid."""
    same_valid_id = ident.isin(reg_keys.filter(reg_keys.id_ok).id).fill_null(False)
    return _any_key(keys, reg_keys.filter(~reg_keys.id_ok)) | same_valid_id


def pairable_without_valid_id(keys: dict[str, Any], reg_keys: Any) -> Any:
    """`shares_block_key` for students without a valid ID."""
    return _any_key(keys, reg_keys)


def _any_key(keys: dict[str, Any], reg: Any) -> Any:
    hits = [keys[name].isin(reg[name]) for name in keys]
    cond = hits[0]
    for hit in hits[1:]:
        cond = cond | hit
    return cond.fill_null(False)


def block_keys(t: Any) -> dict[str, Any]:
    """One key per blocking rule (`BLOCK_KEYS`), from cheap columns: null where a part is null.

    `t` carries `reading_key_parts`. The first rule's key (birth date, surname reading) is
    Splink's own; those on the full reading (with the county, the birth month, the birth month
    fifteen days on, or the birth year and day) are looser — surname reading, the second and
    last characters' readings and the length — so that they never separate two names Splink
    would block together. The readings enter as their codes (`coded_readings`) and the parts
    are packed into one whole number (every part within its bits: equal numbers, equal parts),
    the county's key is the county, '|' and that number; the ID keys are the ID's stretches.
    Whole numbers cost a fraction of built strings for millions of students.
    A student can be in a blocked pair only if one of its keys equals the same key of some
    residue registry person.
    """
    bits = READING_CODE_BITS

    def pack(head: Any, *codes: Any) -> Any:
        out = head.cast("int64")
        for c in codes:
            out = out * 2**bits + c
        return out

    reading = pack(t._c0, t._c1, t._cl) * 2**5 + t._len  # `_len` is at most READ_POSITIONS (16) < 2**5
    parts = {
        "birth_str|surname_py": pack(t.birth_days, t._c0),
        "county|name_py": t.county.concat("|", reading.cast("string")),
        "birth_months|name_py": t.birth_months * 2**(3 * bits + 5) + reading,
        "birth_months15|name_py": t.birth_months15 * 2**(3 * bits + 5) + reading,
        "birth_year|birth_dom|name_py": (t.birth_year * 32 + t.birth_dom) * 2**(3 * bits + 5) + reading,
    }
    out = {}
    for j, cols in enumerate(BLOCK_KEYS):
        if len(cols) == 1:
            stretches = ID_BLOCK_KEYS[int(cols[0].removeprefix("idk")) - 1]
            out[f"bk{j}"] = id_block_key(t.id, stretches)
            continue
        out[f"bk{j}"] = parts["|".join(cols)]
    return out


def priors(sizes: dict[str, int]) -> tuple[float, float]:
    """P(two random records match) from the data, for (residue + labelled pairs, residue alone).

    The share of registry persons the exact tier found enrolled is applied to the
    residue persons; each labelled pair is one more match.
    """
    rate = sizes["exact_persons_valid_id"] / max(sizes["persons_valid_id"], 1)
    # EM on the ID sees the sampled residue persons (`em_persons`) with every labelled pair
    r, s, n = sizes.get("em_persons", sizes["residue_persons"]), sizes["residue_students"], sizes["label_pairs"]

    def clamp(p: float) -> float:
        return min(max(p, 1e-9), 0.5)

    return clamp((rate * r + n) / max((r + n) * (s + n), 1)), clamp(rate * r / max(r * s, 1))


def link_probabilistic(ctx: RunContext) -> None:
    note = ctx.notes.setdefault("linkage", {})
    reg, stu, sizes = _inputs(ctx)
    note.update(sizes)
    if sizes["residue_persons"] == 0 or sizes["residue_students"] == 0 or sizes["label_pairs"] == 0:
        ctx.put("link_candidates", ibis.memtable(CANDIDATE_SCHEMA.to_pyarrow().empty_table()))
        note["candidate_pairs"] = 0
        return
    cfg = ctx.config.linkage
    api = splink_api(ctx.engine)
    t0 = time.perf_counter()
    splink_log = logging.getLogger("splink")
    level = splink_log.level
    # Splink's English notices ("level not observed ...") are for developers; the figures go to the manifest
    splink_log.setLevel(logging.ERROR)
    try:
        linker, timings = train(api, ("link_reg_u", "link_stu_u"), ("link_reg_labelled", "link_stu_labelled"),
                                ("link_reg_em", "link_stu_em"),
                                ("link_reg_em_residue", "link_stu_em_residue"),
                                ("link_reg_residue", "link_stu_residue"), priors=priors(sizes),
                                max_pairs_u=float(cfg.max_pairs_for_u), seed=cfg.seed,
                                n_labels=sizes["label_pairs"], n_random=sizes["u_persons"] * sizes["u_students"],
                                name_tf="link_name_tf")
        t1 = time.perf_counter()
        predictions = linker.inference.predict(threshold_match_probability=cfg.review)
        timings["predict_s"] = round(time.perf_counter() - t1, 3)
    except Exception as exc:  # Splink raises many types; the user needs one clear message
        raise EngineError(
            f"概率匹配（Splink）失败：{type(exc).__name__}: {exc}",
            hint="检查学籍与建档立卡数据的姓名、出生日期列是否正常；如问题持续，请将本信息反馈给维护人员。",
        ) from exc
    finally:
        splink_log.setLevel(level)
    timings["splink_total_s"] = round(time.perf_counter() - t0, 3)
    model = linker.misc.save_model_to_json()
    note["splink_timings"] = timings
    note["priors"] = priors(sizes)
    note["m_u"] = _m_u_summary(model)
    pred = ctx.engine.ibis.table(predictions.physical_name)
    persons = ctx.get("reg_persons").select("reg_key", "person_id")
    found = candidates(pred, model)
    ctx.put("link_candidates", found.join(persons, "reg_key").select(*CANDIDATE_SCHEMA.names))
    note["candidate_pairs"] = int(ctx.get("link_candidates").count().execute())
    # Splink's own tables (blocked pairs and comparison vectors: millions of rows at province size)
    # are read by nothing once the candidates are kept; left in the engine they take later steps' memory
    api.delete_tables_created_by_splink_from_db()


def candidates(pred: Any, model: dict[str, Any]) -> Any:
    """Residue pairs (no labelled record on either side), oriented registry → student.

    A pair whose IDs are both valid and differ by more than one character is two people,
    whatever else agrees (a same-name, same-birthday stranger of the same county, a twin):
    it is no candidate at all, so the child stays out of school in the findings until a
    clerk's verification says otherwise. Two valid IDs one character apart may be a typo
    that kept its check character: a candidate, flagged `ids_conflict`, never linked
    without a reviewer (see `link_resolve`). (Splink's blocking already leaves out pairs of
    two valid, different IDs — `model.PAIR_FILTER` — the rule is stated here too so that it
    holds whatever the blocking rules become.)
    """
    p = pred.filter(pred.truth_l.isnull() & pred.truth_r.isnull())
    both_valid_differ = (p.id_valid_l & p.id_valid_r & (p.id_l != p.id_r)).fill_null(False)
    p = p.filter(~both_valid_differ | (p.id_l.levenshtein(p.id_r) == 1).fill_null(False))

    def side(col: str, registry: bool) -> Any:
        left, right = p[f"{col}_l"], p[f"{col}_r"]
        return ibis.ifelse(reg_left, left, right) if registry else ibis.ifelse(reg_left, right, left)

    reg_left = p.source_dataset_l == "registry"
    return p.select(
        reg_key=side("uid", True).cast("int64"),
        student_no=side("uid", False),
        match_probability=p.match_probability.cast("float64"),
        explanation=model_explanation(p, model, TF_COLUMNS),
        name_agrees=agreement(side("name_norm", True), side("name_norm", False)),
        gender_agrees=agreement(side("gender", True), side("gender", False)),
        birth_agrees=agreement(side("birth_str", True), side("birth_str", False)),
        # both IDs valid, one character apart: never a link without a reviewer (see link_resolve)
        ids_conflict=(p.id_valid_l & p.id_valid_r & (p.id_l != p.id_r)).fill_null(False),
        # the names do not read alike (one character differs, only the surname's reading agrees,
        # or nothing does: the name comparison's three lowest levels), or a name is missing:
        # whatever the ID and birth date say, a reviewer decides (see link_resolve)
        names_differ=(p.gamma_name < NAME_READS_ALIKE).fill_null(False),
    )


def _m_u_summary(model: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The trained m and u per level, for the manifest (so a run can be audited)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for comparison in model["comparisons"]:
        out[comparison["output_column_name"]] = [
            {"level": lv.get("label_for_charts"), "m": lv.get("m_probability"), "u": lv.get("u_probability")}
            for lv in comparison["comparison_levels"]
            if not lv.get("is_null_level")
        ]
    return out
