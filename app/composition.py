"""The composition root: settings -> engine, lake, adapters, the notion of "today", and the LLM.

Against a sandbox (`ADCLUSTER_SANDBOX_URL`), credentials and the simulated date come from its admin API;
against the real platforms, from settings and each account's own time zone. Without
`ADCLUSTER_LLM_BASE_URL` the LLM is the embedded model, started for the `llm_client` block.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractAsyncContextManager
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine

from agents.approval_policy import ApprovalPolicy
from agents.guardrails import Guardrails
from app.settings import Settings, SettingsError
from storage.assets import AssetStore
from storage.db import make_engine, migrate
from storage.embeddings import EmbeddingConfig, make_embedding_function
from storage.lake import RawLake
from storage.vectors import CreativeIndex
from tools.alert_inputs import HealthConfig
from tools.llm import LLMClient, LLMConfig, open_llm
from tools.platforms import registry
from tools.platforms.base import PlatformAdapter
from tools.platforms.records import AccountRecord
from tools.platforms.transport import ResponseSink


def warehouse(settings: Settings) -> Engine:
    engine = make_engine(settings.warehouse_url)
    migrate(engine)
    return engine


def lake(settings: Settings) -> RawLake:
    return RawLake(settings.lake_root)


def llm_config(settings: Settings) -> LLMConfig:
    try:
        return LLMConfig(
            base_url=str(settings.llm_base_url).rstrip("/") if settings.llm_base_url else None,
            api_key=settings.llm_api_key,
            model=settings.llm_model,
            tool_mode=settings.llm_tool_mode,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )
    except ValueError as exc:
        raise SettingsError(f"the ADCLUSTER_LLM_* settings are invalid: {exc}") from None


def asset_store(settings: Settings, engine: Engine) -> AssetStore:
    return AssetStore.local(settings.assets_root, engine=engine)


def creative_index(settings: Settings) -> CreativeIndex:
    """The Chroma index of creatives, with the bundled offline embeddings unless an endpoint is set."""
    if settings.embedding_base_url is None:
        config = EmbeddingConfig()
    else:
        config = EmbeddingConfig(
            provider="endpoint",
            base_url=str(settings.embedding_base_url).rstrip("/"),
            model=settings.embedding_model,
            api_key=settings.embedding_api_key,
        )
    return CreativeIndex(path=settings.vectors_root, embedding_function=make_embedding_function(config))


def llm_client(settings: Settings) -> AbstractAsyncContextManager[LLMClient]:
    """`async with llm_client(settings) as llm:` the configured server, or the embedded model started
    for the block and stopped after it."""
    return open_llm(llm_config(settings))


def _platform_configs(settings: Settings, sandbox: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if sandbox is not None:
        root = str(settings.sandbox_url).rstrip("/")
        creds = sandbox["credentials"]
        return {
            "meta": {
                "base_url": root,
                "access_token": creds["meta"]["access_token"],
                "app_secret": creds["meta"]["app_secret"],
            },
            "x": {"base_url": root, "api_version": "12", **creds["x"]},
            "tiktok": {
                "base_url": f"{root}/open_api/v1.3",
                "access_token": creds["tiktok"]["access_token"],
                "app_id": creds["tiktok"]["app_id"],
                "secret": creds["tiktok"]["secret"],
            },
        }
    return {
        "meta": {
            "base_url": str(settings.meta_base_url).rstrip("/"),
            "api_version": settings.meta_api_version,
            "access_token": settings.meta_access_token,
            "app_secret": settings.meta_app_secret,
            "account_ids": settings.meta_account_ids,
        },
        "x": {
            "base_url": str(settings.x_base_url).rstrip("/"),
            "api_version": settings.x_api_version,
            "consumer_key": settings.x_consumer_key,
            "consumer_secret": settings.x_consumer_secret,
            "access_token": settings.x_access_token,
            "access_token_secret": settings.x_access_token_secret,
            "account_ids": settings.x_account_ids,
        },
        "tiktok": {
            "base_url": str(settings.tiktok_base_url).rstrip("/"),
            "access_token": settings.tiktok_access_token,
            "app_id": settings.tiktok_app_id,
            "secret": settings.tiktok_secret,
            "advertiser_ids": settings.tiktok_advertiser_ids,
        },
    }


ADAPTER_CLASSES = {
    "meta": ("MetaAdapter", "MetaConfig"),
    "x": ("XAdapter", "XConfig"),
    "tiktok": ("TikTokAdapter", "TikTokConfig"),
}


async def sandbox_world(settings: Settings) -> dict[str, Any] | None:
    if settings.sandbox_url is None:
        return None
    url = str(settings.sandbox_url).rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            world = (await client.get(f"{url}/_sandbox/world")).raise_for_status().json()
            world["clock"] = (await client.get(f"{url}/_sandbox/clock")).raise_for_status().json()
    except httpx.HTTPError as exc:
        raise SettingsError(f"ADCLUSTER_SANDBOX_URL={url} does not answer as a sandbox: {exc}") from None
    return world  # type: ignore[no-any-return]


def build_adapters(
    settings: Settings, sandbox: dict[str, Any] | None, *, platforms: list[str], sink: ResponseSink | None
) -> dict[str, PlatformAdapter]:
    settings.check_platforms()
    configs = _platform_configs(settings, sandbox)
    adapters: dict[str, PlatformAdapter] = {}
    for name in platforms:
        module = registry.module(name)
        adapter_cls, config_cls = (getattr(module, n) for n in ADAPTER_CLASSES[name])
        values = {k: v for k, v in configs[name].items() if v not in (None, [])}
        try:
            config = config_cls(**values)
        except ValueError as exc:
            raise SettingsError(f"settings for {name} are invalid: {exc}") from None
        adapters[name] = adapter_cls(config, sink=sink)
    return adapters


def today_for(sandbox: dict[str, Any] | None):  # type: ignore[no-untyped-def]
    """The account's "today": the simulated date on a sandbox, the account's local date otherwise."""
    if sandbox is not None:
        simulated = dt.date.fromisoformat(sandbox["clock"]["date"])
        return lambda _account: simulated

    def local_today(account: AccountRecord) -> dt.date:
        return dt.datetime.now(ZoneInfo(account.timezone)).date()

    return local_today


def guardrails_and_policy(settings: Settings) -> tuple[Guardrails, ApprovalPolicy]:
    """The guardrails `plan` and `execute` apply, and the approval policy, from the ADCLUSTER_GUARDRAIL_*,
    ADCLUSTER_ALLOWED_ACCOUNTS, ADCLUSTER_DRY_RUN, ADCLUSTER_AUTO_APPROVE and ADCLUSTER_PROPOSAL_TTL_HOURS
    settings."""
    try:
        guardrails = Guardrails(
            max_change=settings.guardrail_max_change,
            max_audience_cut=settings.guardrail_max_audience_cut,
            min_bid=settings.guardrail_min_bid,
            max_bid=settings.guardrail_max_bid,
            min_budget=settings.guardrail_min_budget,
            max_budget=settings.guardrail_max_budget,
            min_interval=dt.timedelta(hours=settings.guardrail_min_interval_hours),
            account_daily_caps=settings.guardrail_account_daily_caps,
            allowed_accounts=frozenset(settings.allowed_accounts),
            dry_run=settings.dry_run,
        )
    except ValueError as exc:
        raise SettingsError(f"the ADCLUSTER_GUARDRAIL_* settings are invalid: {exc}") from None
    try:
        policy = ApprovalPolicy(
            **settings.auto_approve,  # type: ignore[arg-type]
            proposal_ttl=dt.timedelta(hours=settings.proposal_ttl_hours),
        )
    except ValueError as exc:
        raise SettingsError(f"ADCLUSTER_AUTO_APPROVE is invalid: {exc}") from None
    return guardrails, policy


def health_config(settings: Settings) -> HealthConfig:
    """The data-health alerts' limits from the ADCLUSTER_ALERT_* and ADCLUSTER_TOKEN_EXPIRY settings."""
    return HealthConfig(
        stale_after=dt.timedelta(hours=settings.alert_stale_hours),
        token_expiry=settings.token_expiry,
        max_pending=settings.alert_max_pending,
    )
