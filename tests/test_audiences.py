"""The audience segment report on seeded synthetic data with known answers: credible differences are
found, small segments are shrunk toward their ad set, intervals are calibrated, identical segments are
rarely called different, and bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from tools.optimize.audiences import SegmentFigures, segment_report

M = 1_000_000


def seg(value: str, spend: float, conversions: int) -> SegmentFigures:
    return SegmentFigures(value=value, spend_micros=round(spend * M), conversions=conversions)


def test_a_segment_at_twice_the_cost_per_conversion_is_credibly_worse() -> None:
    report = segment_report(
        [seg("US", 1000, 100), seg("GB", 1000, 100), seg("JP", 1000, 50)], dimension="country"
    )
    by = {s.value: s for s in report.segments}
    assert report.adset_cpa == pytest.approx(3000 / 250)
    assert by["JP"].verdict == "worse" and by["JP"].prob_worse > 0.99
    assert 15 < by["JP"].cpa_estimate < 20 and by["JP"].cpa_interval[0] > report.adset_cpa  # type: ignore[operator,index]
    assert by["US"].verdict != "worse" and by["GB"].verdict != "worse"
    assert by["JP"].spend_share == pytest.approx(1 / 3)


def test_three_clicks_and_a_lucky_conversion_are_not_the_best_segment() -> None:
    report = segment_report(
        [seg("feed", 2000, 160), seg("stories", 2000, 150), seg("network", 3, 1)], dimension="placement"
    )
    lucky = next(s for s in report.segments if s.value == "network")
    assert lucky.cpa_observed == pytest.approx(3.0)
    assert lucky.verdict == "as_adset"
    # Shrunk nearly all the way to the ad set's CPA (about 12.9), nowhere near its observed 3.
    assert abs(lucky.cpa_estimate - report.adset_cpa) < 1.0  # type: ignore[operator]
    assert lucky.cpa_interval[1] > report.adset_cpa  # type: ignore[index,operator]


def test_identical_segments_are_called_different_rarely() -> None:
    rng = np.random.default_rng(11)
    flagged = runs = 0
    for _ in range(400):
        spend = rng.uniform(200, 2000, size=4)
        conv = rng.poisson(spend / 20.0)  # the same CPA of 20 everywhere
        report = segment_report(
            [
                seg(v, x, int(c))
                for v, x, c in zip(("18-24", "25-34", "35-44", "45+"), spend, conv, strict=True)
            ],
            dimension="age",
        )
        flagged += sum(s.verdict in ("worse", "better") for s in report.segments)
        runs += len(report.segments)
    assert flagged / runs < 0.03  # 1.75% at the default credibility of 0.95


def test_credible_intervals_cover_the_true_cpa_at_their_stated_rate() -> None:
    rng = np.random.default_rng(5)
    covered = total = found = truly_worse = 0
    for _ in range(300):
        rates = rng.gamma(shape=6.0, scale=0.05 / 6.0, size=4)  # true CPAs around 20, spread ~40%
        spend = rng.uniform(300, 3000, size=4)
        conv = rng.poisson(rates * spend)
        report = segment_report(
            [seg(str(k), x, int(c)) for k, (x, c) in enumerate(zip(spend, conv, strict=True))],
            dimension="age",
            credibility=0.9,
        )
        pooled_true = float((rates * spend).sum() / spend.sum())
        for s, r in zip(report.segments, rates, strict=True):
            if s.cpa_interval is None:
                continue
            total += 1
            covered += s.cpa_interval[0] <= 1 / r <= s.cpa_interval[1]
            if r < pooled_true / 1.5:
                truly_worse += 1
                found += s.verdict == "worse"
    assert 0.85 <= covered / total <= 0.96
    assert found / truly_worse > 0.3  # much worse segments are found, not just kept quiet


def test_no_conversions_or_no_spend_give_no_verdicts_and_bad_input_is_refused() -> None:
    report = segment_report([seg("male", 50, 0), seg("female", 0, 0)], dimension="gender")
    assert report.adset_cpa is None and {s.verdict for s in report.segments} == {"no_data"}
    assert "no conversions" in report.segments[0].reason
    with pytest.raises(ValueError, match="listed twice"):
        segment_report([seg("US", 1, 1), seg("US", 2, 1)], dimension="country")
    with pytest.raises(ValueError, match="credibility"):
        segment_report([seg("US", 1, 1)], dimension="country", credibility=1.5)
    with pytest.raises(ValueError):
        SegmentFigures(value="US", spend_micros=-1, conversions=0)
