"""What a run needs that is not state: the warehouse, the day, and the parts the composition root wires
(guardrails, approval policy, executor, audit). Given per run as langgraph's context; never checkpointed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from agents.actions import Action
from agents.analyst import AnalystConfig
from agents.planner import PlanItem
from tools.creative.library import CreativeLibrary
from tools.llm.client import LLMClient

Guard = Callable[[Sequence[Action]], list[PlanItem]]  # the guardrails (and the auto-approval policy)
Executor = Callable[[Sequence[Action]], Awaitable[list[dict[str, Any]]]]  # applies approved actions
# The audit log: ("proposed" | "decided", rows) -> for proposals, each id's status there; for decisions,
# the ids it would not take (expired, superseded, answered otherwise) with the reason (None: not kept).
Recorder = Callable[[str, Sequence[dict[str, Any]]], dict[str, str] | None]


@dataclass(kw_only=True)
class CycleContext:
    engine: Engine
    until: dt.date
    guard: Guard
    execute: Executor
    record: Recorder = field(default=lambda kind, rows: None)  # the default audit keeps nothing
    analyst: AnalystConfig = field(default_factory=AnalystConfig)
    fx: dict[str, Decimal] = field(default_factory=lambda: {"USD": Decimal(1)})
    reporting_currency: str = "USD"
    llm: LLMClient | None = None  # for chat requests; a cycle without a request needs none
    # Opens a model only when a node needs one (the create node, when an ad set is due new copy).
    open_llm: Callable[[], AbstractAsyncContextManager[LLMClient]] | None = None
    platforms: Sequence[str] = ("meta", "x", "tiktok")
    summarise_answers: bool = True  # let the model lead an answer with a summary (numbers checked)
    new_ads_per_cycle: int = 3  # ad sets the creative agent writes for per cycle (0: none)
    new_ad_wait: dt.timedelta = dt.timedelta(days=7)  # after a new ad is made or rejected in an ad set
    # Raises, keeps and delivers the day's alerts (None: no alerts); returns them as JSON rows.
    alerts: Callable[[dt.date], Awaitable[list[dict[str, Any]]]] | None = None
    # Tells a person that proposals wait (a webhook with signed links); (waiting PlanItem JSON, thread).
    announce: Callable[[list[dict[str, Any]], str], Awaitable[str | None]] | None = None
    thread_id: str = ""
    # Opens the asset store and vector index that new copy is checked against and kept in (None: neither).
    library: Callable[[], CreativeLibrary] | None = None
