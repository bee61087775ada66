"""One place for settings.

* `RunConfig` — the comparison's rules (yidan.toml): province, school-age ranges,
  term dates, linkage thresholds, engine limits. Every domain default lives here.
* `AppSettings` — the web application's settings (environment / .env), built by
  `get_app_settings()`, never at import time.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from yidan.errors import ConfigError


class AgeRange(BaseModel):
    min: int
    max: int


class LinkageConfig(BaseModel):
    # Probabilities from the Splink model: >= accept is a link, [review, accept) goes to a person.
    accept: float = 0.95
    review: float = 0.50
    # pairs for the u estimate: every pair of a sample of residue persons × residue students
    max_pairs_for_u: int = 2_000_000
    # chooses that sample (the same on every engine)
    seed: int = 42


class EngineConfig(BaseModel):
    name: str = "duckdb"  # duckdb | spark
    memory_limit: str | None = None  # e.g. "4GB" (DuckDB spills beyond it)
    temp_directory: str | None = None  # DuckDB spill directory
    threads: int | None = None
    spark_master: str = "local[2]"


class IndicatorTarget(BaseModel):
    value: float  # a share as 0–1 (0.96 = 96 %), or a count for count indicators
    year: int


class IndicatorTargets(BaseModel):
    """The targets of the indicators (yidan.reports.indicator_defs), by indicator code."""

    consolidation: IndicatorTarget = IndicatorTarget(value=0.96, year=2025)
    preschool_gross_enrolment: IndicatorTarget = IndicatorTarget(value=0.90, year=2025)
    inclusive_kindergarten_coverage: IndicatorTarget = IndicatorTarget(value=0.85, year=2025)
    public_kindergarten_share: IndicatorTarget = IndicatorTarget(value=0.50, year=2025)
    large_class_rate: IndicatorTarget = IndicatorTarget(value=0.0, year=2020)
    very_large_class_rate: IndicatorTarget = IndicatorTarget(value=0.0, year=2018)
    kindergarten_oversize_rate: IndicatorTarget = IndicatorTarget(value=0.0, year=2025)
    registered_in_school_rate: IndicatorTarget = IndicatorTarget(value=1.0, year=2020)
    unlifted_out_of_school: IndicatorTarget = IndicatorTarget(value=0.0, year=2020)
    home_teaching_coverage: IndicatorTarget = IndicatorTarget(value=1.0, year=2025)
    special_school_county_coverage: IndicatorTarget = IndicatorTarget(value=1.0, year=2025)


class IndicatorConfig(BaseModel):
    """Targets and class-size standards of the indicators; not part of the run's rules (config_hash)."""

    targets: IndicatorTargets = IndicatorTargets()
    large_class_min: int = 56  # 大班额 56–65
    very_large_class_min: int = 66  # 超大班额 66+
    # 《幼儿园工作规程》: 小班 25, 中班 30, 大班 35 (混合班 30)
    kindergarten_class_limits: dict[str, int] = {"小班": 25, "中班": 30, "大班": 35, "混合班": 30}
class VerificationValidity(BaseModel):
    """How long a 核实结论 holds, in days from its 核实日期 (0: for good). A verification older than
    that on the run term's first day is ignored and the child is listed with the expired one."""

    days: dict[str, int] = {
        "省外就读": 183, "因残免学": 0, "因病缓学": 365, "延缓入学": 365, "送教上门": 365, "已劝返复学": 183,
        "出国": 365, "超龄": 0, "死亡": 0, "失联": 183, "信息错误": 0, "其他": 365,
    }

    def valid_from(self, term_start: date) -> dict[str, date]:
        """Per conclusion with a limit: the earliest 核实日期 still valid on `term_start`."""
        return {c: term_start - timedelta(days=d) for c, d in self.days.items() if d > 0}


class RunConfig(BaseModel):
    """The rules of one comparison; `yidan init` writes the documented defaults."""

    province_code: str = "43"  # two-digit province code
    province_name: str = "湖南省"
    school_age: AgeRange = AgeRange(min=3, max=18)
    compulsory_age: AgeRange = AgeRange(min=6, max=15)
    # the day ages are taken on: month/day in the school year's first calendar year
    age_reference_month: int = 8
    age_reference_day: int = 31
    autumn_start: str = "09-01"  # autumn term: 1 Sep - 31 Jan
    spring_start: str = "02-01"  # spring term: 1 Feb - 31 Jul
    linkage: LinkageConfig = LinkageConfig()
    engine: EngineConfig = EngineConfig()
    indicators: IndicatorConfig = IndicatorConfig()
    verification_validity: VerificationValidity = VerificationValidity()

    @model_validator(mode="after")
    def _ranges(self) -> RunConfig:
        for label, r in (("school_age", self.school_age), ("compulsory_age", self.compulsory_age)):
            if r.min > r.max:
                raise ValueError(f"{label}: min > max")
        if not (0 < self.linkage.review <= self.linkage.accept < 1):
            raise ValueError("linkage: need 0 < review <= accept < 1")
        return self

    def config_hash(self) -> str:
        # the indicators' targets change no output of the run: a run's hash stays the same without them
        raw = json.dumps(self.model_dump(exclude={"indicators"}), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


def load_run_config(path: Path | None) -> RunConfig:
    if path is None:
        return RunConfig()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"找不到配置文件：{path}", hint="用 yidan init DIR 生成一份默认配置，或去掉 --config。") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"配置文件格式错误：{path}：{exc}", hint="检查 TOML 语法（等号、引号、方括号）。") from None
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"配置项 {where} 无效：{first['msg']}", hint="对照 yidan init 生成的默认配置修改。") from None


