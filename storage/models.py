"""The warehouse: every platform's accounts, entities and metrics in one schema and one set of units.

Money is integer micros of the row's currency (`currency` is the ISO code), never a float. Metric days
are the account's own time-zone days. Internal ids are deterministic from (platform, account,
platform id), so a re-sync updates rows instead of duplicating them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

ID_NAMESPACE = uuid.UUID("6f1c2a52-3d55-4b8e-9a0e-ad0c1a57e2d1")


def internal_id(platform: str, account: str, kind: str, platform_id: str) -> str:
    """A stable id for one platform object: the same inputs always give the same id."""
    return uuid.uuid5(ID_NAMESPACE, f"{platform}|{account}|{kind}|{platform_id}").hex


class Account(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("platform", "platform_id"),)

    id: str = Field(primary_key=True)
    platform: str = Field(index=True)
    platform_id: str
    name: str
    currency: str = Field(max_length=3)
    timezone: str
    status: str
    synced_at: dt.datetime | None = None


class Campaign(SQLModel, table=True):
    __tablename__ = "campaign"

    id: str = Field(primary_key=True)
    account_id: str = Field(foreign_key="account.id", index=True)
    platform: str
    platform_id: str
    name: str
    status: str
    effective_status: str
    objective: str | None = None
    currency: str = Field(max_length=3)
    daily_budget_micros: int | None = Field(default=None, sa_type=BigInteger)
    lifetime_budget_micros: int | None = Field(default=None, sa_type=BigInteger)
    updated_at: dt.datetime | None = None
    synced_at: dt.datetime | None = None


class AdSet(SQLModel, table=True):
    """Meta ad set = X line item = TikTok ad group."""

    __tablename__ = "adset"

    id: str = Field(primary_key=True)
    account_id: str = Field(foreign_key="account.id", index=True)
    campaign_id: str = Field(foreign_key="campaign.id", index=True)
    platform: str
    platform_id: str
    name: str
    status: str
    effective_status: str
    currency: str = Field(max_length=3)
    daily_budget_micros: int | None = Field(default=None, sa_type=BigInteger)
    lifetime_budget_micros: int | None = Field(default=None, sa_type=BigInteger)
    bid_micros: int | None = Field(default=None, sa_type=BigInteger)
    bid_strategy: str | None = None
    optimization_goal: str | None = None
    targeting: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    end_time: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    synced_at: dt.datetime | None = None


class Ad(SQLModel, table=True):
    __tablename__ = "ad"

    id: str = Field(primary_key=True)
    account_id: str = Field(foreign_key="account.id", index=True)
    adset_id: str = Field(foreign_key="adset.id", index=True)
    campaign_id: str = Field(foreign_key="campaign.id", index=True)
    platform: str
    platform_id: str
    name: str
    status: str
    effective_status: str
    creative_id: str | None = Field(default=None, index=True)
    updated_at: dt.datetime | None = None
    synced_at: dt.datetime | None = None


class Creative(SQLModel, table=True):
    __tablename__ = "creative"

    id: str = Field(primary_key=True)
    account_id: str = Field(foreign_key="account.id", index=True)
    platform: str
    platform_id: str
    name: str | None = None
    headline: str | None = None
    body: str | None = None
    image_hash: str | None = None
    image_url: str | None = None
    call_to_action: str | None = None
    link: str | None = None
    synced_at: dt.datetime | None = None


class CustomAudience(SQLModel, table=True):
    __tablename__ = "custom_audience"

    id: str = Field(primary_key=True)
    account_id: str = Field(foreign_key="account.id", index=True)
    platform: str
    platform_id: str
    name: str
    subtype: str | None = None
    size_lower: int | None = Field(default=None, sa_type=BigInteger)
    size_upper: int | None = Field(default=None, sa_type=BigInteger)
    adset_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    synced_at: dt.datetime | None = None


class DailyMetric(SQLModel, table=True):
    """One ad on one account-local day, as the platform reports it now (restatements overwrite)."""

    __tablename__ = "daily_metric"

    ad_id: str = Field(primary_key=True)
    day: dt.date = Field(primary_key=True, index=True)
    account_id: str = Field(index=True)
    adset_id: str = Field(index=True)
    campaign_id: str = Field(index=True)
    currency: str = Field(max_length=3)
    impressions: int = Field(default=0, sa_type=BigInteger)
    clicks: int = Field(default=0, sa_type=BigInteger)
    spend_micros: int = Field(default=0, sa_type=BigInteger)
    conversions: int = Field(default=0, sa_type=BigInteger)
    value_micros: int = Field(default=0, sa_type=BigInteger)
    synced_at: dt.datetime | None = None


class AdSetDay(SQLModel, table=True):
    """An ad set's settings as a sync saw them on one of its account's days (the last sync of the day
    wins): the history the bid optimizer reads the bid in force each day from."""

    __tablename__ = "adset_day"

    adset_id: str = Field(primary_key=True)
    day: dt.date = Field(primary_key=True)
    account_id: str = Field(index=True)
    status: str
    bid_micros: int | None = Field(default=None, sa_type=BigInteger)
    bid_strategy: str | None = None
    daily_budget_micros: int | None = Field(default=None, sa_type=BigInteger)
    synced_at: dt.datetime | None = None


class DailySegmentMetric(SQLModel, table=True):
    """One ad, day and audience segment, per breakdown the platform reported.

    `breakdown` names the dimensions of the row ("age", "gender", "country", "placement", or a
    combination such as "age,gender"); dimensions not in it hold "all". Rows of one breakdown add up to
    the ad's day; rows of different breakdowns must never be summed together.
    """

    __tablename__ = "daily_segment_metric"

    ad_id: str = Field(primary_key=True)
    day: dt.date = Field(primary_key=True, index=True)
    breakdown: str = Field(primary_key=True)
    age: str = Field(primary_key=True)
    gender: str = Field(primary_key=True)
    country: str = Field(primary_key=True)
    placement: str = Field(primary_key=True)
    account_id: str = Field(index=True)
    adset_id: str = Field(index=True)
    currency: str = Field(max_length=3)
    impressions: int = Field(default=0, sa_type=BigInteger)
    clicks: int = Field(default=0, sa_type=BigInteger)
    spend_micros: int = Field(default=0, sa_type=BigInteger)
    conversions: int = Field(default=0, sa_type=BigInteger)
    value_micros: int = Field(default=0, sa_type=BigInteger)
    synced_at: dt.datetime | None = None


class HourlyMetric(SQLModel, table=True):
    """Today's delivery so far, by account-local hour."""

    __tablename__ = "hourly_metric"

    ad_id: str = Field(primary_key=True)
    day: dt.date = Field(primary_key=True)
    hour: int = Field(primary_key=True)
    account_id: str = Field(index=True)
    currency: str = Field(max_length=3)
    impressions: int = Field(default=0, sa_type=BigInteger)
    clicks: int = Field(default=0, sa_type=BigInteger)
    spend_micros: int = Field(default=0, sa_type=BigInteger)
    synced_at: dt.datetime | None = None


