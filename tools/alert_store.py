"""Alerts kept and delivered: each raised alert is written to the warehouse once (by its id), a repeat of
the same kind and entity within `repeat_after` is kept as `repeat` and not sent again, and the new and
previously failed ones go to a webhook as one Slack-compatible message (`text` plus `blocks`), retried
with backoff. A webhook that is down loses nothing: those alerts stay `failed` with the error and are
sent with the next delivery."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import httpx
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from storage.db import session_scope
from storage.models import AlertRecord
from tools.alert_inputs import HealthConfig, detect_all
from tools.optimize.alerts import Alert
from tools.webhook import post_json

logger = logging.getLogger(__name__)
MAX_BLOCKS = 40  # Slack's limit is 50 blocks a message; the rest are counted in the text
EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:"}


class DeliveryReport(BaseModel):
    sent: int
    failed: int
    error: str | None = None


def store(
    engine: Engine,
    alerts: Sequence[Alert],
    *,
    now: dt.datetime,
    repeat_after: dt.timedelta = dt.timedelta(days=7),
) -> list[AlertRecord]:
    """Write the alerts not written before; returns the records of `alerts`, each with its status."""
    out: list[AlertRecord] = []
    with session_scope(engine) as session:
        for a in alerts:
            record = session.get(AlertRecord, a.id)
            if record is None:
                earlier = session.exec(
                    select(AlertRecord).where(
                        AlertRecord.kind == a.kind,
                        AlertRecord.platform == a.entity.platform,
                        AlertRecord.account_id == a.entity.account_id,
                        AlertRecord.platform_id == a.entity.platform_id,
                        AlertRecord.day < a.day,
                        AlertRecord.day >= a.day - dt.timedelta(days=repeat_after.days),
                    )
                ).first()
                record = AlertRecord(
                    id=a.id,
                    kind=a.kind,
                    severity=a.severity,
                    platform=a.entity.platform,
                    account_id=a.entity.account_id,
                    level=a.entity.level,
                    platform_id=a.entity.platform_id,
                    name=a.entity.name[:300],
                    day=a.day,
                    message=a.message,
                    figures=a.figures,
                    status="repeat" if earlier is not None else "new",
                    created_at=now,
                )
                session.add(record)
            session.flush()
            session.expunge(record)
            out.append(record)
    return out


def slack_payload(records: Sequence[AlertRecord], console_url: str | None = None) -> dict[str, object]:
    """One message: a summary line as `text` (what notifications show) and a section per alert, with a
    link to the console's alerts page when its address is known."""
    critical = sum(r.severity == "critical" for r in records)
    text = f"adcluster: {len(records)} alert(s), {critical} critical"
    blocks: list[dict[str, object]] = [{"type": "header", "text": {"type": "plain_text", "text": text[:150]}}]
    for r in records[:MAX_BLOCKS]:
        line = f"{EMOJI.get(r.severity, '')} *{r.kind.replace('_', ' ')}* ({r.platform}, {r.day}): "
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": (line + _escape(r.message))[:2900]}}
        )
    if len(records) > MAX_BLOCKS:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"and {len(records) - MAX_BLOCKS} more: adcluster alerts"}
                ],
            }
        )
    if console_url:
        link = f"<{console_url.rstrip('/')}/alerts|open the alerts in the console>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    return {"text": text, "blocks": blocks}


def _escape(text: str) -> str:
    """Slack's three control characters; names from the platforms are data, never markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def deliver(
    engine: Engine,
    url: str,
    *,
    now: dt.datetime,
    client: httpx.AsyncClient | None = None,
    attempts: int = 3,
    wait_seconds: float = 0.5,
    console_url: str | None = None,
) -> DeliveryReport:
    """Send every `new` or `failed` alert to the webhook in one message; mark them sent or failed."""
    with Session(engine) as session:
        pending = list(
            session.exec(
                select(AlertRecord)
                .where(col(AlertRecord.status).in_(["new", "failed"]))
                .order_by(col(AlertRecord.severity), col(AlertRecord.day), col(AlertRecord.id))
            )
        )
    if not pending:
        return DeliveryReport(sent=0, failed=0)
    error: str | None = None
    try:
        await post_json(
            url,
            slack_payload(pending, console_url),
            client=client,
            attempts=attempts,
            wait_seconds=wait_seconds,
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = f"the alert webhook failed: {type(exc).__name__}: {exc}"[:500]
        logger.warning("%s; %d alert(s) kept for the next delivery", error, len(pending))
    ids = [r.id for r in pending]
    with session_scope(engine) as session:
        for record in session.exec(select(AlertRecord).where(col(AlertRecord.id).in_(ids))):
            record.attempts += 1
            if error is None:
                record.status, record.delivered_at, record.delivery_error = "sent", now, None
            else:
                record.status, record.delivery_error = "failed", error
            session.add(record)
    return DeliveryReport(sent=0 if error else len(pending), failed=len(pending) if error else 0, error=error)


def recent(engine: Engine, *, since: dt.date) -> list[AlertRecord]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AlertRecord)
                .where(AlertRecord.day >= since)
                .order_by(col(AlertRecord.day).desc(), col(AlertRecord.severity), col(AlertRecord.kind))
            )
        )


async def raise_and_deliver(
    engine: Engine,
    *,
    judged: dt.date,
    now: dt.datetime,
    health: HealthConfig | None = None,
    webhook: str | None = None,
    client: httpx.AsyncClient | None = None,
    console_url: str | None = None,
) -> tuple[list[AlertRecord], DeliveryReport | None]:
    """Detect the day's alerts, keep them, and send what is new (and what failed before) to the webhook."""
    alerts = detect_all(engine, judged=judged, now=now, health=health)
    records = store(engine, alerts, now=now)
    report = (
        await deliver(engine, webhook, now=now, client=client, console_url=console_url) if webhook else None
    )
    if report is not None:
        with Session(engine) as session:
            fresh = {
                r.id: r
                for r in session.exec(
                    select(AlertRecord).where(col(AlertRecord.id).in_([r.id for r in records]))
                )
            }
        records = [fresh.get(r.id, r) for r in records]
    return records, report