class PasswordHashing(BaseModel):
    """argon2id cost for a server (issue 21): 19 MiB, 2 passes, one lane (OWASP's first choice), and at
    most `max_concurrent` hashes computed at once per server process, so a burst of sign-ins cannot
    exhaust memory (30 at once need at most max_concurrent × memory_kib, the others wait their turn).
    Hashes made with other parameters still verify (argon2 stores them in the hash).
    Environment: YIDAN_PASSWORD_HASHING='{"memory_kib": 32768, "max_concurrent": 4}'."""

    memory_kib: Annotated[int, Field(ge=19 * 1024, le=32 * 1024)] = 19 * 1024
    time_cost: Annotated[int, Field(ge=1, le=10)] = 2
    parallelism: Annotated[int, Field(ge=1, le=4)] = 1
    max_concurrent: Annotated[int, Field(ge=1, le=64)] = 4
class WorkerSettings(BaseModel):
    """The job queue (issue 22): who takes queued runs, and how long a claimed job's lease lasts."""

    # auto: an in-process worker when the database is SQLite, a separate `yidan worker` for PostgreSQL
    mode: str = "auto"  # auto | inprocess | external
    count: int = 1  # jobs one `yidan worker` process runs at the same time (threads)
    lease_seconds: float = 120.0  # a job whose worker sent no heartbeat for this long is failed
    heartbeat_seconds: float = 20.0
    poll_seconds: float = 2.0
    # the in-process worker (SQLite) runs its heavy jobs — publish, workbooks, report — in a child process
    # (yidan.jobs.child), so their CPU time and memory stay out of the process that serves the pages
    child_process: bool = True

    @model_validator(mode="after")
    def _sane(self) -> WorkerSettings:
        if self.mode not in ("auto", "inprocess", "external"):
            raise ValueError("worker.mode 只能是 auto、inprocess 或 external")
        if not (0 < self.heartbeat_seconds < self.lease_seconds) or self.poll_seconds <= 0 or self.count < 1:
            raise ValueError("worker：需要 0 < heartbeat_seconds < lease_seconds，poll_seconds > 0，count ≥ 1")
        return self

    def resolved_mode(self, database_url: str) -> str:
        if self.mode != "auto":
            return self.mode
        return "inprocess" if database_url.startswith("sqlite") else "external"


class LogSettings(BaseModel):
    """What the application and the worker log (to standard error, where systemd or docker collect it)."""

    level: str = "INFO"  # DEBUG | INFO | WARNING | ERROR
    json_lines: bool = False  # one JSON object a line, with the request's id, for a log collector

    @model_validator(mode="after")
    def _level(self) -> LogSettings:
        self.level = self.level.upper()
        if self.level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("log.level 只能是 DEBUG、INFO、WARNING 或 ERROR")
        return self


class IntakeSettings(BaseModel):
    """The intake folder the worker watches: a new registry, enrollment or payment extract dropped there
    starts a run with the server's configuration, compared with the last published run for alerts."""

    folder: Path | None = None  # None: no intake folder
    term: str | None = None  # the runs' term, e.g. 2021春; None: the term of the day the run starts
    days: list[int] = []  # days of the month runs may start on (e.g. [1, 15]); empty: every day
    at: str | None = None  # not before this time of day (HH:MM, server time), e.g. "02:00" for nightly
    settle_seconds: float = 10.0  # a file must be unchanged this long (still being copied otherwise)

    @model_validator(mode="after")
    def _sane(self) -> IntakeSettings:
        if any(not 1 <= d <= 31 for d in self.days):
            raise ValueError("intake.days 只能是 1 到 31 的日期")
        if self.at is not None:
            hh, _, mm = self.at.partition(":")
            if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
                raise ValueError("intake.at 写作 HH:MM，如 02:00")
        return self


SETTINGS_FILE_ENV = "YIDAN_SETTINGS_FILE"  # one TOML file with every setting; YIDAN_* variables override it


