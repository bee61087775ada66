"""Step `link_prepare` and the engine expressions every linkage tier shares.

`students` holds one row per student number (its latest record across terms) with
the ID a link may use: the ID column when present, else the ID inside a "G" student
number. Name features (normalised name, reading keys) are built here too, but only
for the rows a tier needs: the exact tier normalises the names of its pairs, the
probabilistic tier those of the residue. Everything is an Ibis expression; Python
sees only distinct characters.
"""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa

from yidan.identity.idnumber import CHECK_CHARS, WEIGHTS
from yidan.identity.names import normalised_chars, primary_readings, reading_rows, translation_for
from yidan.identity.terms import distinct_terms, term_ordinal_among
from yidan.pipeline.context import RunContext

# Longest name (in characters) whose every character gets readings; longer names
# keep their full normalised form, their tail is simply not read aloud.
MAX_NAME_CHARS = 32
READ_POSITIONS = 16  # characters read aloud in order (minority names with a middle dot run to ~12)
ID_WEIGHTS, ID_CHECK = WEIGHTS, CHECK_CHARS  # owned by identity.idnumber


def id_check_ok(value: Any) -> Any:
    """True when an 18-character ID's check character is right (ISO 7064 MOD 11-2).

    The arithmetic runs in the engine; a non-digit makes `try_cast` null, and a null
    verdict is False. Give it a plain column or a short expression: it is read 18 times.
    """
    total = sum(value.substr(i, 1).try_cast("int64") * w for i, w in enumerate(ID_WEIGHTS))
    expected = ibis.literal(ID_CHECK).substr((total % 11).cast("int32"), 1)
    return ((value.length() == 18) & (value.substr(17, 1) == expected)).fill_null(False)



def student_ids(enrollment: Any) -> Any:
    """Enrollment rows with `g_id`: the ID inside a "G" student number, when its check character holds.

    Most "G" numbers hold the very ID of the ID column, already validated at ingest; the
    check-digit arithmetic (18 substrings per row) runs only for the others, which is
    what makes this step cost a join's time rather than a validation's.
    """
    e = enrollment
    g_raw = e.student_no.substr(1, 18)
    has_g = (e.student_no.substr(0, 1) == "G") & (e.student_no.length() == 19)
    same_as_valid_id = (g_raw == e.id_number) & e.id_number_valid.fill_null(False)
    return e.mutate(g_id=ibis.cases(
        (~has_g, ibis.null("string")),
        (same_as_valid_id, g_raw),
        (id_check_ok(g_raw), g_raw),
        else_=ibis.null("string"),
    ))


_FEW_FILES = 16  # up to this many enrollment files (or sheets), a file's position is a CASE, not a join


def latest_records(enrollment: Any, files: list[str], terms: list[str] | None = None) -> Any:
    """The record of each student_no's latest term (latest file, then latest row, on ties).

    `files` are the distinct `_file` values, in order. Each record gets one number that
    sorts like (term, file, row) and is unique; a student's latest record is the one
    holding its student number's largest number: a group-by and a semi-join on one integer
    column, where a window partitioned by student number would sort every whole record
    (at province size that window spilled and cost minutes under a 4 GB limit).
    A record without a term sorts below every term, as the window's NULLS LAST did.
    `terms`, the distinct canonical term labels when known (a handful), turns the term's
    ordinal into a CASE over them instead of parsing the text of every record.
    """
    if len(files) <= _FEW_FILES:  # a CASE over a handful of names: no hash join of every row on a long text
        position = {f: i for i, f in enumerate(files, start=1)}
        e = enrollment.mutate(_fo=enrollment._file.substitute(position, else_=ibis.null("int64")).cast("int64"))
    else:
        order = ibis.memtable({"_jf": files, "_fo": list(range(1, len(files) + 1))},
                              schema={"_jf": "string", "_fo": "int64"})
        e = enrollment.left_join(order, enrollment._file == order._jf).drop("_jf")
    ordinal = term_ordinal_among(e.term, terms)
    t_ord = ordinal.fill_null(0).cast("int64")
    keyed = e.mutate(_k=t_ord * 2**44 + e._fo.fill_null(0) * 2**32 + e._row.cast("int64")).drop("_fo")
    latest = keyed.group_by("student_no").aggregate(_kmax=keyed._k.max())
    return keyed.filter(keyed._k.isin(latest._kmax)).drop("_k")


