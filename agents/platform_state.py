"""The executor's read side: what the platform shows of an action's entity now, and what is needed to
reconcile an attempt left open by a crash. `Reader` lists campaigns, ad sets and ads through the
adapters (cached per account until a write) and reduces the entity to the values the action changes,
saying whether they match its `before` and/or `after`; a created ad is found by its deterministic name
in the ad set, or, where a platform does not keep names, as an ad new since the attempt began with the
same creative (`known_ads`). `process_owner` and `held_elsewhere` say which process an open attempt
belongs to and whether it may still be running, so that only abandoned attempts are reconciled."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents.actions import (
    Action,
    BidChange,
    BudgetChange,
    CreateAd,
    CreateAdSet,
    StatusChange,
    TargetingChange,
    targeting_fields_changed,
    targeting_matches,
)
from storage.audit_types import ExecutionRecord
from tools.platforms.base import PlatformAdapter
from tools.platforms.records import AccountRecord, AdRecord, AdSetRecord, CampaignRecord, TargetingSpec

_TOKEN = uuid.uuid4().hex[:12]


# --- who holds an open attempt --------------------------------------------------------------------


def process_owner() -> str:
    """This process, as written into each attempt: host:pid:token."""
    return f"{socket.gethostname()}:{os.getpid()}:{_TOKEN}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def held_elsewhere(attempt: ExecutionRecord, *, now: dt.datetime, lease: dt.timedelta) -> bool:
    """Whether another live process may still be making `attempt` (so it must not be reconciled)."""
    parts = attempt.owner.rsplit(":", 2)
    host, pid_text, token = parts if len(parts) == 3 else (attempt.owner, "", "")
    if host == socket.gethostname() and pid_text == str(os.getpid()) and token == _TOKEN:
        return False  # this process's own attempt, not running now: an exception or cancel escaped it
    if attempt.started_at <= now - lease:
        return False
    if host == socket.gethostname():
        return pid_text.isdigit() and _pid_alive(int(pid_text))
    return True


# --- what the platform shows ------------------------------------------------------------------------


Entity = CampaignRecord | AdSetRecord | AdRecord


@dataclass(frozen=True)
class Observed:
    """The entity as the platform lists it now, reduced to what the action changes."""

    matches: frozenset[str]  # "before" and/or "after"
    values: dict[str, Any]
    found: AdRecord | AdSetRecord | None = (
        None  # CreateAd / CreateAdSet: the entity with the deterministic name
    )

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values.items()) or "nothing"


class Reader:
    """The adapters' list reads, cached per (platform, account, level) until a write to that account."""

    def __init__(self, adapters: Mapping[str, PlatformAdapter]) -> None:
        self.adapters = adapters
        self._cache: dict[tuple[str, str, str], dict[str, Entity]] = {}

    def forget(self, platform: str, account_id: str) -> None:
        for key in [k for k in self._cache if k[:2] == (platform, account_id)]:
            del self._cache[key]

    def wrote(self, action: Action) -> None:
        """A write the platform confirmed: the cached entity takes the written value instead of the
        account being listed again (a re-list per action made execution O(actions x entities)). A new
        ad is not known here, so only that account's ad list is read again."""
        ref = action.entity
        if isinstance(action, CreateAd | CreateAdSet):
            self._cache.pop((ref.platform, ref.account_id, "ad"), None)
            self._cache.pop((ref.platform, ref.account_id, "adset"), None)
            return
        listed = self._cache.get((ref.platform, ref.account_id, ref.level))
        entity = listed.get(ref.platform_id) if listed is not None else None
        if listed is None or entity is None:
            return
        if isinstance(action, BudgetChange):
            field = (
                "lifetime_budget_micros"
                if entity.lifetime_budget_micros == action.before_micros  # type: ignore[union-attr]
                and entity.daily_budget_micros != action.before_micros  # type: ignore[union-attr]
                else "daily_budget_micros"
            )
            update: dict[str, Any] = {field: action.after_micros}
        elif isinstance(action, BidChange):
            update = {"bid_micros": action.after_micros}
        elif isinstance(action, TargetingChange):
            update = {"targeting": action.after}
        else:
            update = {"status": action.after}
        listed[ref.platform_id] = entity.model_copy(update=update)

    async def listed(self, platform: str, account: AccountRecord, level: str) -> dict[str, Entity]:
        key = (platform, account.platform_id, level)
        if key not in self._cache:
            adapter = self.adapters[platform]
            read = {"campaign": adapter.campaigns, "adset": adapter.adsets, "ad": adapter.ads}[level]
            batch = await read(account)
            self._cache[key] = {r.platform_id: r for r in batch.items}
        return self._cache[key]

    async def observe(
        self, action: Action, account: AccountRecord, *, known_ads: list[str] | None = None
    ) -> Observed | None:
        """None when the platform does not list the entity (or shows it deleted). For a created ad,
        `known_ads` (the ad set's ads when the attempt began) lets a new ad be recognised on platforms
        that do not keep an ad's name (X's promoted tweets): new since then, with the same creative."""
        ref = action.entity
        entity = (await self.listed(ref.platform, account, ref.level)).get(ref.platform_id)
        if entity is None or entity.status == "DELETED":
            return None
        if isinstance(action, BudgetChange):
            daily, lifetime = entity.daily_budget_micros, entity.lifetime_budget_micros  # type: ignore[union-attr]
            values = {"daily_budget_micros": daily, "lifetime_budget_micros": lifetime}
            return Observed(_matches(action.before_micros, action.after_micros, daily, lifetime), values)
        if isinstance(action, BidChange):
            bid = entity.bid_micros  # type: ignore[union-attr]
            return Observed(_matches(action.before_micros, action.after_micros, bid), {"bid_micros": bid})
        if isinstance(action, StatusChange):
            status = entity.status
            return Observed(_matches(action.before, action.after, status), {"status": status})
        if isinstance(action, CreateAdSet):
            adsets = [
                s
                for s in (await self.listed(ref.platform, account, "adset")).values()
                if isinstance(s, AdSetRecord)
                and s.campaign_platform_id == action.spec.campaign_platform_id
                and s.name == action.spec.name
                and s.status != "DELETED"
            ]
            made = adsets[0] if adsets else None
            ads = (
                [
                    a
                    for a in (await self.listed(ref.platform, account, "ad")).values()
                    if isinstance(a, AdRecord)
                    and a.adset_platform_id == made.platform_id
                    and a.status != "DELETED"
                ]
                if made is not None
                else []
            )
            values = {"adset_name": action.spec.name, "adset_platform_id": made.platform_id if made else None}
            # Made with its ad: done. Made without it (a failure in between): still to do, the ad only.
            return Observed(frozenset({"after"} if ads else {"before"}), values, made)
        if isinstance(action, TargetingChange):
            seen: TargetingSpec = entity.targeting  # type: ignore[union-attr]
            fields = targeting_fields_changed(action)
            matches = {
                name
                for name, spec in (("before", action.before), ("after", action.after))
                if targeting_matches(seen, spec, fields)
            }
            return Observed(frozenset(matches), {"targeting": seen.model_dump(mode="json")})
        spec = action.spec
        ads = [
            ad
            for ad in (await self.listed(ref.platform, account, "ad")).values()
            if isinstance(ad, AdRecord)
            and ad.adset_platform_id == spec.adset_platform_id
            and ad.status != "DELETED"
        ]
        found = next((ad for ad in ads if ad.name == spec.name), None)
        if found is None and known_ads is not None:
            found = next(
                (
                    ad
                    for ad in ads
                    if ad.platform_id not in known_ads
                    and spec.creative_platform_id in (None, ad.creative_platform_id)
                ),
                None,
            )
        values = {
            "ad_name": spec.name,
            "ad_platform_id": found.platform_id if found else None,
            "ads_in_adset": sorted(ad.platform_id for ad in ads),
        }
        return Observed(frozenset({"after"} if found else {"before"}), values, found)


def _matches(before: Any, after: Any, *current: Any) -> frozenset[str]:
    return frozenset(
        name for name, value in (("before", before), ("after", after)) if any(c == value for c in current)
    )


def known_ads(attempt: ExecutionRecord | None) -> list[str] | None:
    known = (attempt.observed or {}).get("ads_in_adset") if attempt is not None else None
    return [str(k) for k in known] if isinstance(known, list) else None
