"""Ad concepts: new headlines (and their text) x images x CTAs, as the seed describes, ranked by the DCO
learner's element values where it has them (`tools.optimize.dco_report.ElementEstimate`). An element the
learner has not seen counts as average (effect 0) and is flagged, so a concept of untested parts is
ranked by what is known of the rest instead of being dropped: it is what a test is for."""

from __future__ import annotations

import itertools

from pydantic import BaseModel, Field

from tools.creative.tags import CtaType
from tools.creative.text import Variant
from tools.optimize.dco_report import ElementEstimate


class Concept(BaseModel):
    headline: str
    primary_text: str
    image: str = Field(description="the image's asset id or platform hash")
    cta_type: CtaType
    score: float = Field(description="sum of known log-odds effects (0 = an average ad)")
    untested: list[str] = Field(description="elements the learner has no figures for")
    source: str


def combine(
    variants: list[Variant],
    images: list[str],
    ctas: list[CtaType] | None = None,
    *,
    effects: list[ElementEstimate] | None = None,
    k: int = 10,
) -> list[Concept]:
    """The k best headline x image x CTA concepts; each variant keeps its own text."""
    if not variants or not images:
        raise ValueError("concepts need at least one variant and one image")
    known = {(e.kind, e.element): e.log_odds_effect for e in effects or []}
    cta_options = ctas or sorted({v.cta_type for v in variants})
    concepts = []
    for variant, image, cta in itertools.product(variants, images, cta_options):
        parts = {"headline": variant.headline, "image": image, "cta": cta}
        untested = [kind for kind, value in parts.items() if (kind, value) not in known]
        concepts.append(
            Concept(
                headline=variant.headline,
                primary_text=variant.primary_text,
                image=image,
                cta_type=cta,
                score=sum(known.get((kind, value), 0.0) for kind, value in parts.items()),
                untested=untested,
                source=variant.source,
            )
        )
    concepts.sort(key=lambda c: (-c.score, len(c.untested), c.headline, c.image, c.cta_type))
    return concepts[:k]
