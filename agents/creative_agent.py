"""The creative agent: for ad sets the analyst found fatigued, losing or settled on a winner, new copy
written from the ad set's base ad by the LLM (the creative studio's `write_variants`: repaired to the
platform's limits, checked against ad policy, de-duplicated, tagged) and proposed as a new ad in the
same ad set; a fatigued ad is replaced (paused once the new ad exists). Each is a `CreateAd`: it waits
for a person like any change that can raise spend, and its deterministic name lets the executor find it
after a crash instead of creating it twice. The base ad's image, link and creative are kept; only the
words are new. The model writes words, never numbers that are acted on. `due_requests` keeps one new ad
per ad set in flight: a waiting proposal is asked again, not rewritten, and a created or rejected one
is given time before the next.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session

from agents.actions import CreateAd, EntityRef, Evidence
from agents.analyst import NewAdRequest
from storage.audit import AuditLog
from storage.audit_types import ProposalStatus
from storage.models import Account, AdSet
from tools.creative.base_ad import BaseAdError, load_base_ad
from tools.creative.library import CreativeLibrary
from tools.creative.text import Brief, StructuredLLM, write_variants
from tools.llm.errors import LLMError
from tools.platforms.base import NewAd

logger = logging.getLogger(__name__)


WAITING = (ProposalStatus.PROPOSED,)
UNDER_WAY = (ProposalStatus.APPROVED, ProposalStatus.EXECUTING)
ANSWERED = (ProposalStatus.EXECUTED, ProposalStatus.REJECTED, ProposalStatus.EDITED)


def due_requests(
    engine: Engine, requests: Sequence[NewAdRequest], *, wait: dt.timedelta
) -> tuple[list[NewAdRequest], list[CreateAd], list[str]]:
    """Which ad sets get new copy now, from the audit log: an ad set whose last new ad still waits for a
    decision gets that same proposal again (no new copy is written, the person still sees one); one
    whose new ad was created or rejected less than `wait` ago is left to show how it does; the rest
    are due. Returns (due, proposals carried over, notes)."""
    audit = AuditLog(engine)
    keys: dict[str, str] = {}
    with Session(engine) as session:
        for r in requests:
            adset = session.get(AdSet, r.adset_id)
            account = session.get(Account, adset.account_id) if adset is not None else None
            if adset is not None and account is not None:
                keys[r.adset_id] = f"{adset.platform}|{account.platform_id}|adset|{adset.platform_id}"
    last = audit.latest("create_ad", list(keys.values()))
    now = audit.now()
    due: list[NewAdRequest] = []
    carried: list[CreateAd] = []
    notes: list[str] = []
    for r in requests:
        record = last.get(keys.get(r.adset_id, ""))
        if record is None:
            due.append(r)
        elif record.status in WAITING:
            carried.append(CreateAd.model_validate(record.action))
            notes.append(
                f"ad set {r.adset_id}: the new ad proposed {record.proposed_at:%Y-%m-%d} still waits"
            )
        elif record.status in UNDER_WAY:
            notes.append(f"ad set {r.adset_id}: the new ad {record.id} is approved and being made")
        elif record.status in ANSWERED and record.updated_at > now - wait:
            notes.append(
                f"ad set {r.adset_id}: a new ad was {record.status} on {record.updated_at:%Y-%m-%d}; "
                f"no new copy before {record.updated_at + wait:%Y-%m-%d}"
            )
        else:
            due.append(r)
    return due, carried, notes


async def propose_new_ads(
    engine: Engine,
    llm: StructuredLLM,
    requests: Sequence[NewAdRequest],
    *,
    per_adset: int = 1,
    max_adsets: int = 3,
    library: CreativeLibrary | None = None,
) -> tuple[list[CreateAd], list[str]]:
    """New ads for at most `max_adsets` of the requests, `per_adset` each; notes say what was skipped.
    With a `library`, copy close to what it holds is dropped as a near-duplicate, and what is written is
    kept there as tagged text assets and indexed for search."""
    actions: list[CreateAd] = []
    notes: list[str] = []
    if len(requests) > max_adsets:
        notes.append(f"new copy for {max_adsets} of {len(requests)} ad sets this cycle")
    for request in list(requests)[:max_adsets]:
        try:
            found = load_base_ad(engine, request.base_ad_id)
        except BaseAdError as exc:
            notes.append(f"ad set {request.adset_id}: no new copy: {exc}")
            continue
        if found.adset is None:
            notes.append(f"ad set {request.adset_id}: not in the warehouse")
            continue
        with Session(engine) as session:
            account = session.get(Account, found.ad.account_id)
        if account is None:
            notes.append(f"ad set {request.adset_id}: its account is not in the warehouse")
            continue
        product = (
            (found.campaign.name.split("|")[0] if found.campaign else "") or found.base.headline
        ).strip()
        brief = Brief(product=product[:80] or "our product", platform=found.ad.platform)  # type: ignore[arg-type]
        try:
            batch = await write_variants(
                llm,
                brief,
                per_adset,
                base=found.base,
                max_calls=3 * per_adset,
                library=library.similarity() if library is not None else None,
            )
        except LLMError as exc:
            notes.append(
                f"ad set {found.adset.name}: no new copy, the model failed: {str(exc).splitlines()[0]}"
            )
            continue
        if not batch.variants:
            if batch.model_failures and not batch.model_answers:
                first = batch.model_failures[0].splitlines()[0]
                notes.append(f"ad set {found.adset.name}: no new copy, the model failed: {first}")
                continue
            reasons = "; ".join(d.reason for d in batch.dropped[:3]) or "no usable answer"
            notes.append(f"ad set {found.adset.name}: no usable copy ({reasons})")
            continue
        assets = library.keep(batch, getattr(llm, "model", "llm")) if library is not None else []
        for k, variant in enumerate(batch.variants):
            spec = NewAd(
                adset_platform_id=found.adset.platform_id,
                name=f"{found.ad.name[:60]} | new copy",
                headline=variant.headline,
                body=variant.primary_text,
                image_hash=found.creative.image_hash,
                link=found.creative.link,
                call_to_action=variant.platform_cta,
                status="ACTIVE",
            )
            replaces = None
            if request.replaces_ad_id is not None:
                replaces = EntityRef(
                    platform=found.ad.platform,  # type: ignore[arg-type]
                    account_id=account.platform_id,
                    level="ad",
                    platform_id=found.ad.platform_id,
                    name=found.ad.name,
                )
            why = {
                "fatigued": "replace a fatigued ad with fresh copy (paused once the new ad runs)",
                "losing": "new copy for an ad set whose ads trail the account",
                "settled": "test new copy against the ad set's winner",
            }[request.kind]
            actions.append(
                CreateAd(
                    replaces=replaces,
                    entity=EntityRef(
                        platform=found.ad.platform,  # type: ignore[arg-type]
                        account_id=account.platform_id,
                        level="adset",
                        platform_id=found.adset.platform_id,
                        name=found.adset.name,
                    ),
                    spec=spec,
                    reason=f"{why}: {request.reason}",
                    proposed_by="creative",
                    evidence=[
                        Evidence(
                            source="creative agent (LLM copy, checked against platform limits and policy)",
                            summary=f"written from {found.ad.name!r}; tags {variant.tags.emotion}, "
                            f"{variant.tags.theme}, offer {variant.tags.offer}",
                            figures={
                                "base_impressions": found.base.impressions,
                                "base_clicks": found.base.clicks,
                                "base_conversions": found.base.conversions,
                                "copy_asset_id": assets[k] if assets else None,
                            },
                            sample_size=found.base.impressions,
                        )
                    ],
                )
            )
    return actions, notes