class Goal(SQLModel, table=True):
    """What counts for an account or a campaign: objective, conversion event, window and target."""

    __tablename__ = "goal"

    id: str = Field(primary_key=True)
    scope: str  # account | campaign
    entity_id: str = Field(index=True)
    objective: str = "SALES"
    conversion_event: str = "purchase"
    attribution_window_days: int = 7
    currency: str = Field(max_length=3)
    target_cpa_micros: int | None = Field(default=None, sa_type=BigInteger)
    target_roas: str | None = None  # a decimal string: ratios are exact too


class FxRate(SQLModel, table=True):
    """Units of `currency` per one unit of the reporting currency (an explicit table, never fetched)."""

    __tablename__ = "fx_rate"

    currency: str = Field(primary_key=True, max_length=3)
    reporting_currency: str = Field(max_length=3)
    per_reporting_unit: Decimal = Field(sa_column=Column(Numeric(24, 10), nullable=False))


class SyncState(SQLModel, table=True):
    """Per account and stream: how far a sync got, when it last succeeded, what last went wrong."""

    __tablename__ = "sync_state"

    account_id: str = Field(primary_key=True)
    stream: str = Field(primary_key=True)
    cursor_day: dt.date | None = None
    last_success: dt.datetime | None = None
    last_error: str | None = None
    rows: int = Field(default=0, sa_type=BigInteger)


