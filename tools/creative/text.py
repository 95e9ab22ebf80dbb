"""New ad copy from a brief, a base creative and its numbers: the LLM writes, everything else checks.

Per variant the model answers one small JSON object (headline, primary text, CTA type and its own tags;
a tight schema suits small models). Each answer is then, in order: repaired to the platform's copy
limits (`copy_rules`), checked against ad policy (`policy`), its tags made to agree with the words
(`tags`), and compared with what exists (the base, the batch so far and, when given, the creative
library through a similarity function): near-duplicates are dropped. Anything dropped is kept with its
reason. Every variant says where it came from: "model", or "template" for the labelled fallback used
only when asked (`allow_template=True`) and the model gives nothing usable; the two are counted apart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from difflib import SequenceMatcher
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel, Field

from prompts import load as load_prompt
from tools.creative.copy_rules import LIMITS, Platform, check_copy, check_quality, normal_words, repair_copy
from tools.creative.policy import check_policy
from tools.creative.tags import PLATFORM_CTA, CtaType, Emotion, Language, Offer, Tags, Theme, verify_tags
from tools.llm.errors import LLMError

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
PLATFORM_NAMES = {"meta": "Facebook and Instagram", "x": "X (Twitter)", "tiktok": "TikTok"}
# Angles that steer successive calls apart, so a small model does not write the same ad n times.
ANGLES = (
    "lead with the main benefit",
    "lead with the offer",
    "ask a question about the product",
    "use social proof",
    "stress quality and how long it lasts",
    "stress convenience",
    "make it feel new",
    "keep it calm and simple",
)
DUPLICATE_SIMILARITY = 0.9  # text ratio or embedding cosine at or above which two copies are the same ad


class StructuredLLM(Protocol):
    """What the generator needs of an LLM client (tools.llm.client.LLMClient is one)."""

    async def structured(
        self, messages: Sequence[dict[str, str]], schema: type[M], *, temperature: float | None = None
    ) -> M: ...


class Brief(BaseModel):
    product: str = Field(min_length=1, max_length=80)
    platform: Platform
    audience: str = Field(default="people who shop online", max_length=120)
    offer: str = Field(default="none", max_length=80)
    tone: str = Field(default="friendly and clear", max_length=60)
    language: Language = "en"


class BaseCreative(BaseModel):
    """An existing ad to write variants of, with its numbers (from the warehouse)."""

    headline: str
    primary_text: str = ""
    impressions: int = Field(default=0, ge=0)
    clicks: int = Field(default=0, ge=0)
    conversions: int = Field(default=0, ge=0)
    note: str | None = Field(default=None, description="e.g. 'fatigued: CTR fell 30% with frequency'")


class Draft(BaseModel):
    """The model's answer for one ad (the JSON schema it is asked for)."""

    headline: str = Field(min_length=1, max_length=90, description="the ad's headline, short")
    primary_text: str = Field(
        min_length=1, max_length=300, description="the ad's main text, one or two sentences"
    )
    cta_type: CtaType = Field(description="the call to action button")
    emotion: Emotion
    theme: Theme
    offer: Offer = Field(description="what the copy offers, or none")
    language: Language


class Variant(BaseModel):
    headline: str
    primary_text: str
    cta_type: CtaType
    platform_cta: str
    tags: Tags
    source: Literal["model", "template"]
    repairs: list[str] = Field(default_factory=list, description="what was cut or fixed to fit the platform")
    tag_fixes: list[str] = Field(default_factory=list)


class Dropped(BaseModel):
    headline: str
    primary_text: str
    reason: str


class VariantBatch(BaseModel):
    brief: Brief
    asked: int
    variants: list[Variant]
    dropped: list[Dropped]
    model_answers: int = Field(description="answers the model gave that parsed")
    model_failures: list[str] = Field(default_factory=list, description="calls that gave nothing usable")
    first_time_valid: int = Field(description="answers that passed every check without repair")
    from_model: int
    from_template: int


Similarity = Callable[[str], Awaitable[float]]


def _text_similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, normal_words(a), normal_words(b)).ratio()


def _existing_block(base: BaseCreative | None) -> str:
    if base is None:
        return "(none)"
    ctr = f"{base.clicks / base.impressions:.2%}" if base.impressions else "no data"
    lines = [
        f"headline: {base.headline}",
        f"text: {base.primary_text}",
        f"CTR: {ctr}, purchases: {base.conversions}",
    ]
    if base.note:
        lines.append(f"note: {base.note}")
    # Untrusted text (ad names and copy come from the platforms): no tags that could close the block.
    return "\n".join(line.replace("<", "(").replace(">", ")") for line in lines)


def _messages(brief: Brief, base: BaseCreative | None, angle: str) -> list[dict[str, str]]:
    limits = LIMITS[brief.platform]
    prompt = load_prompt("creative_variant").format(
        platform_name=PLATFORM_NAMES[brief.platform],
        headline_max=limits["headline"].max_weight,
        text_max=limits["primary_text"].max_weight,
        language=brief.language,
        angle=angle,
        product=brief.product,
        audience=brief.audience,
        offer=brief.offer,
        tone=brief.tone,
        existing=_existing_block(base),
    )
    return [{"role": "user", "content": prompt}]


