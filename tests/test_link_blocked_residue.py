"""Students who share no blocking key with the registry residue are left out before scoring."""

import ibis

from yidan.pipeline.link.model import BLOCK_KEYS
from yidan.pipeline.link.predict import shares_block_key

COLUMNS = sorted({c for cols in BLOCK_KEYS for c in cols})


def _side(rows: list[dict[str, str | None]]) -> ibis.Table:
    full = [{c: r.get(c) for c in ["uid", *COLUMNS]} for r in rows]
    return ibis.memtable(full, schema={c: "string" for c in ["uid", *COLUMNS]})


def _kept(reg_rows, stu_rows) -> set[str]:
    reg, stu = _side(reg_rows), _side(stu_rows)
    out = stu.filter(shares_block_key(stu, reg)).uid.to_pyarrow().to_pylist()
    return set(out)


REG = [{"uid": "r1", "birth_str": "2010-05-01", "surname_py": "wang", "county": "433127",
        "name_py": "wang xiao ming", "idk1": "43312720100501", "idk4": "4331272010X"}]


def test_a_student_sharing_birth_date_and_surname_reading_is_kept():
    assert _kept(REG, [{"uid": "s1", "birth_str": "2010-05-01", "surname_py": "wang"}]) == {"s1"}


def test_a_student_sharing_only_the_birth_date_is_dropped():
    assert _kept(REG, [{"uid": "s1", "birth_str": "2010-05-01", "surname_py": "li"}]) == set()


def test_a_student_sharing_county_and_full_reading_is_kept():
    assert _kept(REG, [{"uid": "s2", "county": "433127", "name_py": "wang xiao ming"}]) == {"s2"}


def test_a_student_sharing_one_id_block_key_is_kept_and_one_with_only_nulls_is_dropped():
    stu = [{"uid": "s3", "idk4": "4331272010X"}, {"uid": "s4"}]
    assert _kept(REG, stu) == {"s3"}

