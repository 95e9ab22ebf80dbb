"""Audience exclusions: per live ad set with enough conversions, at most one `TargetingChange` that
excludes one dimension's credibly dearer segments (tools/optimize/audiences.py), within a share of its
spend, and only if the platform can write the narrower targeting."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agents.actions import Action, EntityRef, Evidence, ExpectedEffect, TargetingChange
from tools.audience_inputs import AdSetSegments
from tools.optimize.audiences import segment_report
from tools.platforms.records import TARGETING_VALUES
from tools.platforms.registry import targeting_problem


class AudienceConfig(BaseModel):
    credibility: float = Field(default=0.95, gt=0.5, lt=1, description="posterior probability of worse")
    min_lift: float = Field(default=0.2, ge=0, description="CPA at least this share above the ad set's")
    max_cut_share: float = Field(default=0.3, gt=0, lt=1, description="most spend one exclusion may take out")
    min_conversions: int = Field(
        default=20, ge=1, description="an ad set's conversions before segments count"
    )


FIELDS = {"age": "ages", "gender": "genders", "country": "countries", "placement": "placements"}


def audience_actions(adsets: list[AdSetSegments], cfg: AudienceConfig, notes: list[str]) -> list[Action]:
    """Per live ad set, at most one exclusion: the dimension whose credibly worse segments take the most
    spend (within `max_cut_share`), if the platform can express the narrower targeting."""
    actions: list[Action] = []
    for s in adsets:
        if s.status != "ACTIVE":
            continue
        options = []
        for dimension, segments in s.dimensions.items():
            report = segment_report(
                segments, dimension=dimension, credibility=cfg.credibility, min_lift=cfg.min_lift
            )
            if report.conversions < cfg.min_conversions or report.adset_cpa is None:
                continue
            targeted = getattr(s.targeting, FIELDS[dimension])  # empty: every value
            # Only segments still targeted: an excluded one keeps its past rows in the window.
            worse = [
                v for v in report.segments if v.verdict == "worse" and (not targeted or v.value in targeted)
            ]
            share = sum(v.spend_share for v in worse)
            if worse and share <= cfg.max_cut_share:
                options.append((share, dimension, report, worse))
            elif worse:
                notes.append(
                    f"ad set {s.name!r}: {dimension} {', '.join(v.value for v in worse)} cost more per "
                    f"conversion but take {share:.0%} of its spend, over the {cfg.max_cut_share:.0%} one "
                    "change may exclude"
                )
        for share, dimension, report, worse in sorted(options, key=lambda o: (-o[0], o[1])):
            field = FIELDS[dimension]
            current = getattr(s.targeting, field) or list(
                TARGETING_VALUES.get(field, ()) or (v.value for v in report.segments)
            )
            out = {v.value for v in worse}
            after = s.targeting.model_copy(update={field: [v for v in current if v not in out]})
            problem = targeting_problem(s.platform, after) if after.model_dump()[field] else "nothing left"
            if problem:
                notes.append(
                    f"ad set {s.name!r}: excluding {dimension} {', '.join(sorted(out))} is not possible: "
                    f"{problem}"
                )
                continue
            kept_spend = report.spend_micros - sum(v.spend_micros for v in worse)
            kept_conv = report.conversions - sum(v.conversions for v in worse)
            actions.append(
                TargetingChange(
                    entity=EntityRef(
                        platform=s.platform,  # type: ignore[arg-type]
                        account_id=s.account_id,
                        level="adset",
                        platform_id=s.platform_id,
                        name=s.name,
                    ),
                    before=s.targeting,
                    after=after,
                    excluded={field: sorted(out)},
                    excluded_spend_share=round(share, 4),
                    reason=f"exclude {dimension} {', '.join(sorted(out))}: credibly dearer per conversion "
                    f"than the rest of the ad set",
                    evidence=[
                        Evidence(
                            source="audience segments (hierarchical Gamma-Poisson, shrunk to the ad set)",
                            summary=f"{dimension} {v.value}: {v.reason}",
                            figures={
                                "cpa_estimate": v.cpa_estimate,
                                "cpa_low": v.cpa_interval[0] if v.cpa_interval else None,
                                "cpa_high": v.cpa_interval[1] if v.cpa_interval else None,
                                "adset_cpa": report.adset_cpa,
                                "prob_worse": v.prob_worse,
                                "spend_share": round(v.spend_share, 4),
                                "conversions": v.conversions,
                            },
                            sample_size=v.conversions,
                        )
                        for v in worse
                    ],
                    expected=ExpectedEffect(
                        metric="ad set CPA (major units) if its budget goes to the remaining segments",
                        before=report.adset_cpa,
                        after=(kept_spend / 1e6 / kept_conv) if kept_conv else None,
                    ),
                )
            )
            break
    return actions
