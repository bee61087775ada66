"""The application's tables (SQLAlchemy 2 declarative models).

The schema itself is created only by the Alembic migrations in `migrations/`;
these classes must stay in step with them (tests run the migrations, then use
the models). Portable types only: the same schema runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from yidan.contract.outputs import POVERTY_LAST
from yidan.store.roles import ROLES  # noqa: F401 - owned by store/roles.py; re-exported for older imports


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass



# case.state -> label, in the order a case normally moves through them
CASE_STATES: dict[str, str] = {
    "open": "待核实",
    "verified": "已核实",
    "persuading": "劝返中",
    "returned": "已劝返",
    "closure_requested": "待市州确认销号",
    "closed": "已销号",
    "resolved": "数据已销号",
}
CLOSED_STATES = ("closed", "resolved")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(6))
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A signed-in browser: the cookie carries a random token, the table only its SHA-256.

    A session ends when it is revoked (logout, password change, account disabled, an
    administrator), when it has been idle too long, or at its absolute expiry."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user", "user_id", "revoked_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")

    user: Mapped[User] = relationship()


class LoginThrottle(Base):
    """Failed sign-ins counted per key: `ip:<address>` and `acct:<address>:<account>`.

    Each failure past the free ones doubles the wait before the next try from that
    key (HTTP 429). Counting per account *and address* means a stranger elsewhere
    cannot keep the owner out; an administrator lifts an account's waits at once."""

    __tablename__ = "login_throttle"
    __table_args__ = (Index("ix_login_throttle_last", "last_failure_at"),)

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    account: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(default=None)


class InstanceSecret(Base):
    """Random secrets generated at the first start and kept with the instance's database."""

    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    """A comparison run known to the application: started here or registered from a directory."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    term: Mapped[str | None] = mapped_column(String(16), default=None)
    path: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(String(6))  # the province the run covers
    # queued | running | complete | failed | published
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    totals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RunCount(Base):
    """Counts of one published run by region and key, for dashboards and trends."""

    __tablename__ = "run_counts"
    __table_args__ = (Index("ix_run_counts_run_county", "run_pk", "county"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    dimension: Mapped[str] = mapped_column(String(16))  # status | finding
    county: Mapped[str] = mapped_column(String(6))
    township: Mapped[str | None] = mapped_column(String(12), default=None)
    key: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(default=0)


class Case(Base):
    """One finding under work: keyed by the stable finding key, carried across runs."""

    __tablename__ = "cases"
    __table_args__ = (
        # open cases by county, state, round and code: the dashboards' due-date counts and open cases read
        # this index only (issue 21); it serves (county, state) lookups as well
        Index("ix_cases_dues", "county", "state", "opened_run_pk", "code"),
        Index("ix_cases_county_code", "county", "code"),
        Index("ix_cases_list", "county", "township", "code", "id"),
        # the list's order (未脱贫 and 返贫 children first): a province or city list, then a county's
        Index("ix_cases_priority_list", "priority", "county", "township", "code", "id"),
        Index("ix_cases_county_priority", "county", "priority", "township", "code", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_key: Mapped[str] = mapped_column(String(128), unique=True)
    code: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(64), default=None)
    term: Mapped[str] = mapped_column(String(16))
    programme_code: Mapped[str | None] = mapped_column(String(32), default=None)
    county: Mapped[str] = mapped_column(String(6))
    township: Mapped[str | None] = mapped_column(String(12), default=None)
    village: Mapped[str | None] = mapped_column(String(12), default=None)
    school_code: Mapped[str | None] = mapped_column(String(16), default=None)
    amount_expected: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)
    amount_paid: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    evidence: Mapped[str | None] = mapped_column(Text, default=None)
    person: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    link: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    team: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(24), default="open")
    closure_requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    opened_run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    last_run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    closed_run_pk: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), default=None)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    facts_hash: Mapped[str | None] = mapped_column(String(64), default=None)  # what publishing last wrote
    # the person's poverty status as a rank (contract.outputs.POVERTY_ORDER), written at publish: the list's
    # first sort key, a column so that an index covers the order
    priority: Mapped[int] = mapped_column(SmallInteger, default=POVERTY_LAST, server_default=str(POVERTY_LAST))

    events: Mapped[list[CaseEvent]] = relationship(order_by="CaseEvent.id", back_populates="case")

    __mapper_args__ = {"version_id_col": version}

    @property
    def state_label(self) -> str:
        return CASE_STATES.get(self.state, self.state)

    @property
    def is_closed(self) -> bool:
        return self.state in CLOSED_STATES


class CaseEvent(Base):
    """The history of a case: every action and every run that touched it."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_pk: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), default=None)

    case: Mapped[Case] = relationship(back_populates="events")


