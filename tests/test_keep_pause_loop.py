"""The keep/pause loop benchmark on a one-ad-set world: the product's creative policy acts only on
enough evidence, never below the live-ads floor, and beats doing nothing where one ad is clearly worse."""

from __future__ import annotations

from benchmarks.keep_pause_loop import _eligible, adsets_under_test, run, true_ctrs
from sandbox.market.market import Market
from tests.conftest import small_config
from tools.optimize.creatives import Thresholds

SEED = 6  # one Meta ad set of 6 ads, true CTRs from 0.36% to 1.29%, the best one live


def _config():  # type: ignore[no-untyped-def]
    return small_config(seed=SEED, accounts=1, ads=6, platforms=("meta",))


def test_the_world_has_one_clearly_worse_ad() -> None:
    market = Market(_config())
    adsets = adsets_under_test(market)
    assert len(adsets) == 1
    truth = true_ctrs(market, adsets)
    rates = [truth[a] for a in _eligible(market, adsets[0])]
    assert len(rates) == 6 and min(rates) < 0.5 * max(rates)


def test_creative_policy_pauses_on_evidence_keeps_the_floor_and_beats_doing_nothing() -> None:
    result = run(SEED, 7, policies=("platform_only", "seed_rule", "creative_policy"), config=_config())
    policies = result["policies"]
    product, rule, idle = policies["creative_policy"], policies["seed_rule"], policies["platform_only"]
    floor = Thresholds().min_live_ads

    assert product["pauses"] >= 1 and product["wrong_pauses"] == 0
    assert all(imps >= Thresholds().min_impressions_to_pause for _, imps in product["paused_ads"])
    assert all(live >= floor for live in product["live_per_adset"].values())
    assert rule["pauses"] >= 1 and all(imps >= 1_000 for _, imps in rule["paused_ads"])
    assert all(live >= 1 for live in rule["live_per_adset"].values())

    assert idle["pauses"] == 0 and idle["clicks"] > 0
    assert product["clicks"] >= idle["clicks"]
    assert product["purchases"] >= idle["purchases"]


def test_the_oracle_runs_only_the_truly_best_ad() -> None:
    result = run(SEED, 3, policies=("platform_only", "oracle_best_ad"), config=_config())
    oracle = result["policies"]["oracle_best_ad"]
    assert list(oracle["live_per_adset"].values()) == [1]
    assert oracle["clicks_share"] == 1.0
    assert oracle["clicks"] > result["policies"]["platform_only"]["clicks"]
