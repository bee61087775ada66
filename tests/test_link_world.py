"""A small synthetic world for the linkage tests, and the runner that links it.

`World` holds registry children and enrollment records as plain rows. A random
population (seeded) gives Splink enough data to learn from: most children are
enrolled under their own ID, some with a typo in the ID, some under an "L" number,
some not at all, and thousands of non-poor students are the strangers they could be
confused with. Named cases (twins, homophones, ...) are added on top by the tests,
so each test reads as the situation it checks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pyarrow as pa

from yidan.contract import TABLES
from yidan.pipeline.load import table_schema

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
COUNTIES = ("430124", "430181", "430203", "430304", "431102")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家致树炎德行时泰盛雄琛钧冠策腾楠榕风航弘"


def check_char(body: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


def make_id(county: str, birth: date, order: int) -> str:
    body = f"{county}{birth:%Y%m%d}{order % 1000:03d}"
    return body + check_char(body)


def is_valid(value: str | None) -> bool | None:
    """Check character and birth date, as ingest checks them (the division table is not needed here)."""
    if value is None:
        return None
    if len(value) != 18 or not value[:17].isdigit() or check_char(value[:17]) != value[17]:
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return True


def one_digit_typo(pid: str, rng: random.Random) -> str:
    """The ID with one body digit changed (the check character then fails)."""
    pos = rng.choice([i for i in range(14, 17)] + [i for i in range(0, 6)])
    digit = rng.choice([d for d in "0123456789" if d != pid[pos]])
    return pid[:pos] + digit + pid[pos + 1:]


def swap_neighbours(pid: str, pos: int) -> str:
    return pid[:pos] + pid[pos + 1] + pid[pos] + pid[pos + 2:]


HOMOPHONES = {"张": "章", "李": "黎", "王": "汪", "吴": "武", "徐": "许", "杨": "阳", "周": "舟", "陈": "臣",
              "刘": "留", "黄": "皇", "伟": "威", "明": "铭", "静": "婧", "丽": "莉", "军": "君", "杰": "洁",
              "芳": "方", "华": "骅", "敏": "民", "涛": "滔"}


def homophone(name: str) -> str | None:
    """The name with one character replaced by a homophone (同音字), or None when none is known."""
    for i, ch in enumerate(name):
        if ch in HOMOPHONES:
            return name[:i] + HOMOPHONES[ch] + name[i + 1:]
    return None


@dataclass
class World:
    registry: list[dict[str, Any]] = field(default_factory=list)
    enrollment: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    truth: set[tuple[str, str]] = field(default_factory=set)  # (registry ID as written, student_no)
    seq: int = 500

    def person(self, name: str, birth: date, *, gender: str = "男", county: str = "430124",
               pid: str | None = None, head: str | None = None, converted: bool = False) -> str:
        """Add a registry child; returns the ID as read (`converted`: written in the 15-digit form)."""
        if pid is None:
            self.seq += 2
            pid = make_id(county, birth, self.seq + (1 if gender == "男" else 0))
        self.registry.append({
            "id_number": pid, "name": name, "gender": gender, "birth_date": birth, "head_name": head,
            "hukou_code": county + "101001", "category": "建档立卡", "recognized_on": date(2016, 1, 1),
            "id_number_converted": converted,
        })
        return pid

    def student(self, name: str, birth: date, *, pid: str | None, gender: str = "男", county: str = "430124",
                student_no: str | None = None, id_column: bool = True, term: str = "2021春",
                status: str = "在读", of: str | None = None) -> str:
        """Add an enrollment record; by default its student number is "G" + ID, or an "L" number."""
        if student_no is None:
            self.seq += 1
            student_no = f"G{pid}" if pid else f"L{county}{self.seq:010d}"
        self.enrollment.append({
            "student_no": student_no, "id_number": pid if id_column else None, "name": name, "gender": gender,
            "birth_date": birth, "school_code": county + "0001", "school_county_code": county, "stage": "小学",
            "enrollment_status": status, "term": term,
        })
        if of is not None:
            self.truth.add((of, student_no))
        return student_no

    def decide(self, person_id: str, student_no: str, decision: str) -> None:
        self.decisions.append({"person_id": person_id, "student_no": student_no, "decision": decision,
                               "decided_on": date(2021, 3, 1)})


def random_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))


def random_birth(rng: random.Random) -> date:
    return date(2006, 1, 1) + timedelta(days=rng.randrange(365 * 9))


def population(world: World, *, seed: int = 7, children: int = 1200, strangers: int = 2500) -> dict[str, int]:
    """Random children with the usual fates, and strangers; returns how many of each fate."""
    rng = random.Random(seed)
    fates = dict.fromkeys(("exact", "typo", "swap", "l_number", "homophone", "birth_shift", "away", "none"), 0)
    for _ in range(children):
        county = rng.choice(COUNTIES)
        gender = rng.choice("男女")
        name, birth = random_name(rng), random_birth(rng)
        roll = rng.random()
        while 0.92 <= roll < 0.935 and homophone(name) is None:
            name = random_name(rng)
        pid = world.person(name, birth, gender=gender, county=county)
        if roll < 0.85:
            fate = "exact"
            # a few go to school in the next county (the county comparison learns what that means)
            school = COUNTIES[(COUNTIES.index(county) + 1) % len(COUNTIES)] if roll < 0.03 else county
            world.student(name, birth, pid=pid, gender=gender, county=school, of=pid)
        elif roll < 0.88:
            fate = "typo"
            typo = world.registry[-1]["id_number"] = one_digit_typo(pid, rng)
            world.student(name, birth, pid=pid, gender=gender, county=county, of=typo)
        elif roll < 0.89:
            fate = "swap"
            pos = rng.choice([i for i in range(16) if pid[i] != pid[i + 1]])
            swapped = world.registry[-1]["id_number"] = swap_neighbours(pid, pos)
            world.student(name, birth, pid=pid, gender=gender, county=county, of=swapped)
        elif roll < 0.92:
            fate = "l_number"
            world.student(name, birth, pid=None, gender=gender, county=county, of=pid)
        elif roll < 0.935:
            fate = "homophone"
            world.student(homophone(name) or name, birth, pid=None, gender=gender, county=county, of=pid)
        elif roll < 0.945:
            fate = "birth_shift"
            world.student(name, birth + timedelta(days=1), pid=None, gender=gender, county=county, of=pid)
        elif roll < 0.955:
            fate = "away"  # no ID, at school in the next county, the birth date a day off
            school = COUNTIES[(COUNTIES.index(county) + 1) % len(COUNTIES)]
            days = rng.choice((-1, 1))
            world.student(name, birth + timedelta(days=days), pid=None, gender=gender, county=school, of=pid)
        else:
            fate = "none"
        fates[fate] += 1
    for i in range(strangers):
        county = rng.choice(COUNTIES)
        gender = rng.choice("男女")
        birth = random_birth(rng)
        world.student(random_name(rng), birth, gender=gender, county=county,
                      pid=make_id(county, birth, 2 * (i % 400) + (1 if gender == "男" else 0)))
    return fates


def _create(con: Any, table: str, rows: list[dict[str, Any]]) -> None:
    schema = table_schema(TABLES[table]).to_pyarrow()
    cols: dict[str, list[Any]] = {f.name: [] for f in schema}
    for i, row in enumerate(rows):
        for name in cols:
            if name == "_file":
                cols[name].append(f"{table}.csv")
            elif name == "_row":
                cols[name].append(i + 2)
            elif name.endswith("_converted"):
                cols[name].append(bool(row.get(name)))
            elif name.endswith("_valid"):
                cols[name].append(is_valid(row.get(name[: -len("_valid")])))
            else:
                cols[name].append(row.get(name))
    con.register("world_rows", pa.table(cols, schema=schema))
    con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM world_rows')
    con.unregister("world_rows")


def link_world(world: World, *, engine: Any = None, steps: Any = None, **linkage: Any) -> Any:
    """Run persons_base and the four linkage steps on the world; returns the RunContext.

    `engine`: an EngineConfig (default DuckDB); on Spark the rows are staged in the
    engine's DuckDB and published, as the load step does.
    """
    from yidan.engine import connect
    from yidan.engine.parquet_bridge import publish_all
    from yidan.identity.terms import parse_term
    from yidan.pipeline.context import RunContext, RunInputs
    from yidan.pipeline.link import LINK_STEPS
    from yidan.pipeline.load import register_tables
    from yidan.pipeline.steps import PERSONS
    from yidan.settings import LinkageConfig, RunConfig

    config = RunConfig(linkage=LinkageConfig(**{"max_pairs_for_u": 300_000, **linkage}))
    if engine is not None:
        config.engine = engine
    engine = connect(config.engine)
    ctx = RunContext(engine=engine, config=config, term=parse_term("2021春"), inputs=RunInputs([], []))
    con = engine.duckdb
    for table, rows in (("registry", world.registry), ("enrollment", world.enrollment),
                        ("link_decisions", world.decisions)):
        _create(con, table, rows)
    for table in ("out_of_province", "verifications", "aid", "policies"):
        _create(con, table, [])
    con.execute('CREATE TABLE rejects ("table" VARCHAR, file VARCHAR, row_number BIGINT, "column" VARCHAR, '
                "value VARCHAR, reason VARCHAR)")
    publish_all(ctx.engine, ("registry", "enrollment", "link_decisions", "out_of_province", "verifications", "aid",
                             "policies", "rejects"))
    register_tables(ctx)
    PERSONS.run(ctx)
    for step in LINK_STEPS if steps is None else steps:
        step.run(ctx)
    return ctx


def links_of(ctx: Any) -> list[dict[str, Any]]:
    return ctx.get("links").to_pyarrow().to_pylist()


def quality(world: World, links: list[dict[str, Any]]) -> dict[str, float]:
    """Precision of accepted links and recall of true links (accepted + review) against the world's truth."""
    accepted = {(r["person_id"], r["student_no"]) for r in links if r["decision"] == "accepted"}
    found = {(r["person_id"], r["student_no"]) for r in links}
    return {
        "precision": len(accepted & world.truth) / max(len(accepted), 1),
        "recall": len(found & world.truth) / max(len(world.truth), 1),
        "review": sum(r["decision"] == "review" for r in links),
    }


def test_the_random_population_is_enrolled_mostly_under_its_own_id() -> None:
    world = World()
    fates = population(world, children=200, strangers=10)
    assert fates["exact"] > 150
    valid = sum(bool(is_valid(r["id_number"])) for r in world.registry)
    assert valid == 200 - fates["typo"] - fates["swap"]