class LinkDecision(Base):
    """A reviewer's decision on a candidate pair; exported as the link_decisions contract table."""

    __tablename__ = "link_decisions"
    __table_args__ = (UniqueConstraint("person_id", "student_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(String(32))
    student_no: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(16))  # 确认同一人 / 不是同一人
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_on: Mapped[datetime] = mapped_column(default=utcnow)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)


class AuditEntry(Base):
    """Who looked at which full personal record, and who exported what."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    username: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(6))
    action: Mapped[str] = mapped_column(String(32))  # view_person | export | login | ...
    target: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")


# --- province scale (issue 21): per-region aggregates and the places of the cases, written at publish ---


class RegionCount(Base):
    """Counts of one published run for one region at any level (province, city, county, township),
    with its parent region: a dashboard reads its own row set and its children's, nothing else."""

    __tablename__ = "region_counts"
    __table_args__ = (Index("ix_region_counts_region", "region", "run_pk"),
                      Index("ix_region_counts_parent", "parent", "run_pk"))

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    region: Mapped[str] = mapped_column(String(12))
    parent: Mapped[str | None] = mapped_column(String(12), default=None)
    dimension: Mapped[str] = mapped_column(String(16))  # status | finding
    key: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(default=0)


class Place(Base):
    """A township, village or school some case lies in, with the name the run carried (filter menus)."""

    __tablename__ = "places"
    __table_args__ = (Index("ix_places_parent", "kind", "parent"), Index("ix_places_county", "county", "kind", "code"))

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # township | village | school
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    county: Mapped[str] = mapped_column(String(6), primary_key=True)
    parent: Mapped[str | None] = mapped_column(String(12), default=None)  # county / township / county
    name: Mapped[str | None] = mapped_column(String(64), default=None)


# --- supervision (issue 16) ------------------------------------------------------------------------------


