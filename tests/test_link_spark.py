"""The linkage steps are Ibis and Splink settings that run unchanged on Apache Spark.

The full four steps were run on Spark once by hand (identical links to DuckDB on a
300-child world, but ~13 minutes in local mode on 2 shared cores); the suite keeps
the cheap part: the exact tier and the name features must give identical rows.
"""

from __future__ import annotations

import pytest

import needs
from test_link_world import World, link_world, population

needs.require(needs.spark_problem())  # skipped with the reason; in CI, a failure
pytestmark = [pytest.mark.spark, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*")]


def _rows(table, columns):
    return sorted(tuple(str(r[c]) for c in columns) for r in table.to_pyarrow().to_pylist())


def test_students_and_exact_links_are_identical_on_spark_and_duckdb(spark_session) -> None:
    from datetime import date

    from yidan.pipeline.link import link_exact, link_prepare
    from yidan.settings import EngineConfig

    w = World()
    population(w, seed=2, children=40, strangers=40)
    w.person("陈丽华", date(2008, 4, 4), gender="女", pid=None)
    w.student("陳麗華", date(2008, 4, 4), pid=w.registry[-1]["id_number"], gender="女", id_column=False)
    steps = (link_prepare, link_exact)

    class S:  # the steps as the runner wants them
        def __init__(self, fn):
            self.run = fn

    duck = link_world(w, steps=[S(f) for f in steps])
    spark = link_world(w, steps=[S(f) for f in steps],
                       engine=EngineConfig(name="spark", spark_master="local[2]"))
    try:
        cols = ["student_no", "link_id", "link_id_valid", "g_id", "term"]
        assert _rows(spark.get("students"), cols) == _rows(duck.get("students"), cols)
        cols = ["person_id", "student_no", "method", "decision", "explanation", "name_agrees", "gender_agrees",
                "birth_agrees"]
        assert _rows(spark.get("links_exact"), cols) == _rows(duck.get("links_exact"), cols)
    finally:
        spark.engine.close()
