"""The other target lists (资助对象名单 from 民政 and 残联) and payments to pupils outside the registry.

Three groups of senior-high pupils who are not on the poverty registry, each paid the national
grant (GZ-GJZXJ, 2021春) by their school's county:
- on the 民政 orphan list (孤儿, a category the programme targets): no finding;
- on the 残联 list (残疾, a category it does not target): Z04, the payer must recover;
- on no list at all: Z09 (受助人不在任何资助对象名单), the payer must check whom it paid.
The findings are recorded as they are made (the ground truth), never by running the audit's rules.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from yidan.synth import schools as sc
from yidan.synth.aid import grade_cents, programme_index
from yidan.synth.payments import AidFindings

RATE = 0.002  # of senior-high pupils outside the registry, per group
PROGRAMME = "GZ-GJZXJ"
GROUPS = (("pupil_orphan_listed", "孤儿", "民政", None), ("pupil_disabled_listed", "残疾", "残联", "Z04"),
          ("pupil_on_no_list", None, None, "Z09"))


def build(rng: np.random.Generator, n: int, n_pupils: int, stage: np.ndarray, payer: np.ndarray,
          true_id: pa.Array, names: pa.Array, minimum: int, found: AidFindings
          ) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """(targets table in the contract's headers, extra payments); the findings go to `found`.

    `stage` and `payer` are per pupil (index j is person n + j); only the first `n_pupils` are real
    pupils (the rest are the registry's same-name strangers)."""
    senior = np.flatnonzero(stage[:n_pupils] == sc.SENIOR)
    k = min(len(senior) // len(GROUPS), max(minimum, int(round(RATE * len(senior)))))
    pick = rng.choice(senior, size=k * len(GROUPS), replace=False) if k else np.zeros(0, np.int64)
    prog = programme_index(PROGRAMME)
    ids, who, cats, srcs = [], [], [], []
    pays: dict[str, list[np.ndarray]] = {f: [] for f in ("person", "programme", "term", "cents", "payer", "late")}
    for g, (tag, category, source, code) in enumerate(GROUPS):
        j = np.sort(pick[g * k:(g + 1) * k])
        person = n + j
        cents = grade_cents(np.full(len(j), prog), person)
        for f, v in (("person", person), ("programme", np.full(len(j), prog)), ("term", np.ones(len(j), np.int64)),
                     ("cents", cents), ("payer", payer[j]), ("late", np.zeros(len(j), np.int64))):
            pays[f].append(np.asarray(v, dtype=np.int64))
        if category:
            ids.append(true_id.take(pa.array(person)))
            who.append(names.take(pa.array(person)))
            cats += [category] * len(j)
            srcs += [source] * len(j)
        if code:
            found.add(code, person, np.ones(len(j), np.int64), np.full(len(j), prog), payer[j], 0 * cents, cents,
                      payee_ids=true_id.take(pa.array(person)).to_pylist(), case=tag)
    table = pa.table({
        "身份证号": pa.concat_arrays(ids) if ids else pa.array([], pa.string()),
        "姓名": pa.concat_arrays(who) if who else pa.array([], pa.string()),
        "类别": pa.array(cats, pa.string()),
        "认定日期": pa.array(["2016-03-01"] * len(cats), pa.string()),
        "退出日期": pa.array([""] * len(cats), pa.string()),
        "来源": pa.array(srcs, pa.string()),
    })
    return table, {f: np.concatenate(v) for f, v in pays.items()}
