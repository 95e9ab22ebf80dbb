"""The creative agent: for ad sets the analyst found settled on a winner, new copy written from that ad
by the LLM (the creative studio's `write_variants`: repaired to the platform's limits, checked against
ad policy, de-duplicated, tagged) and proposed as new ads in the same ad set. Each is a `CreateAd`:
it waits for a person like any change that can raise spend, and its deterministic name lets the
executor find it after a crash instead of creating it twice. The image, link and creative of the
winning ad are kept; only the words are new. The model writes words, never numbers that are acted on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session

from agents.actions import CreateAd, EntityRef, Evidence
from agents.analyst import NewAdRequest
from storage.models import Account
from tools.creative.base_ad import BaseAdError, load_base_ad
from tools.creative.text import Brief, StructuredLLM, write_variants
from tools.llm.errors import LLMError
from tools.platforms.base import NewAd

logger = logging.getLogger(__name__)


async def propose_new_ads(
    engine: Engine,
    llm: StructuredLLM,
    requests: Sequence[NewAdRequest],
    *,
    per_adset: int = 1,
    max_adsets: int = 3,
) -> tuple[list[CreateAd], list[str]]:
    """New ads for at most `max_adsets` of the requests, `per_adset` each; notes say what was skipped."""
    actions: list[CreateAd] = []
    notes: list[str] = []
    if len(requests) > max_adsets:
        notes.append(f"new copy for {max_adsets} of {len(requests)} settled ad sets this cycle")
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
            batch = await write_variants(llm, brief, per_adset, base=found.base, max_calls=3 * per_adset)
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
        for variant in batch.variants:
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
            actions.append(
                CreateAd(
                    entity=EntityRef(
                        platform=found.ad.platform,  # type: ignore[arg-type]
                        account_id=account.platform_id,
                        level="adset",
                        platform_id=found.adset.platform_id,
                        name=found.adset.name,
                    ),
                    spec=spec,
                    reason=f"test new copy against the ad set's winner: {request.reason}",
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
                            },
                            sample_size=found.base.impressions,
                        )
                    ],
                )
            )
    return actions, notes
