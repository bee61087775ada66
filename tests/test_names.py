"""Names: normalisation and readings, in Python and in the engine."""

from __future__ import annotations

import ibis
import pytest

from yidan.identity.names import (
    MIDDLE_DOT,
    normalise_name,
    reading_rows,
    readings,
    translation_for,
)
from yidan.pipeline.link.prepare import name_features, normaliser


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("張偉", "张伟"),  # traditional → simplified
        (" 王　芳 ", "王芳"),  # half- and full-width spaces
        ("艾力・买买提", f"艾力{MIDDLE_DOT}买买提"),  # katakana middle dot
        ("艾力•买买提", f"艾力{MIDDLE_DOT}买买提"),  # bullet
        ("艾力．买买提", f"艾力{MIDDLE_DOT}买买提"),  # full-width full stop
        ("ＬＩ小明", "LI小明"),  # full-width letters
    ],
)
def test_names_written_differently_normalise_to_one_form(written: str, normal: str) -> None:
    assert normalise_name(written) == normal


def test_an_empty_or_blank_name_normalises_to_nothing() -> None:
    assert normalise_name(None) is None
    assert normalise_name("　 ") is None


@pytest.mark.parametrize(
    ("surname", "reading"),
    [("曾", "zeng"), ("单", "shan"), ("解", "xie"), ("仇", "qiu"), ("区", "ou"), ("查", "zha"), ("朴", "piao")],
)
def test_surnames_are_read_as_surnames(surname: str, reading: str) -> None:
    assert readings(surname, surname=True)[0] == reading


def test_a_character_keeps_every_reading_so_heteronyms_can_meet() -> None:
    assert readings("曾")[0] == "ceng"  # 曾经: the usual reading comes first
    assert "zeng" in readings("曾")
    assert {"le", "yue"} <= set(readings("乐"))


def test_the_translation_maps_variants_and_deletes_spaces() -> None:
    src, dst = translation_for("張偉 王　")
    assert "王" not in src  # already normal
    table = dict(zip(src, dst, strict=False))
    assert table["張"] == "张" and table["偉"] == "伟"
    assert src.endswith(" 　") or set(src[len(dst):]) == {" ", "　"}


def test_the_reading_table_marks_one_primary_reading_per_character_and_position() -> None:
    rows = reading_rows("曾").to_pylist()
    primary = {(r["surname"], r["reading"]) for r in rows if r["primary"]}
    assert primary == {(False, "ceng"), (True, "zeng")}


def _features(names: list[str]) -> dict[str, dict]:
    backend = ibis.duckdb.connect()
    t = backend.create_table("names", ibis.memtable({"k": list(range(len(names))), "name": names}))
    normalise = normaliser(t["name"])
    t = backend.create_table("norm", t.mutate(name_norm=normalise(t["name"])))
    norm = {r["k"]: r["name_norm"] for r in t.select("k", "name_norm").to_pyarrow().to_pylist()}
    return {names[r["k"]]: {**r, "name_norm": norm[r["k"]]} for r in name_features(t, "k").to_pyarrow().to_pylist()}


def test_the_engine_normalises_names_like_python_does() -> None:
    names = ["張偉", "艾力・买买提", " 王　芳 "]
    f = _features(names)
    assert [f[n]["name_norm"] for n in names] == [normalise_name(n) for n in names]


def test_homophones_share_a_reading_key_in_the_engine() -> None:
    f = _features(["张伟", "章伟", "张威", "王伟"])
    assert f["张伟"]["name_py"] == f["章伟"]["name_py"] == f["张威"]["name_py"] == "zhang wei"
    assert f["王伟"]["name_py"] != f["张伟"]["name_py"]


def test_a_surname_heteronym_meets_its_homophone_in_the_engine() -> None:
    f = _features(["曾阳", "增阳", "单明", "善明"])
    assert f["曾阳"]["surname_py"] == f["增阳"]["surname_py"] == "zeng"
    assert f["单明"]["name_py"] == f["善明"]["name_py"] == "shan ming"


def test_short_names_fill_missing_positions_so_lengths_must_agree() -> None:
    f = _features(["王伟", "王伟明"])
    assert f["王伟"]["py2"] == ["-"]
    assert "ming" in f["王伟明"]["py2"]
