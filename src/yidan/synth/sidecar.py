"""The two small side tables: out-of-province records (省外学籍) and verifications (核实结果).

Out-of-province records come for both audit terms, with 省外是否享受资助 是 / 否 / empty; the
verifications are what counties reported back for children without an enrollment (and one
claim, 失联, for children who are in fact enrolled: the data beats the claim).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from yidan.synth import schools as sc
from yidan.synth.enrollment import TERM_LABELS
from yidan.synth.people import Registry

PROVINCES = (("广东省", "东莞市"), ("浙江省", "宁波市"), ("江苏省", "苏州市"), ("福建省", "厦门市"),
             ("上海市", "闵行区"), ("湖北省", "武汉市"), ("江西省", "赣州市"), ("广西壮族自治区", "桂林市"))
VERIFIERS = ("张红（县教育局）", "李建国（乡中心学校）", "王芳（村委会）", "刘勇（县资助中心）")
VERIFIED = (("verified_lost", "失联"), ("verified_disabled", "因残免学"), ("verified_oop_listed", "省外就读"),
            ("verified_oop_unlisted", "省外就读"), ("verified_returned", "已劝返复学"),
            ("verified_lost_enrolled", "失联"), ("verified_deceased", "死亡"), ("verified_abroad", "出国"))


def out_of_province_and_verifications(rng: np.random.Generator, cases: dict[str, np.ndarray], reg: Registry,
                                      stage: np.ndarray, true_id: pa.Array
                                      ) -> tuple[pa.Table, pa.Table, list[tuple[str, np.ndarray, np.ndarray]]]:
    """(out_of_province table, verifications table, [(kind, registry rows, stage)] for aid)."""
    groups = [("out_of_province", "是", None), ("verified_oop_listed", "是", None),
              ("oop_hs_aided", "是", sc.SENIOR), ("oop_hs_aided_paid_home", "是", sc.SENIOR),
              ("oop_hs_not_aided", "否", sc.SENIOR),
              ("oop_hs_unverified", "", sc.SENIOR)]
    who = np.concatenate([cases[g] for g, _, _ in groups])
    aided = np.concatenate([np.full(len(cases[g]), a, dtype=object) for g, a, _ in groups])
    o_stage = np.concatenate([stage[cases[g]] if s is None else np.full(len(cases[g]), s) for g, _, s in groups])
    prov = rng.integers(0, len(PROVINCES), size=len(who))
    province_of = dict(zip(who.tolist(), prov.tolist(), strict=True))
    k = rng.integers(1, 30, size=len(who))
    rows = np.tile(np.arange(len(who)), 2)
    term = np.repeat(np.arange(2), len(who))
    ids = true_id.take(pa.array(who[rows]))
    oop = pa.table({
        "身份证号": ids,
        "姓名": reg.name.take(pa.array(who[rows])),
        "就读省份": pa.array([PROVINCES[prov[i]][0] for i in rows]),
        "学校名称": pa.array([f"{PROVINCES[prov[i]][1]}第{k[i]}中学" for i in rows]),
        "学段": sc.stage_labels(o_stage[rows]),
        "学籍状态": pa.array(["在读"] * len(rows)),
        "省外是否享受资助": pa.array(aided[rows].tolist(), pa.string()),
        "学期": pa.array([TERM_LABELS[t] for t in term]),
    })
    v_who = np.concatenate([cases[t] for t, _ in VERIFIED])
    v_conc = [c for t, c in VERIFIED for _ in range(len(cases[t]))]
    v_prov = [PROVINCES[province_of.get(int(w), int(rng.integers(0, len(PROVINCES))))][0] if c == "省外就读" else ""
              for w, c in zip(v_who, v_conc, strict=True)]
    days = rng.integers(0, 40, size=len(v_who))
    ver = pa.table({
        "身份证号": true_id.take(pa.array(v_who, pa.int64())),
        "姓名": reg.name.take(pa.array(v_who, pa.int64())),
        "核实结论": pa.array(v_conc, pa.string()),
        "就读省份": pa.array(v_prov, pa.string()),
        "核实日期": pa.array([str(np.datetime64("2021-03-01") + int(d)) for d in days], pa.string()),
        "核实人": pa.array([VERIFIERS[int(d) % len(VERIFIERS)] for d in days], pa.string()),
        "说明": pa.array(["" for _ in days], pa.string()),
    })
    aid_rows = [("paid", cases["oop_hs_not_aided"], np.full(len(cases["oop_hs_not_aided"]), sc.SENIOR)),
                ("unverified", cases["oop_hs_unverified"], np.full(len(cases["oop_hs_unverified"]), sc.SENIOR)),
                ("aided_home", cases["oop_hs_aided_paid_home"],
                 np.full(len(cases["oop_hs_aided_paid_home"]), sc.SENIOR))]
    return oop, ver, aid_rows
