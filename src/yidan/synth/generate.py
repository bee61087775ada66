"""`generate(preset, seed, out)`: a synthetic province in the contract's formats, with its truth.

The order matters and is read here in one place: regions → registry households → schooling plan
→ cases (one story per child) → pupils (and the same-name strangers) → ID numbers for everyone
→ schools and classes → enrollment rows → out-of-province records and verifications → aid
entitlements and payments → the faults on the ID and name columns → ground truth → files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from yidan.synth import aid, indicator_inputs, payments, targets, truth, writers
from yidan.synth import enrollment as en
from yidan.synth import schools as sc
from yidan.synth.damage import damage_enrollment, damage_registry, prepare_names, registry_birth_written
from yidan.synth.faults import CASE_INDEX, CASES, NO_ENROLLMENT, assign_cases
from yidan.synth.ids import id_strings, make_bodies
from yidan.synth.people import ROLE_CHILD, Registry, age_on, make_pupils, make_registry
from yidan.synth.presets import get_preset
from yidan.synth.regions import make_villages, province_counties
from yidan.synth.sidecar import out_of_province_and_verifications

AWAY_SHARE = 0.03  # children at school in the neighbouring county
REF = np.datetime64("2020-08-31")  # ages for the run term 2021春 are taken on 31 Aug 2020
Progress = Callable[[str], None]


@dataclass
class GeneratedSet:
    """What was written: the directory, the files by table and the injected counts."""

    out: Path
    preset: str
    seed: int
    files: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    rates: dict[str, dict] = field(default_factory=dict)  # case -> pool, pool size, rate, minimum


def _county_selection(preset_counties: tuple[str, ...] | None, codes: np.ndarray) -> np.ndarray:
    if preset_counties is None:
        return np.arange(len(codes))
    return np.array([int(np.flatnonzero(codes == int(c))[0]) for c in preset_counties])


def generate(preset: str, seed: int, out: Path, progress: Progress | None = None) -> GeneratedSet:
    say = progress or (lambda _msg: None)
    p = get_preset(preset)
    rng = np.random.default_rng(seed)
    province = province_counties(p.province_code)
    sel = _county_selection(p.counties, province.codes)
    ccodes = province.codes[sel]
    cnames = tuple(province.names[i] for i in sel)
    n_c = len(ccodes)

    say("生成建档立卡家庭与成员")
    villages = make_villages(rng, ccodes, p.towns_per_county, p.villages_per_town)
    reg = make_registry(rng, villages, p.households_per_county * n_c, REF, twin_share=0.01)
    n = len(reg)
    age = age_on(reg.birth, REF)
    school_age = (age >= 3) & (age <= 18)
    plan = sc.plan_by_age(rng, age, always_enrolled=False)
    # schools are in the preset's counties and, for a one-county preset, in the next county of the
    # province too: a few children of every county go to school in the neighbouring one (aid is
    # paid there), beside that county's own pupils, so linkage meets pairs across a county line
    neighbour = province.codes[(sel[0] + 1) % len(province.codes)]
    s_codes, s_names = ccodes, cnames
    if n_c == 1:
        s_codes = np.append(ccodes, neighbour)
        s_names = (*cnames, province.names[(sel[0] + 1) % len(province.codes)])
    away = rng.random(n) < AWAY_SHARE
    school_county = np.where(away, (reg.county_idx + 1) % len(s_codes), reg.county_idx)

    say("分配注入的情形（每名儿童至多一种）")
    kid = school_age & ~reg.twin & (reg.role == ROLE_CHILD)
    st, board, cat = plan.stage, plan.boarding, reg.category
    compulsory_school = np.isin(st, [sc.PRIMARY, sc.JUNIOR])
    pools = {
        "plain": kid & (age >= 6) & (age <= 14) & compulsory_school & ~board,
        "ident": kid & (st >= 0),
        # enrolled, and entitled to no aid (the complement of "aid_any"): a pair that may end in review
        # leaves no payment without a link, which the aid audit would rightly question
        "ident_noaid": kid & (st >= 0) & ~(((st == sc.PRE) & (cat != 1)) | (compulsory_school & board)
                                            | np.isin(st, [sc.SENIOR, sc.VOCATIONAL]))
                       # nor to a local programme, in the school's county or the next one (where the
                       # "away" faults below move a child's school)
                       & ~aid.local_entitled(st, board, cat, s_codes[school_county])
                       & ~aid.local_entitled(st, board, cat, s_codes[(reg.county_idx + 1) % len(s_codes)]),
        "compulsory": kid & (age >= 6) & (age <= 15) & (st >= 0),
        "age12": kid & (age == 12) & ~board,
        "age15": kid & (age == 15) & (st >= 0),
        "hs": kid & (st == sc.SENIOR) & (age <= 17),
        "aid_any": kid & (((st == sc.PRE) & (cat != 1)) | (compulsory_school & board)
                          | np.isin(st, [sc.SENIOR, sc.VOCATIONAL])),
        "hs_jdlk": kid & (st == sc.SENIOR) & (cat == 0),
        "primary_day": kid & (st == sc.PRIMARY) & ~board,
        "preschool": kid & (st == sc.PRE),
    }
    case = assign_cases(rng, pools, p.min_cases)
    rates = {c.tag: {"pool": c.pool, "pool_size": int(pools[c.pool].sum()), "rate": c.rate, "minimum": p.min_cases}
             for c in CASES if c.pool}
    cases = {c.tag: np.flatnonzero(case == i) for i, c in enumerate(CASES) if c.pool}
    _apply_case_attributes(reg, cases)
    prepare_names(rng, reg, cases)
    away_case = np.concatenate([cases["enrollment_missing_id_away"], cases["enrollment_missing_id_away_homophone"]])
    school_county[away_case] = (reg.county_idx[away_case] + 1) % len(s_codes)

    say("生成非建档立卡学生（含同名同生日者）")
    per_county = np.bincount(reg.county_idx[school_age], minlength=n_c) * p.pupils_per_child
    if n_c == 1:  # the neighbour's own pupils, as many as the children who come over from this county
        per_county = np.append(per_county, per_county[0] * AWAY_SHARE)
    pupils = make_pupils(rng, np.round(per_county).astype(np.int64), REF)
    strangers = cases["same_name_stranger"]
    m_pupils = len(pupils) + len(strangers)
    u_county = np.concatenate([ccodes[reg.county_idx], s_codes[pupils.county_idx],
                               ccodes[reg.county_idx[strangers]]])
    u_birth = np.concatenate([reg.birth, pupils.birth, reg.birth[strangers]])
    u_male = np.concatenate([reg.male, pupils.male, reg.male[strangers]])
    u_name = pa.concat_arrays([reg.name, pupils.name, reg.name.take(pa.array(strangers, pa.int64()))])
    u_pupil_county = np.concatenate([pupils.county_idx, reg.county_idx[strangers]])

    say("生成身份证号")
    true_id = id_strings(make_bodies(rng, u_county, u_birth, u_male))

    say("生成学校、班级与学籍")
    p_plan = sc.plan_by_age(rng, age_on(u_birth[n:], REF), always_enrolled=True)
    enrolled = (st >= 0) & ~np.isin(case, [CASE_INDEX[t] for t in NO_ENROLLMENT])
    main_stage = st.copy()
    home = case == CASE_INDEX["home_teaching"]
    main_stage[home] = sc.SPECIAL
    main_grade = plan.grade.copy()
    main_grade[home] = np.clip(age[home] - 6, 0, 8)
    r = np.flatnonzero(enrolled)
    counts = np.zeros((len(s_codes), 6), dtype=np.int64)
    np.add.at(counts, (school_county[r], main_stage[r]), 1)
    np.add.at(counts, (u_pupil_county, p_plan.stage), 1)
    schools = sc.make_schools(p.province_code, s_names, counts)
    r_school = sc.pick_schools(rng, schools, school_county[r], main_stage[r])
    p_school = sc.pick_schools(rng, schools, u_pupil_county, p_plan.stage)
    class_no = np.ones(n + m_pupils, dtype=np.int64)
    both = np.concatenate([r, n + np.arange(m_pupils)])
    class_no[both] = sc.assign_classes(rng, np.concatenate([r_school, p_school]),
                                       np.concatenate([main_grade[r], p_plan.grade]))
    rows, school_of = _enrollment_rows(rng, schools, cases, r, r_school, main_stage, main_grade,
                                       board, home, reg.county_idx, n, p_plan, p_school)

    say("生成省外学籍与核实结果")
    oop_tbl, ver_tbl, oop_ent_rows = out_of_province_and_verifications(rng, cases, reg, st, true_id)

    say("计算资助资格并生成发放记录")
    county_of_school = s_codes[schools.county_idx]
    ent_parts, sc_by_term = [], {}
    for t in (en.FALL, en.SPRING):
        mine = (rows.term == t) & (rows.status == en.ST["在读"]) & ~rows.l_record & (rows.person < n)
        who = rows.person[mine]
        payer = county_of_school[rows.school[mine]]
        ent_parts.append(aid.entitled(t, who, rows.stage[mine], rows.boarding[mine], reg.category[who],
                                      reg.recognized[who], reg.removed[who], payer))
        by_row = np.zeros(n, dtype=np.int64)
        by_row[who] = payer
        sc_by_term[t] = by_row
    oop_ent: dict[str, list[aid.Entitlements]] = {k: [] for k in ("paid", "unverified", "aided_home")}
    for t in (en.FALL, en.SPRING):
        for kind, who, stage in oop_ent_rows:
            e = aid.entitled(t, who, stage, np.zeros(len(who), bool), reg.category[who], reg.recognized[who],
                             reg.removed[who], ccodes[reg.county_idx[who]], out_of_province=True)
            oop_ent[kind].append(e)
    ent = aid.concat(ent_parts + oop_ent["paid"])
    unverified = aid.concat(oop_ent["unverified"])
    aided_home = aid.concat(oop_ent["aided_home"])
    # a real county other than the school's, for payments made by the wrong county
    other = ccodes[(school_county + 1) % n_c] if n_c > 1 else np.where(school_county == 0, neighbour, ccodes[0])
    pays, aid_found = payments.build(ent, unverified, aided_home, cases, other, sc_by_term, st, board, reg.category)
    # other target lists (民政, 残联) and pupils outside the registry paid anyway (separate draws, so
    # the rest of the set stays as it was)
    county_of_pupil = county_of_school[p_school]
    targets_tbl, unlisted_pays = targets.build(np.random.default_rng(seed + 7), n, len(pupils), p_plan.stage,
                                       county_of_pupil, true_id, u_name, p.min_cases, aid_found)
    pays = {f: np.concatenate([pays[f], unlisted_pays[f]]) for f in pays}
    payee_names = u_name.take(pa.array(pays["person"]))

    say("注入身份证号与姓名错误")
    reg_ids, person_id, reg_faults = damage_registry(rng, reg, true_id[:n], case)
    reg_birth = registry_birth_written(reg.birth, cases["registry_birth_typo"])
    enr_cols, l_numbers, enr_faults = damage_enrollment(rng, cases, true_id, u_name, u_male, u_birth,
                                                       reg.surname, int(rows.l_record.sum()), u_county)

    say("写出数据文件与真值")
    enr_tbl, enr_person = en.to_table(rows, enr_cols, l_numbers, schools, s_codes, class_no)
    say("生成学校名录、班级与人口（指标的可选输入）")
    extra = indicator_inputs.build(np.random.default_rng(seed + 8), schools, s_codes, enr_tbl, en.TERM_LABELS[1],
                                   ccodes)
    del rows, pupils, u_county, u_birth, u_male, u_name, class_no  # the province's peak memory is in the writing
    gs = GeneratedSet(out=Path(out), preset=preset, seed=seed, rates=rates)
    truth_tables = truth.build(reg, age, case, person_id, true_id[:n], ccodes, enr_tbl, enr_person, n,
                               aid_found, reg_faults, enrolled)
    truth_tables["indicators"] = extra.pop("truth")
    faults = {c.tag: int(len(cases[c.tag])) for c in CASES if c.pool}
    faults.update(enr_faults)
    faults.update({k: int(len(v)) for k, v in reg_faults.items()})
    faults["twin"] = int(reg.twin.sum())
    writers.write_all(gs, p, province, reg, reg_ids, ccodes, enr_tbl, oop_tbl, ver_tbl, pays, true_id, enr_cols,
                      truth_tables, faults, reg_birth=reg_birth, extra=extra, targets=targets_tbl,
                      payee_names=payee_names)
    _write_boundaries(gs.out, ccodes, cnames)
    return gs


def _apply_case_attributes(reg: Registry, cases: dict[str, np.ndarray]) -> None:
    """Attributes a story needs: a disability for home teaching, a later recognition date …"""
    for tag in ("home_teaching", "verified_disabled"):
        i = cases[tag]
        reg.disability[i] = np.where(reg.disability[i] == 0, 2, reg.disability[i])
    reg.category[cases["aid_category_not_targeted"]] = 1
    reg.recognized[cases["aid_recognized_late"]] = np.datetime64("2021-03-01")
    reg.recognized[cases["aid_recognized_midterm"]] = np.datetime64("2020-10-15")
    reg.removed[np.concatenate([cases["aid_removed"], cases["aid_removed_midterm"]])] = np.datetime64("2020-12-15")


def _enrollment_rows(rng: np.random.Generator, schools: sc.Schools, cases: dict[str, np.ndarray], r: np.ndarray,
                     r_school: np.ndarray, main_stage: np.ndarray, main_grade: np.ndarray, board: np.ndarray,
                     home: np.ndarray, hukou_county: np.ndarray, n: int, p_plan: sc.Plan,
                     p_school: np.ndarray) -> tuple[en.Rows, np.ndarray]:
    """Rows of both snapshots; returns them and the main school per registry row."""
    school_of = np.full(n, -1, dtype=np.int64)
    school_of[r] = r_school
    spring_status = np.full(len(r), en.ST["在读"], dtype=np.int8)
    spring_date = np.full(len(r), en.NAT)
    idx = np.full(n, -1, dtype=np.int64)
    idx[r] = np.arange(len(r))
    for tag, status, start in (("dropout", "辍学", "2021-03-01"), ("suspended", "休学", "2021-03-01"),
                               ("deceased", "死亡", "2021-03-01"),
                               ("transfer_pending", "转出", "2021-02-20")):
        k = idx[cases[tag]]
        spring_status[k] = en.ST[status]
        spring_date[k] = en.dates_near(rng, start, len(k))
    fall_school = r_school.copy()
    fall_status = np.full(len(r), en.ST["在读"], dtype=np.int8)
    fall_date = np.full(len(r), en.NAT)
    k = idx[cases["transfer_completed"]]
    fall_school[k] = sc.pick_schools(rng, schools, schools.county_idx[r_school[k]], main_stage[r[k]],
                                     avoid=r_school[k])
    fall_status[k] = en.ST["转出"]
    fall_date[k] = en.dates_near(rng, "2021-01-05", len(k))
    parts = [
        en.rows(r, en.FALL, fall_status, fall_school, main_stage[r], main_grade[r], board[r], date=fall_date),
        en.rows(r, en.SPRING, spring_status, r_school, main_stage[r], main_grade[r], board[r], date=spring_date),
    ]
    h = home[r]
    for part in parts:
        part.home = h.copy()
    d = cases["double_enrollment"]
    other = sc.pick_schools(rng, schools, schools.county_idx[school_of[d]], main_stage[d], avoid=school_of[d])
    parts.append(en.rows(d, en.SPRING, "在读", other, main_stage[d], main_grade[d], board[d], l_record=True))
    for tag, stage, grade in (("primary_graduate", sc.PRIMARY, 5), ("junior_graduate", sc.JUNIOR, 2)):
        g = cases[tag]
        s = sc.pick_schools(rng, schools, hukou_county[g], np.full(len(g), stage))
        parts.append(en.rows(g, en.FALL, "毕业", s, np.full(len(g), stage), np.full(len(g), grade),
                             np.zeros(len(g), bool), date=en.dates_near(rng, "2020-07-01", len(g), 5)))
    m = len(p_school)
    pp = n + np.arange(m)
    for t in (en.FALL, en.SPRING):
        parts.append(en.rows(pp, t, "在读", p_school, p_plan.stage, p_plan.grade, p_plan.boarding))
    return en.concat(parts), school_of


def _write_boundaries(out: Path, ccodes: np.ndarray, cnames: tuple[str, ...]) -> None:
    """A synthetic county boundary GeoJSON (grid cells) for the indicator maps; named in generated.json."""
    import json

    from yidan.reports.indicator_map import synthetic_boundaries

    geo = synthetic_boundaries([(str(c), n) for c, n in zip(ccodes.tolist(), cnames, strict=True)])
    (out / "boundaries.geojson").write_text(json.dumps(geo, ensure_ascii=False), encoding="utf-8")
    meta_path = out / "generated.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["boundaries"] = "boundaries.geojson"
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
