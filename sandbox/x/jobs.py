"""Asynchronous stats jobs: created PROCESSING, SUCCESS after a few polls, result as a gzip file.

The result is computed when the job is created (the ledger as of that moment) and served gzipped
from the sandbox's own download path, as X serves it from ton.twimg.com.
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.market.entities import Account
from sandbox.x.nodes import XView
from sandbox.x.stats import StatsQuery

EXPIRY_SECONDS = 2 * 24 * 3600


@dataclass(kw_only=True)
class StatsJob:
    id: str
    token: str  # unguessable part of the download name
    account_id: str
    query: StatsQuery
    params: dict[str, Any]
    payload: bytes  # gzipped result
    created: float = field(default_factory=time.time)
    polls: int = 0
    done: bool = False

    @property
    def filename(self) -> str:
        return f"{self.id}-{self.token}.json.gz"


class StatsJobs:
    def __init__(self, polls_to_finish: int = 2) -> None:
        self.polls_to_finish = polls_to_finish
        self._jobs: dict[str, StatsJob] = {}
        self._lock = threading.Lock()

    def create(
        self, account_id: str, query: StatsQuery, params: dict[str, Any], body: dict[str, Any]
    ) -> StatsJob:
        job_id = "1" + str(secrets.randbelow(10**18)).zfill(18)
        payload = gzip.compress(json.dumps({**body, "request": {"params": params}}).encode())
        job = StatsJob(
            id=job_id,
            token=secrets.token_hex(8),
            account_id=account_id,
            query=query,
            params=params,
            payload=payload,
            done=self.polls_to_finish <= 0,
        )
        with self._lock:
            self._jobs[job_id] = job
        return job

    def of_account(self, account_id: str, ids: list[str] | None) -> list[StatsJob]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.account_id == account_id]
        return [j for j in jobs if ids is None or j.id in ids]

    def poll(self, job: StatsJob) -> None:
        """Each status read moves a job one step towards SUCCESS."""
        with self._lock:
            job.polls += 1
            if job.polls >= self.polls_to_finish:
                job.done = True

    def by_filename(self, name: str) -> StatsJob | None:
        job_id = name.split("-", 1)[0]
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.filename == name and job.done else None


def job_obj(view: XView, account: Account, job: StatsJob, download_base: str) -> dict[str, Any]:
    q = job.query
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(job.created))
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(job.created + EXPIRY_SECONDS))
    segmentation = {"age": "AGE", "gender": "GENDER", "country": "LOCATIONS", "placement": "PLATFORMS"}
    return {
        "id": int(job.id),
        "id_str": job.id,
        "status": "SUCCESS" if job.done else "PROCESSING",
        "url": f"{download_base}/{job.filename}" if job.done else None,
        "expires_at": expires if job.done else None,
        "account_id": account.id,
        "entity": q.entity,
        "entity_ids": list(q.entity_ids),
        "start_time": view.utc(account, q.start_hour),
        "end_time": view.utc(account, q.end_hour),
        "granularity": q.granularity,
        "placement": q.placement,
        "metric_groups": list(q.metric_groups),
        "segmentation_type": segmentation.get(q.segmentation or ""),
        "country": None,
        "platform": None,
        "created_at": created,
        "updated_at": created,
    }
