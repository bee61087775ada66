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
from pathlib import Path

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

    @model_validator(mode="after")
    def _ranges(self) -> RunConfig:
        for label, r in (("school_age", self.school_age), ("compulsory_age", self.compulsory_age)):
            if r.min > r.max:
                raise ValueError(f"{label}: min > max")
        if not (0 < self.linkage.review <= self.linkage.accept < 1):
            raise ValueError("linkage: need 0 < review <= accept < 1")
        return self

    def config_hash(self) -> str:
        raw = json.dumps(self.model_dump(), sort_keys=True, ensure_ascii=False)
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


class AppSettings(BaseSettings):
    """Web application settings; env vars prefixed YIDAN_.

    There is no secret key to set: the instance generates its random secret at the first
    start and keeps it in its database (`yidan.store.instance`), so no deployment, the
    demo included, can run on a constant one."""

    model_config = SettingsConfigDict(env_prefix="YIDAN_", env_file=".env", extra="ignore")

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
    supervision: SupervisionSettings = Field(default_factory=lambda: SupervisionSettings())  # issue 16

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

    @model_validator(mode="after")
    def _positive(self) -> SupervisionSettings:
        days = [self.verify_days, self.default_close_days, *self.close_days.values()]
        if any(d <= 0 for d in days) or self.attachment_max_bytes <= 0:
            raise ValueError("supervision: 期限天数和附件大小必须大于 0")
        return self


AppSettings.model_rebuild()
