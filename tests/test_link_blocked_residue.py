"""Students who share no blocking key with the registry residue are left out before scoring.

The filter works on cheap reading parts (three joins with a small table per name) instead of
the per-character reading features Splink compares; two names Splink would block together
must always share those parts, or a student Splink would have paired is lost.
"""

import ibis
import pytest

from yidan.pipeline.link.features import birth_numbers
from yidan.pipeline.link.predict import block_keys, shares_block_key
from yidan.pipeline.link.prepare import name_coder, name_features, reading_key_parts

SIDE = {"uid": "string", "birth_str": "string", "county": "string", "id": "string", "id_valid": "boolean",
        "name": "string"}

# homophones (张/章), surname readings (曾 zeng, 单 shan, 区 ou), heteronyms, traditional
# characters, a minority name with a dot variant, full-width letters, one- and many-character names
NAMES = ["张伟", "章伟", "张玮", "曾小红", "增小红", "单雨", "善雨", "区华", "欧华", "區華", "張偉",
         "艾力・买买提", "艾力·买买提", "王", "汪", "ＡＢ王", "ab王", "欧阳娜娜", "欧阳纳纳", "解放", "谢放",
         "阿卜杜热合曼·阿卜杜克热木·买买提明江", "李长春", "李常春"]


def _side(rows: list[dict[str, str | None]]) -> ibis.Table:
    t = ibis.memtable([{c: r.get(c) for c in SIDE} for r in rows], schema=SIDE)
    return t.mutate(**birth_numbers(t.birth_str.cast("date")))


def _with_keys(t: ibis.Table, normalise, readings) -> ibis.Table:
    t = reading_key_parts(t.mutate(name_norm=normalise(t.name)), readings)
    return t.mutate(**block_keys(t))


def _kept(reg_rows, stu_rows) -> set[str]:
    reg, stu = _side(reg_rows), _side(stu_rows)
    normalise, readings = name_coder(reg.name, stu.name)
    reg_keys = _with_keys(reg, normalise, readings)
    reg_keys = reg_keys.mutate(id_ok=reg_keys.id_valid.fill_null(False))
    stu_keys = _with_keys(stu, normalise, readings)
    keys = {c: stu_keys[c] for c in stu_keys.columns if c.startswith("bk")}
    kept = shares_block_key(keys, stu_keys.id, stu_keys.id_valid.fill_null(False), reg_keys)
    return set(stu_keys.filter(kept).uid.to_pyarrow().to_pylist())


REG = [{"uid": "r1", "birth_str": "2010-05-01", "county": "433127", "name": "王晓明",
        "id": "433127201005010011"}]


def test_a_student_sharing_birth_date_and_surname_reading_is_kept():
    assert _kept(REG, [{"uid": "s1", "birth_str": "2010-05-01", "name": "汪红"}]) == {"s1"}


def test_a_student_sharing_only_the_birth_date_is_dropped():
    assert _kept(REG, [{"uid": "s1", "birth_str": "2010-05-01", "name": "李红"}]) == set()


def test_a_student_sharing_county_and_full_reading_is_kept_and_another_county_is_dropped():
    stu = [{"uid": "s2", "county": "433127", "name": "王小明"}, {"uid": "s3", "county": "433130", "name": "王小明"}]
    assert _kept(REG, stu) == {"s2"}


def test_a_student_in_another_county_without_id_born_a_few_days_off_is_kept_across_a_months_end():
    stu = [{"uid": "s5", "county": "433130", "name": "王小明", "birth_str": "2010-04-29"},
           {"uid": "s6", "county": "433130", "name": "王小明", "birth_str": "2010-05-07"},
           {"uid": "s7", "county": "433130", "name": "王小明", "birth_str": "2010-06-20"},
           {"uid": "s8", "county": "433130", "name": "李小明", "birth_str": "2010-05-02"}]
    assert _kept(REG, stu) == {"s5", "s6"}


def test_a_student_one_id_digit_away_is_kept_and_one_with_nothing_is_dropped():
    stu = [{"uid": "s3", "id": "433127201005010019", "id_valid": False}, {"uid": "s4", "name": "赵六"}]
    assert _kept(REG, stu) == {"s3"}


# Two valid IDs that differ are two people (the check character catches every single typo and
# every swap of neighbours): such a student is dropped however much else it shares.
VALID_REG = [{**REG[0], "id": "433127201005010013", "id_valid": True}]
TWIN = {"uid": "t1", "birth_str": "2010-05-01", "county": "433127", "name": "王晓明",
        "id": "43312720100501003X", "id_valid": True}


def test_a_student_whose_valid_id_differs_from_the_persons_valid_id_is_dropped():
    assert _kept(VALID_REG, [TWIN]) == set()


def test_the_same_student_is_kept_when_the_persons_id_is_missing_or_invalid():
    assert _kept([{**VALID_REG[0], "id": None, "id_valid": None}], [TWIN]) == {"t1"}
    assert _kept([{**VALID_REG[0], "id_valid": False}], [TWIN]) == {"t1"}


def test_a_student_without_a_valid_id_is_kept_beside_a_person_with_one():
    assert _kept(VALID_REG, [{**TWIN, "id": None, "id_valid": None}]) == {"t1"}
    assert _kept(VALID_REG, [{**TWIN, "id": "433127201005010099", "id_valid": False}]) == {"t1"}


def test_a_student_with_the_persons_very_valid_id_is_kept():
    assert _kept(VALID_REG, [{**TWIN, "id": VALID_REG[0]["id"], "name": "李四"}]) == {"t1"}


@pytest.fixture(scope="module")
def readings_and_keys():
    t = ibis.memtable({"uid": [str(i) for i in range(len(NAMES))], "name": NAMES,
                       "birth_str": ["2010-05-01"] * len(NAMES), "county": ["433127"] * len(NAMES),
                       "id": [None] * len(NAMES)}, schema={**SIDE})
    t = t.mutate(**birth_numbers(t.birth_str.cast("date")))
    normalise, readings = name_coder(t.name)
    t = _with_keys(t, normalise, readings)
    features = name_features(t, "uid")
    rows = t.join(features, "uid").to_pyarrow().to_pylist()
    assert len(rows) == len(NAMES)
    return rows


def test_surname_key_is_equal_exactly_where_the_surname_reading_is(readings_and_keys):
    for a in readings_and_keys:
        for b in readings_and_keys:
            assert (a["surname_py"] == b["surname_py"]) == (a["bk0"] == b["bk0"]), (a["name"], b["name"])


def test_names_with_the_same_reading_always_share_the_name_key(readings_and_keys):
    pairs = [(a, b) for a in readings_and_keys for b in readings_and_keys if a["name_py"] == b["name_py"]]
    assert len(pairs) > len(readings_and_keys)  # homophones are there
    for a, b in pairs:
        assert a["bk1"] == b["bk1"], (a["name"], b["name"])


def test_the_name_key_still_separates_names_that_sound_different(readings_and_keys):
    by_name = {r["name"]: r["bk1"] for r in readings_and_keys}
    assert by_name["张伟"] == by_name["章伟"] == by_name["張偉"]
    assert by_name["曾小红"] == by_name["增小红"]
    assert by_name["艾力・买买提"] == by_name["艾力·买买提"]
    assert len({by_name["张伟"], by_name["李长春"], by_name["王"], by_name["欧阳娜娜"]}) == 4
