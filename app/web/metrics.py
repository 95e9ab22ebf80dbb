"""`/metrics` in the Prometheus text format. The warehouse is the record of what every process did (syncs
from the CLI or the scheduler, cycles, decisions, executions, alerts), so each scrape reads its counts
from there; requests to this server are counted in-process. LLM tokens and rate-limit waits are not
kept anywhere a scrape could read them yet."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from storage.models import Account, AlertRecord, AuditDecision, AuditExecution, AuditProposal, SyncState


class WarehouseCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows = GaugeMetricFamily(
            "adcluster_sync_rows",
            "rows written by the last sync of each stream",
            labels=["platform", "stream"],
        )
        failing = GaugeMetricFamily(
            "adcluster_sync_failing_streams", "streams whose last sync failed", labels=["platform"]
        )
        age = GaugeMetricFamily(
            "adcluster_sync_last_success_timestamp", "last successful sync (unix time)", labels=["platform"]
        )
        proposals = GaugeMetricFamily(
            "adcluster_proposals", "proposals by kind and status", labels=["kind", "status"]
        )
        decisions = GaugeMetricFamily("adcluster_decisions", "decisions by verdict", labels=["verdict"])
        executions = GaugeMetricFamily(
            "adcluster_executions", "execution attempts by status", labels=["status"]
        )
        alerts = GaugeMetricFamily(
            "adcluster_alerts", "alerts by kind and delivery status", labels=["kind", "status"]
        )
        with Session(self.engine) as session:
            platform_of = {a.id: a.platform for a in session.exec(select(Account))}
            per_stream: dict[tuple[str, str], int] = {}
            failures: dict[str, int] = {}
            latest: dict[str, float] = {}
            for s in session.exec(select(SyncState)):
                platform = platform_of.get(s.account_id, "?")
                per_stream[(platform, s.stream)] = per_stream.get((platform, s.stream), 0) + s.rows
                failures[platform] = failures.get(platform, 0) + (1 if s.last_error else 0)
                if s.last_success is not None:
                    latest[platform] = max(latest.get(platform, 0.0), s.last_success.timestamp())
            for (platform, stream), n in sorted(per_stream.items()):
                rows.add_metric([platform, stream], n)
            for platform, n in sorted(failures.items()):
                failing.add_metric([platform], n)
            for platform, t in sorted(latest.items()):
                age.add_metric([platform], t)
            for kind, status, n in session.exec(
                select(AuditProposal.kind, AuditProposal.status, func.count()).group_by(
                    AuditProposal.kind, AuditProposal.status
                )
            ):
                proposals.add_metric([kind, status], n)
            for verdict, n in session.exec(
                select(AuditDecision.verdict, func.count()).group_by(AuditDecision.verdict)
            ):
                decisions.add_metric([verdict], n)
            for status, n in session.exec(
                select(AuditExecution.status, func.count()).group_by(AuditExecution.status)
            ):
                executions.add_metric([status], n)
            for kind, status, n in session.exec(
                select(AlertRecord.kind, AlertRecord.status, func.count()).group_by(
                    AlertRecord.kind, AlertRecord.status
                )
            ):
                alerts.add_metric([kind, status], n)
        yield from (rows, failing, age, proposals, decisions, executions, alerts)


class Metrics:
    """A registry per app (no module-level state): the warehouse's counts and this server's requests."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(WarehouseCollector(engine))
        self.requests = Counter(
            "adcluster_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "adcluster_http_request_seconds", "HTTP request latency", ["route"], registry=self.registry
        )
        self.graph_runs = Counter(
            "adcluster_graph_runs",
            "graph turns run by this server",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "adcluster_llm_tokens",
            "LLM tokens used by this server's chat turns",
            ["direction"],
            registry=self.registry,
        )
        self.llm_seconds = Counter(
            "adcluster_llm_seconds", "LLM request time of this server's chat turns", registry=self.registry
        )

    def llm_used(self, usage: object) -> None:
        """Add a chat turn's LLM totals (a tools.llm.usage.UsageTotals)."""
        self.llm_tokens.labels("prompt").inc(getattr(usage, "prompt_tokens", 0))
        self.llm_tokens.labels("completion").inc(getattr(usage, "completion_tokens", 0))
        self.llm_seconds.inc(getattr(usage, "latency_s", 0.0))

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        self.requests.labels(request.method, route, str(response.status_code)).inc()
        self.latency.labels(route).observe(time.perf_counter() - started)
        return response

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