# --- The creative asset store (storage/assets.py): metadata here, bytes in a content-addressed folder. ---


class Asset(SQLModel, table=True):
    """One stored file, named by the sha256 of its bytes. A variant names the asset it was made from."""

    __tablename__ = "asset"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the bytes
    kind: str = Field(index=True)  # image | video | text
    mime: str
    size_bytes: int = Field(sa_type=BigInteger)
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    parent_id: str | None = Field(default=None, max_length=64, foreign_key="asset.id", index=True)
    source: str | None = None  # where it came from: "import", "llm", "pillow", a path, a URL
    label: str | None = None
    created_at: dt.datetime


class AssetTag(SQLModel, table=True):
    """One tag of an asset from the fixed vocabulary of kinds (emotion, theme, product, offer, ...)."""

    __tablename__ = "asset_tag"
    __table_args__ = (Index("ix_asset_tag_kind_value", "kind", "value"),)

    asset_id: str = Field(primary_key=True, max_length=64, foreign_key="asset.id")
    kind: str = Field(primary_key=True)
    value: str = Field(primary_key=True)


class AssetPlatform(SQLModel, table=True):
    """An asset as uploaded to one platform account: the id the platform gave it and where it may run.

    `account_id` is the warehouse's internal account id (no foreign key: an upload may precede the
    account's first sync). `platform_ref` is Meta's image hash or video id, X's media key, TikTok's
    image_id or video_id.
    """

    __tablename__ = "asset_platform"
    __table_args__ = (Index("ix_asset_platform_ref", "platform", "platform_ref"),)

    asset_id: str = Field(primary_key=True, max_length=64, foreign_key="asset.id")
    platform: str = Field(primary_key=True)
    account_id: str = Field(primary_key=True)
    platform_ref: str
    placements: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    uploaded_at: dt.datetime


class AssetAd(SQLModel, table=True):
    """An ad that uses an asset (internal ad id; no foreign key: the ad may be created before its sync)."""

    __tablename__ = "asset_ad"

    asset_id: str = Field(primary_key=True, max_length=64, foreign_key="asset.id")
    ad_id: str = Field(primary_key=True, index=True)
    role: str = "creative"  # image | video | headline | body | cta | creative
    linked_at: dt.datetime


# --- The audit log (storage/audit.py): every proposal, decision and execution attempt. ---


class AuditProposal(SQLModel, table=True):
    """One proposed action, keyed by its stable id, with the status it has reached.

    `round` counts how often the same change was proposed anew after it had ended without effect
    (expired, superseded, stale, failed, refused); decisions and executions belong to one round.
    `attempts` counts the execution attempts of the current round (at most two: the first and one retry
    after a crash). The action itself is kept as JSON (`action`), as the agents typed it.
    """

    __tablename__ = "audit_proposal"

    id: str = Field(primary_key=True, max_length=64)
    round: int = 1
    kind: str = Field(index=True)
    entity_key: str = Field(index=True)
    platform: str
    account_id: str
    action: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    spends_more: bool = True
    proposed_by: str
    thread_id: str | None = Field(default=None, index=True)
    run_id: str | None = None
    status: str = Field(index=True)
    note: str | None = None
    edited_from: str | None = Field(default=None, max_length=64)
    superseded_by: str | None = Field(default=None, max_length=64)
    attempts: int = 0
    created_at: dt.datetime
    proposed_at: dt.datetime = Field(index=True)
    expires_at: dt.datetime | None = None
    updated_at: dt.datetime = Field(index=True)