async def _is_duplicate(
    headline: str, text: str, seen: list[tuple[str, str]], library: Similarity | None
) -> str | None:
    """A near-copy of what exists: the whole ad, or its main text alone (a new headline on the same
    text is not a new ad)."""
    for other_headline, other_text in seen:
        if normal_words(other_headline) in (normal_words(headline), normal_words(text)):
            return f"reuses the headline {other_headline[:60]!r}"
        whole = _text_similarity(f"{headline} {text}", f"{other_headline} {other_text}")
        body = _text_similarity(text, other_text) if min(len(text), len(other_text)) >= 20 else 0.0
        if max(whole, body) >= DUPLICATE_SIMILARITY:
            return f"near-duplicate of {other_headline[:40]!r} / {other_text[:40]!r}"
    if library is not None:
        score = await library(f"{headline} {text}")
        if score >= DUPLICATE_SIMILARITY:
            return f"near-duplicate of a creative in the library (similarity {score:.2f})"
    return None


def _template(brief: Brief, k: int) -> Draft:
    """The labelled fallback: plain, policy-safe copy from the brief alone."""
    product = brief.product.strip()
    headlines = (
        f"{product.capitalize()}, made simple",
        f"Meet your new {product}",
        f"Why people choose our {product}",
    )
    texts = (
        f"Discover {product} designed for everyday life. Order today.",
        f"See what makes our {product} different. Shop the range now.",
        f"Quality {product}, fair prices, easy returns.",
    )
    return Draft(
        headline=headlines[k % 3],
        primary_text=texts[k % 3],
        cta_type="shop_now",
        emotion="trust",
        theme="quality",
        offer="none",
        language=brief.language,
    )


async def write_variants(
    llm: StructuredLLM,
    brief: Brief,
    n: int,
    *,
    base: BaseCreative | None = None,
    library: Similarity | None = None,
    allow_template: bool = False,
    max_calls: int | None = None,
) -> VariantBatch:
    """Up to `n` checked variants; at most `max_calls` (default 2n) model calls."""
    if not 1 <= n <= 50:
        raise ValueError(f"n must be between 1 and 50, got {n}")
    seen = [(base.headline, base.primary_text)] if base else []
    variants: list[Variant] = []
    dropped: list[Dropped] = []
    failures: list[str] = []
    answers = first_time = 0
    for call in range(max_calls or 2 * n):
        if len(variants) >= n:
            break
        try:
            draft = await llm.structured(
                _messages(brief, base, ANGLES[call % len(ANGLES)]), Draft, temperature=0.8
            )
        except LLMError as exc:  # one failed call must not lose the batch
            failures.append(f"call {call + 1}: {type(exc).__name__}: {exc}")
            logger.info("variant call %d failed: %s", call + 1, exc)
            if len(failures) >= 3 and not answers:
                break  # the model is down or hopeless: stop asking
            continue
        answers += 1
        outcome = await _accept(draft, brief, "model", seen, library)
        if isinstance(outcome, Dropped):
            dropped.append(outcome)
            continue
        if not outcome.repairs and not outcome.tag_fixes:
            first_time += 1
        variants.append(outcome)
        seen.append((outcome.headline, outcome.primary_text))
    k = 0
    while allow_template and len(variants) < n and k < 3:
        outcome = await _accept(_template(brief, k), brief, "template", seen, library)
        k += 1
        if isinstance(outcome, Variant):
            variants.append(outcome)
            seen.append((outcome.headline, outcome.primary_text))
    return VariantBatch(
        brief=brief,
        asked=n,
        variants=variants,
        dropped=dropped,
        model_answers=answers,
        model_failures=failures,
        first_time_valid=first_time,
        from_model=sum(v.source == "model" for v in variants),
        from_template=sum(v.source == "template" for v in variants),
    )


async def _accept(
    draft: Draft,
    brief: Brief,
    source: Literal["model", "template"],
    seen: list[str],
    library: Similarity | None,
) -> Variant | Dropped:
    repairs: list[str] = []
    fields = {"headline": draft.headline, "primary_text": draft.primary_text}
    for name, text in list(fields.items()):
        problems = check_copy(brief.platform, name, text)  # type: ignore[arg-type]
        if problems:
            fixed = repair_copy(brief.platform, name, text)  # type: ignore[arg-type]
            still = check_copy(brief.platform, name, fixed)  # type: ignore[arg-type]
            if still:
                return Dropped(
                    headline=draft.headline,
                    primary_text=draft.primary_text,
                    reason=f"{still[0].detail} after repair",
                )
            repairs.append(f"{name}: {', '.join(p.rule for p in problems)}")
            fields[name] = fixed
    quality = check_quality(fields["headline"], fields["primary_text"])
    if quality:
        return Dropped(headline=fields["headline"], primary_text=fields["primary_text"], reason=quality[0])
    violations = check_policy(fields["headline"], fields["primary_text"])
    if violations:
        v = violations[0]
        return Dropped(
            headline=fields["headline"],
            primary_text=fields["primary_text"],
            reason=f"policy {v.rule}: {v.words!r}",
        )
    duplicate = await _is_duplicate(fields["headline"], fields["primary_text"], seen, library)
    if duplicate:
        return Dropped(headline=fields["headline"], primary_text=fields["primary_text"], reason=duplicate)
    tags, tag_fixes = verify_tags(
        Tags(
            emotion=draft.emotion,
            theme=draft.theme,
            product=brief.product[:60],
            offer=draft.offer,
            cta_type=draft.cta_type,
            language=draft.language,
        ),
        fields["headline"],
        fields["primary_text"],
    )
    return Variant(
        headline=fields["headline"],
        primary_text=fields["primary_text"],
        cta_type=draft.cta_type,
        platform_cta=PLATFORM_CTA[brief.platform][draft.cta_type],
        tags=tags,
        source=source,
        repairs=repairs,
        tag_fixes=tag_fixes,
    )
