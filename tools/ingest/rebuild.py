"""`adcluster rebuild`: the warehouse again from the raw lake alone, with no network.

Responses are replayed in the order they were received and normalised by the same functions a live
sync uses, so a rebuilt warehouse equals the synced one. Error answers and bodies that are not JSON
stay in the lake and are skipped here, exactly as the live sync skipped them.
"""

from __future__ import annotations

import json
import logging

from pydantic import BaseModel, Field

from storage.lake import RawLake
from tools.ingest.sync import ENTITY_STREAMS
from tools.ingest.writer import WarehouseWriter
from tools.platforms import registry
from tools.platforms.base import PlatformCodec, RowProblem
from tools.platforms.records import AccountRecord

logger = logging.getLogger(__name__)


class RebuildReport(BaseModel):
    records: int = 0
    skipped: int = 0
    rows: int = 0
    problems: list[RowProblem] = Field(default_factory=list)


def rebuild(lake: RawLake, writer: WarehouseWriter) -> RebuildReport:
    report = RebuildReport()
    codecs: dict[str, PlatformCodec | None] = {}
    accounts: dict[tuple[str, str], AccountRecord] = {}
    for record in lake.records():
        report.records += 1
        if record.platform not in codecs:
            try:
                codecs[record.platform] = registry.codec(record.platform)
            except ValueError:
                codecs[record.platform] = None
        codec = codecs[record.platform]
        if codec is None or record.status >= 400:
            report.skipped += 1
            continue
        try:
            body = json.loads(record.body)
        except ValueError:
            report.skipped += 1  # a malformed or truncated page: the live sync retried it too
            continue
        if isinstance(body, dict) and "error" in body:
            report.skipped += 1
            continue
        if record.stream == "accounts":
            found = codec.accounts(body)
            report.rows += writer.accounts(found)
            accounts.update({(record.platform, a.platform_id): a for a in found})
            continue
        account = accounts.get((record.platform, record.account))
        if account is None or record.stream not in codec.streams:
            report.skipped += 1
            continue
        batch = codec.normalise(record.stream, account, codec.rows(record.stream, body))
        write = writer.entities if record.stream in ENTITY_STREAMS else writer.metrics
        written, orphans = write(account, record.stream, batch.items)
        report.rows += written
        report.problems.extend([*batch.problems, *orphans])
    logger.info(
        "rebuilt %d rows from %d lake records (%d skipped)", report.rows, report.records, report.skipped
    )
    return report