class AuditDecision(SQLModel, table=True):
    """A person's (or the auto-approval policy's) decision on one round of a proposal."""

    __tablename__ = "audit_decision"

    action_id: str = Field(primary_key=True, max_length=64, foreign_key="audit_proposal.id")
    round: int = Field(primary_key=True)
    verdict: str  # approve | reject | edit
    decided_by: str
    how: str  # cli | web | api | auto-policy
    note: str | None = None
    edited_value: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    edited_action_id: str | None = Field(default=None, max_length=64)
    decided_at: dt.datetime = Field(index=True)


class AuditExecution(SQLModel, table=True):
    """One execution attempt: written as `pending` and committed before the platform is called, then
    closed with what the platform answered (before/after as it reports them) or the error."""

    __tablename__ = "audit_execution"

    action_id: str = Field(primary_key=True, max_length=64, foreign_key="audit_proposal.id")
    round: int = Field(primary_key=True)
    attempt: int = Field(primary_key=True)
    entity_key: str = Field(index=True)
    run_id: str | None = None
    owner: str  # host:pid:token of the process that made the attempt
    status: str = Field(index=True)  # pending | applied | found | failed | interrupted | unknown | dry_run
    observed: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    result_platform_id: str | None = None
    error: str | None = None
    started_at: dt.datetime = Field(index=True)
    finished_at: dt.datetime | None = None


# --- Experiments (tools/optimize/experiments.py, app/experiment_cli.py) ----------------------------------


class Experiment(SQLModel, table=True):
    """An A/B test over two or more ads or ad sets in different ad sets, monitored daily by the sequential
    test. `arms` holds each arm as JSON (name, level, warehouse id, the platform's ids); the first is
    the control. While it runs, the analyst leaves its arms' budgets and status alone."""

    __tablename__ = "experiment"

    id: str = Field(primary_key=True, max_length=64)
    name: str
    metric: str  # ctr | cvr | cpa
    mde: str  # a decimal string: the minimum detectable effect (relative)
    alpha: str
    power: str
    arms: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    start_day: dt.date
    planned_per_arm: str  # impressions, clicks or spend (major units) per arm, as a decimal string
    status: str = Field(index=True)  # running | concluded | stopped
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_by: str
    created_at: dt.datetime
    ended_at: dt.datetime | None = None


class AlertRecord(SQLModel, table=True):
    """An alert as raised (tools/optimize/alerts.py) and what became of its delivery. The id is the same
    for the same kind, entity and day, so a re-run does not raise it twice; an alert of a kind and
    entity raised within the repeat window is kept as `repeat` and not sent again."""

    __tablename__ = "alert"

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(index=True)
    severity: str
    platform: str
    account_id: str
    level: str
    platform_id: str
    name: str
    day: dt.date = Field(index=True)
    message: str
    figures: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(index=True)  # new | sent | failed | repeat
    attempts: int = 0
    delivery_error: str | None = None
    created_at: dt.datetime
    delivered_at: dt.datetime | None = None


# --- The web console's users and sessions (app/web/) ------------------------------------------------------


class WebUser(SQLModel, table=True):
    """A person who may log in to the web console: a role (viewer, approver, admin) and the clients
    (account groups, as `platform:account_id` or `*` for all) whose accounts they see."""

    __tablename__ = "web_user"

    id: str = Field(primary_key=True, max_length=64)
    username: str = Field(unique=True, index=True)
    password_hash: str  # argon2id
    role: str  # viewer | approver | admin
    accounts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime


class WebSession(SQLModel, table=True):
    """A login: the sha256 of its token (the token itself is never stored), its CSRF token, expiry."""

    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(index=True)
    csrf_token: str
    created_at: dt.datetime
    expires_at: dt.datetime


class UsedLink(SQLModel, table=True):
    """A signed approve/reject link that has been used (links are single-use)."""

    __tablename__ = "used_link"

    nonce: str = Field(primary_key=True, max_length=64)
    proposal_id: str = Field(index=True)
    used_at: dt.datetime