def build_students(enrollment: Any, files: list[str], terms: list[str] | None = None) -> Any:
    """One row per student_no: its latest record (`latest_records`) with the ID a link may use.

    `link_id` is the ID column when valid (and not converted from the 15-digit form), else the
    ID in the "G" number, else the (unverified) ID column; `link_id_converted` says the ID used
    is a converted 15-digit one. The "G" number is read only on the latest records.
    """
    e = student_ids(latest_records(enrollment, files, terms))
    id_valid = e.id_number_valid.fill_null(False)
    converted = e.id_number_converted.fill_null(False) if "id_number_converted" in e.columns else ibis.literal(False)
    use_id = e.id_number.notnull() & id_valid & ~converted
    link_id = ibis.cases((use_id, e.id_number), (e.g_id.notnull(), e.g_id), else_=e.id_number)
    link_id_valid = ibis.cases((use_id, True), (e.g_id.notnull(), True), (e.id_number.notnull(), False),
                               else_=ibis.null("boolean"))
    link_id_converted = ~use_id & e.g_id.isnull() & e.id_number.notnull() & converted
    e = e.mutate(link_id=link_id, link_id_valid=link_id_valid, link_id_converted=link_id_converted)
    # one row per student of the province: only the columns linkage and the outputs read (the
    # file's name, a long text on every row, and the columns only classify reads stay behind)
    return e.select(*[c for c in e.columns if c not in _NOT_IN_STUDENTS])


# enrollment columns no reader of `students` needs (classify and the audit read `enrollment` itself)
_NOT_IN_STUDENTS = frozenset({"id_number_valid", "id_number_converted", "attendance_mode", "boarding", "status_date",
                              "_file"})


def link_prepare(ctx: RunContext) -> None:
    """Materialise `students` from the ingested `enrollment` table."""
    enrollment = ctx.get("enrollment")
    # the input files' names (one per file or sheet, a handful): within a term, the later file wins
    files = sorted(v for v in enrollment.select("_file").distinct().to_pyarrow().column("_file").to_pylist()
                   if v is not None)
    students = ctx.put("students", build_students(enrollment, files, distinct_terms(enrollment)))
    ctx.notes.setdefault("linkage", {})["students"] = int(students.count().execute())


def school_names(students: Any) -> Any:
    """`_sc` (school_code) -> `_sname`: one name per code, the latest records' spelling (the largest)."""
    st = students.filter(students.school_code.notnull() & students.school_name.notnull())
    return st.group_by(_sc=st.school_code).aggregate(_sname=st.school_name.max())


def keep_for_outputs(ctx: RunContext) -> None:
    """What the steps after linkage read of `students`, which is released after `link_resolve`:
    `linked_students`, the students some link names (accepted or for review: the outputs' and the
    findings' records), and `school_names` (every school's name, from all students). At province
    size `students` holds 6.6 M rows and the links name 1.5 M of them: kept whole, it took the
    memory classify and the audit spilled for."""
    if not ctx.has("students"):  # resolving pairs given by hand (tests of the resolution alone)
        return
    students, links = ctx.get("students"), ctx.get("links")
    ctx.put("school_names", school_names(students))
    ctx.put("linked_students", students.semi_join(links.select("student_no").distinct(), "student_no"))


# --- names -------------------------------------------------------------------------------------------


def _positions() -> Any:
    return ibis.memtable({"pos": list(range(MAX_NAME_CHARS))})


def _chars(table: Any, key: str, name: str) -> Any:
    """(key, pos, ch) for every character of every name: a cross join with a small position table."""
    pos = _positions()
    joined = table.select(key, _n=table[name]).filter(lambda t: t._n.notnull()).cross_join(pos)
    joined = joined.filter(joined.pos < joined._n.length())
    return joined.select(key, "pos", ch=joined._n.substr(joined.pos, 1))


def distinct_chars(*columns: Any) -> set[str]:
    """The distinct characters of some string columns, fetched once (a few thousand values)."""
    out: set[str] = set()
    for col in columns:
        t = col.name("_n").as_table().distinct()
        t = t.mutate(_k=ibis.literal(0))
        chars = _chars(t, "_k", "_n").select("ch").distinct().to_pyarrow().column("ch").to_pylist()
        out.update(c for c in chars if c is not None)
    return out


def _char_class(chars: str) -> str:
    """A regular-expression character class matching any of `chars` (RE2 and Java read it alike)."""
    return "[" + "".join(c if c.isalnum() else f"\\x{{{ord(c):X}}}" for c in chars) + "]"


def _normalise_with(chars: set[str]) -> Any:
    src, dst = translation_for(chars)
    # `translate` costs time in proportion to its mapping on every row (measured on DuckDB:
    # 300 mapped characters, 1.3 M names, 52 s); only the few names holding a character to
    # map need it, and finding them is one compiled regular expression (0.2 s)
    needs = _char_class(src)

    def normalise(col: Any) -> Any:
        out = ibis.ifelse(col.re_search(needs), col.translate(src, dst), col) if src else col
        return ibis.ifelse(out.length() == 0, ibis.null("string"), out)

    return normalise


def normaliser(*columns: Any) -> Any:
    """A function turning a name column into its normalised form, for names drawn from `columns`."""
    return _normalise_with(distinct_chars(*columns))


def name_coder(*columns: Any) -> tuple[Any, Any]:
    """`(normalise, readings)` for names drawn from `columns`.

    `normalise` is `normaliser`'s function; `readings` is a small table (`ch`,
    `surname_reading`, `reading`) of every character of the normalised names, for
    `reading_key_parts`.
    """
    chars = distinct_chars(*columns)
    return _normalise_with(chars), ibis.memtable(coded_readings(primary_readings(normalised_chars(chars))))