class AppSettings(BaseSettings):
    """Web application settings; env vars prefixed YIDAN_.

    There is no secret key to set: the instance generates its random secret at the first
    start and keeps it in its database (`yidan.store.instance`), so no deployment, the
    demo included, can run on a constant one."""

    model_config = SettingsConfigDict(env_prefix="YIDAN_", env_file=".env", extra="ignore",
                                      env_nested_delimiter="__")  # YIDAN_WORKER__LEASE_SECONDS=…

    database_url: str = "sqlite:///yidan.db"
    production: bool = False
    data_dir: Path = Path("yidan-data")
    # publishing asks for an explicit confirmation when it would close more cases than this by data
    publish_confirm_threshold: int = 200
    run_config: Path | None = None  # the server's yidan.toml for runs started from the web (else data_dir/yidan.toml)
    # a signed-in session ends after this long without a request, and in any case after session_max_age
    session_idle_seconds: int = 60 * 60
    session_max_age: int = 8 * 3600
    # failed sign-ins: per account and address, per address, and per account from browsers the account has
    # never signed in from; past the free ones each failure doubles the wait (1 s, 2 s, 4 s … up to
    # login_max_delay_seconds) before the next try (HTTP 429). A browser the owner signed in from before
    # counts only its own failures, so no stranger can keep the owner out.
    login_free_failures: int = 3
    login_free_failures_per_ip: int = 20
    login_free_failures_per_account: int = 10
    login_first_delay_seconds: int = 1
    login_max_delay_seconds: int = 15 * 60
    login_window_seconds: int = 60 * 60  # failures older than this are forgotten
    # request bodies: JSON and forms; workbook uploads; the input files of a run uploaded from the page
    max_body_bytes: int = 1024 * 1024
    max_workbook_bytes: int = 20 * 1024 * 1024
    max_run_upload_bytes: int = 2 * 1024 * 1024 * 1024
    # indicators (issue 17): the province's county boundaries (GeoJSON) for the maps; none = no map
    indicator_boundaries: Path | None = None
    password_hashing: PasswordHashing = PasswordHashing()  # issue 21
    supervision: SupervisionSettings = Field(default_factory=lambda: SupervisionSettings())  # issue 16
    worker: WorkerSettings = WorkerSettings()  # the job queue (issue 22)
    log: LogSettings = LogSettings()  # issue 22
    intake: IntakeSettings = IntakeSettings()  # issue 22

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,  # type: ignore[no-untyped-def,override]
                                   file_secret_settings):
        """Keyword arguments, then YIDAN_* variables, then .env, then the settings file (YIDAN_SETTINGS_FILE)."""
        import os

        from pydantic_settings import TomlConfigSettingsSource

        path = os.environ.get(SETTINGS_FILE_ENV)
        if not path:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        if not Path(path).is_file():
            raise ConfigError(f"找不到配置文件：{path}（环境变量 {SETTINGS_FILE_ENV}）",
                              hint="给出配置文件的完整路径，或去掉该环境变量。")
        return (init_settings, env_settings, dotenv_settings, TomlConfigSettingsSource(settings_cls, toml_file=path),
                file_secret_settings)

    @model_validator(mode="after")
    def _positive_limits(self) -> AppSettings:
        for name in ("session_idle_seconds", "session_max_age", "max_body_bytes", "max_workbook_bytes",
                     "max_run_upload_bytes", "login_first_delay_seconds", "login_max_delay_seconds",
                     "login_window_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} 必须大于 0")
        return self


def get_app_settings(**overrides: object) -> AppSettings:
    try:
        return AppSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"应用配置无效：{where + '：' if where else ''}{first['msg']}",
                          hint=f"检查 YIDAN_ 开头的环境变量（如 YIDAN_DATABASE_URL）和 {SETTINGS_FILE_ENV} 所指的配置文件后重试。") from None
        raise ConfigError(f"应用配置无效：{exc.errors()[0]['msg']}", hint="检查 YIDAN_ 开头的环境变量（如 YIDAN_DATABASE_URL）后重试。") from None


# --- supervision (issue 16): deadlines per finding code, proof behind 销号 --------------------------------


class SupervisionSettings(BaseModel):
    """Default deadlines per finding code (calendar days from the day a round is published) and the
    attachments a case may carry. The province changes a round's dates on its run page; these are
    what a round gets when nobody set them. Env: YIDAN_SUPERVISION='{"verify_days": 10}'."""

    verify_days: int = 15  # 核实: days to record a conclusion
    close_days: dict[str, int] = Field(default_factory=lambda: {"K02": 30})  # 劝返 30 days
    default_close_days: int = 30
    close_by_term_end: tuple[str, ...] = ("Z01",)  # 补发 by the end of the round's term
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_required: tuple[str, ...] = ("K02", "Z01")  # codes that need a file before 销号
    # publishing waits for every city's approval (counties confirm, cities approve); off: the province may
    # publish while approvals are still open (they are shown on the approval page either way)
    publish_needs_approval: bool = False
    home_visits_per_term: int = 8  # 送教上门: visits expected per child and term (spread evenly over the term)
    # aid casework (issue 15): closing an aid case whose amount (to pay or recover) exceeds this waits for
    # a city user's confirmation; at or below it the county closes on its own proof
    city_confirm_amount: Decimal = Decimal("1000.00")

    @model_validator(mode="after")
    def _positive(self) -> SupervisionSettings:
        days = [self.verify_days, self.default_close_days, *self.close_days.values()]
        if any(d <= 0 for d in days) or self.attachment_max_bytes <= 0 or self.city_confirm_amount < 0:
            raise ValueError("supervision: 期限天数和附件大小必须大于 0")
        return self


AppSettings.model_rebuild()