class RunDeadline(Base):
    """The due dates of one published round for one finding code, set by the province (or the defaults
    of `SupervisionSettings` written when nobody set them). A case takes the dates of the round that
    opened it: appearing again in a later round gives it no more time."""

    __tablename__ = "run_deadlines"
    __table_args__ = (UniqueConstraint("run_pk", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    code: Mapped[str] = mapped_column(String(8))
    verify_due: Mapped[date]
    close_due: Mapped[date]
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(Base):
    """A file kept outside the database (under the data directory) by its SHA-256 and a random name.

    `case_id` ties it to a case (复学证明, 送教记录, 补发凭证, 照片); `purpose` says what it proves."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None, index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))  # the uploader's name, cleaned, for display only
    stored_name: Mapped[str] = mapped_column(String(96))  # <sha256>.<ext>, relative to the store's folder
    media_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunApproval(Base):
    """Where a run's list stands in one region before publishing (DHIS2-like): a county confirms its
    list or returns it with a reason, the city approves once all its counties confirmed, the province
    publishes. `region` is a county (confirmed | returned) or a city (approved)."""

    __tablename__ = "run_approvals"
    __table_args__ = (UniqueConstraint("run_pk", "region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    region: Mapped[str] = mapped_column(String(6))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    actor: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class InspectionItem(Base):
    """One sampled child on an inspector's list (国检-style sample drawn in the application); the
    inspector sees and records only the items assigned to them."""

    __tablename__ = "inspection_items"
    __table_args__ = (Index("ix_inspection_items_inspector", "inspector_id", "run_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seed: Mapped[int]
    person_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(64), default=None)
    county: Mapped[str] = mapped_column(String(6))
    township: Mapped[str | None] = mapped_column(String(12), default=None)
    village: Mapped[str | None] = mapped_column(String(12), default=None)
    household_id: Mapped[str | None] = mapped_column(String(32), default=None)
    head_name: Mapped[str | None] = mapped_column(String(64), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    place: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str | None] = mapped_column(Text, default=None)
    result: Mapped[str | None] = mapped_column(String(8), default=None)  # 无问题 | 有问题
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime | None] = mapped_column(default=None)


class HomeVisit(Base):
    """One 送教上门 visit to a HOME_TEACHING child (date, teacher, content, duration)."""

    __tablename__ = "home_visits"
    __table_args__ = (Index("ix_home_visits_person_term", "person_id", "term"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(String(32))
    county: Mapped[str] = mapped_column(String(6))
    term: Mapped[str] = mapped_column(String(16))
    visited_on: Mapped[date]
    teacher: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    minutes: Mapped[int]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
# --- job queue (issue 22): runs, publishing and report generation taken by workers under a lease ---------

JOB_STATES: dict[str, str] = {"queued": "排队中", "running": "执行中", "done": "已完成", "failed": "失败"}


class Job(Base):
    """A long job in the queue. A worker claims it with a lease it renews by heartbeats; a job whose lease
    ran out (its worker was killed) is failed with the reason, and its run with it."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status", "status", "id"), Index("ix_jobs_run", "run_pk"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # run | publish | report
    run_pk: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempt: Mapped[int] = mapped_column(default=1)
    owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class WorkerBeat(Base):
    """A worker process (or a web process's in-process worker) and when it was last seen polling."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # inprocess | external
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeFile(Base):
    """A file seen in the intake folder (by name, size and modification time) and the run it started."""

    __tablename__ = "intake_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(400), unique=True)  # name|size|mtime_ns
    name: Mapped[str] = mapped_column(String(255))
    table_name: Mapped[str] = mapped_column(String(32))
    run_pk: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), default=None)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


ALERT_KINDS: dict[str, str] = {"new_dropout": "新增辍学", "new_transfer_pending": "新增学籍接转中",
                               "re_dropout": "复学后再次辍学"}


class Alert(Base):
    """What a run from the intake folder found changed since the last published run, for one county."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_county", "county", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    base_run_pk: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), default=None)
    county: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(24))
    person_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def kind_label(self) -> str:
        return ALERT_KINDS.get(self.kind, self.kind)


# --- aid casework (issue 15): the money a county records on an aid case ---------------------------------

AID_MONEY_KINDS: dict[str, str] = {"payment": "补发", "recovery": "追回"}
# the cases of one child (an aid claim's Z02 / Z03 and the paying county's Z10; a workbook row's person)
Index("ix_cases_person", Case.person_id, Case.term)


class AidMoney(Base):
    """A 补发 (payment) or 追回 (recovery) recorded on an aid case: amount to the fen, date, voucher
    number and optionally the voucher file (an attachment of the same case), with who and when."""

    __tablename__ = "aid_money"
    __table_args__ = (Index("ix_aid_money_case", "case_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(16))  # payment | recovery
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    on_date: Mapped[date]
    voucher_no: Mapped[str] = mapped_column(String(64))
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"), default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    actor: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def kind_label(self) -> str:
        return AID_MONEY_KINDS.get(self.kind, self.kind)


class RoundFigure(Base):
    """A region's supervision counts as they stood at the end of a published round (store/
    supervision_trends.py): written, in SQL from the cases table, when the next round is published, so
    the ranking can show each region's earlier rounds beside the current figures. `region` is a
    county (6 characters) or a township (9)."""

    __tablename__ = "round_figures"
    __table_args__ = (UniqueConstraint("run_pk", "region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))  # the round that ended
    region: Mapped[str] = mapped_column(String(12))
    cases: Mapped[int] = mapped_column(default=0)
    verified: Mapped[int] = mapped_column(default=0)
    closed: Mapped[int] = mapped_column(default=0)
    overdue: Mapped[int] = mapped_column(default=0)
    counted_on: Mapped[date]  # the day overdue was counted on (Beijing)
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