READING_CODE_BITS = 12  # a reading's code (`coded_readings`) is below 2**12; pinyin with tones has ~1 500


def coded_readings(readings: pa.Table) -> pa.Table:
    """`readings` with `surname_code` and `code`: each distinct reading a whole number from 1 (null stays null).

    Code 0 stands for '-' (no second character), so block keys built from codes
    (`predict.block_keys`) are equal exactly where keys built from the readings' text would be.
    """
    words = sorted({w for col in ("surname_reading", "reading") for w in readings.column(col).to_pylist()
                    if w is not None})
    if len(words) >= 2**READING_CODE_BITS:
        raise ValueError(f"{len(words)} distinct readings do not fit in {READING_CODE_BITS} bits")
    code = {w: i for i, w in enumerate(words, start=1)}

    def codes(col: str) -> pa.Array:
        return pa.array([None if w is None else code[w] for w in readings.column(col).to_pylist()], pa.int64())

    return readings.append_column("surname_code", codes("surname_reading")).append_column("code", codes("reading"))


def reading_key_parts(t: Any, readings: Any) -> Any:
    """`t` with `_s0` (surname reading), `_u1` (reading of the second character) and `_ul` (of the last read one).

    Two names whose reading keys (`name_features`' `name_py`) are equal have equal
    parts and equal `_len` (characters read, at most READ_POSITIONS); `_s0` is equal
    exactly where `surname_py` is. Three joins with a small table, no per-character
    rows: cheap enough for every student of a province. `_c0`, `_c1` and `_cl` are the
    same three readings' codes (`coded_readings`; 0 for '-'), which block keys are built from.
    """
    n = t.name_norm
    length = ibis.least(n.length(), READ_POSITIONS)
    t = t.mutate(_k0=n.substr(0, 1), _k1=n.substr(1, 1), _kl=n.substr(length - 1, 1), _len=length)
    first = readings.select(_j0="ch", _s0="surname_reading", _c0="surname_code")
    second = readings.select(_j1="ch", _r1="reading", _d1="code")
    last = readings.select(_jl="ch", _ul="reading", _cl="code")
    t = t.left_join(first, t._k0 == first._j0).drop("_j0")
    t = t.left_join(second, t._k1 == second._j1).drop("_j1")
    t = t.left_join(last, t._kl == last._jl).drop("_jl")
    return t.mutate(_u1=ibis.ifelse(t._len >= 2, t._r1, "-"),
                    _c1=ibis.ifelse(t._len >= 2, t._d1, 0)).drop("_k0", "_k1", "_kl", "_r1", "_d1")


def name_features(table: Any, key: str, name_norm: str = "name_norm") -> Any:
    """Reading features of a normalised name column, keyed by `key`.

    Returns key, `surname_py` (reading of the first character as a surname),
    `name_py` (the usual reading of every character, surname reading first),
    `py0`, `py1`, `py2` (every reading of characters 1-3; ['-'] where the name is
    shorter) and `py_rest` (usual reading of the rest; '-' when none). Two names
    sound alike when, position by position, their reading sets meet.
    """
    chars = _chars(table, key, name_norm)
    distinct = chars.select("ch").distinct().to_pyarrow().column("ch").to_pylist()
    readings = ibis.memtable(reading_rows(c for c in distinct if c is not None))
    j = chars.join(readings, (chars.ch == readings.ch) & (readings.surname == (chars.pos == 0)))
    # the usual reading per position, joined in order: filtered aggregates and concat_ws rather
    # than an ordered string aggregation, which Spark's Ibis backend cannot compile
    usual = [j.reading.min(where=j.primary & (j.pos == i)) for i in range(READ_POSITIONS)]
    agg = j.group_by(key).aggregate(
        **{f"_p{i}": u for i, u in enumerate(usual)},
        py0=j.reading.collect(where=j.pos == 0, distinct=True),
        py1=j.reading.collect(where=j.pos == 1, distinct=True),
        py2=j.reading.collect(where=j.pos == 2, distinct=True),
    )
    parts = [agg[f"_p{i}"] for i in range(READ_POSITIONS)]
    agg = agg.mutate(
        surname_py=parts[0],
        name_py=ibis.literal(" ").join(parts),
        py_rest=ibis.literal("").join(parts[3:]),
    ).drop(*[f"_p{i}" for i in range(READ_POSITIONS)])
    none = ibis.literal(["-"], type="array<string>")
    return agg.mutate(
        py1=ibis.ifelse(agg.py1.isnull() | (agg.py1.length() == 0), none, agg.py1),
        py2=ibis.ifelse(agg.py2.isnull() | (agg.py2.length() == 0), none, agg.py2),
        py_rest=ibis.ifelse(agg.py_rest.isnull() | (agg.py_rest.length() == 0), "-", agg.py_rest),
    )
