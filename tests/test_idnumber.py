"""ID numbers: the SQL check and the Python helpers give stdnum's verdict, and mangled IDs are recognised."""

import random

import duckdb
import pytest
from stdnum.cn import ric

from yidan.identity import idnumber


def stable_counties() -> list[str]:
    """Division codes the oracle accepts for every birth year we generate (stdnum checks code history)."""
    candidates = sorted(idnumber.division_codes())[::8]
    return [c for c in candidates
            if all(oracle_valid(with_check(f"{c}{y}0101001")) for y in (1950, 1970, 1990, 2005, 2020))]


def with_check(body17: str) -> str:
    """An ID whose check character is computed by the oracle, not by the code under test."""
    return body17 + ric.calc_check_digit(body17 + "0")


def oracle_valid(number: str) -> bool:
    try:
        return ric.is_valid(number)
    except KeyError:  # stdnum 2.2: an unknown county of a known province (ENGINE-NOTES)
        return False


def sample_ids(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    counties = stable_counties()
    assert len(counties) > 20
    out = []
    for _ in range(n):
        body = (rng.choice(counties) + f"{rng.randint(1950, 2020)}{rng.randint(1, 12):02d}"
                f"{rng.randint(1, 31):02d}{rng.randint(0, 999):03d}")
        number = with_check(body)
        kind = rng.random()
        if kind < 0.3:  # a one-character typo
            i = rng.randrange(17)
            number = number[:i] + str((int(number[i]) + rng.randint(1, 9)) % 10) + number[i + 1:]
        elif kind < 0.4:  # an adjacent swap
            i = rng.randrange(16)
            number = number[:i] + number[i + 1] + number[i] + number[i + 2:]
        elif kind < 0.45:  # an unknown division
            number = with_check("119999" + number[6:17])
        out.append(number)
    return out


def sql_verdicts(ids: list[str]) -> list[bool]:
    con = duckdb.connect()
    idnumber.ensure_divisions(con)
    con.execute("CREATE TABLE t AS SELECT generate_subscripts(?, 1) AS i, unnest(CAST(? AS VARCHAR[])) AS raw",
                [ids, ids])
    norm = idnumber.normalize_sql(idnumber.clean_sql("raw"))
    rows = con.execute(f"SELECT {idnumber.valid_sql('n')} FROM (SELECT i, {norm} AS n FROM t) ORDER BY i").fetchall()
    return [bool(r[0]) for r in rows]


def test_sql_check_agrees_with_stdnum_on_valid_ids_and_typos():
    ids = sample_ids(5000)
    expected = [oracle_valid(i) for i in ids]
    assert 0.3 < sum(expected) / len(expected) < 0.8  # the sample holds both kinds
    assert sql_verdicts(ids) == expected


def test_python_helper_agrees_with_stdnum():
    ids = sample_ids(2000, seed=11)
    assert [idnumber.is_valid_id(i) for i in ids] == [oracle_valid(i) for i in ids]


@pytest.mark.parametrize("written", [
    "４３０１２４２００９０３１５００１１",  # full-width digits
    " 430124 2009 0315 0011 ",  # spaces
    "'430124200903150011",  # Excel's text prefix
])
def test_ids_are_normalised_before_checking(written):
    assert idnumber.normalize_id(written) == "430124200903150011"
    assert idnumber.is_valid_id(written) and ric.is_valid("430124200903150011")


def test_lower_case_x_is_upper_cased():
    number = next(i for i in (with_check(f"43012420100101{n:03d}") for n in range(200)) if i.endswith("X"))
    assert idnumber.normalize_id(number.lower()) == number
    assert idnumber.is_valid_id(number.lower())


def test_legacy_15_digit_id_gets_the_century_and_a_check_character():
    legacy = "430124900315001"
    expected = with_check("43012419900315001")
    assert idnumber.normalize_id(legacy) == expected
    assert ric.is_valid(expected)
    assert sql_verdicts([legacy]) == [True]


@pytest.mark.parametrize("written", ["4.30124E+17", "4.3012420090315e+17", "430124200903150000",
                                     "430124200903150000.0"])
def test_ids_excel_turned_into_numbers_are_recognised_as_mangled(written):
    assert idnumber.is_excel_mangled(written)


def test_a_valid_id_ending_in_000_is_not_mistaken_for_a_mangled_one():
    number = next(i for i in (with_check(f"430124200903{d:02d}{n}00") for d in range(1, 29) for n in range(10))
                  if i.endswith("0"))
    assert number.endswith("000") and ric.is_valid(number)
    assert not idnumber.is_excel_mangled(number)


def test_birth_date_and_gender_come_from_the_id():
    con = duckdb.connect()
    number = "'430124200903150011'"
    born, gender = con.execute(
        f"SELECT {idnumber.birth_date_sql(number)}, {idnumber.gender_sql(number)}").fetchone()
    assert str(born) == "2009-03-15" and gender == "男"
