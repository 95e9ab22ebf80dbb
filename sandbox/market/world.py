"""The world: every entity of every account, with lookups that fail clearly on unknown ids."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sandbox.market.config import WorldConfig
from sandbox.market.entities import Account, Ad, AdSet, Campaign, Creative, CustomAudience
from sandbox.market.errors import UnknownEntityError


class World(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    config: WorldConfig
    accounts: dict[str, Account] = Field(default_factory=dict)
    campaigns: dict[str, Campaign] = Field(default_factory=dict)
    adsets: dict[str, AdSet] = Field(default_factory=dict)
    ads: dict[str, Ad] = Field(default_factory=dict)
    creatives: dict[str, Creative] = Field(default_factory=dict)
    audiences: dict[str, CustomAudience] = Field(default_factory=dict)
    ads_by_adset: dict[str, list[str]] = Field(default_factory=dict)

    def add_account(self, account: Account) -> None:
        self.accounts[account.id] = account

    def add_ad(self, ad: Ad) -> None:
        self.ads[ad.id] = ad
        self.ads_by_adset.setdefault(ad.adset_id, []).append(ad.id)

    def account(self, account_id: str) -> Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise UnknownEntityError("account", account_id) from None

    def campaign(self, campaign_id: str) -> Campaign:
        try:
            return self.campaigns[campaign_id]
        except KeyError:
            raise UnknownEntityError("campaign", campaign_id) from None

    def adset(self, adset_id: str) -> AdSet:
        try:
            return self.adsets[adset_id]
        except KeyError:
            raise UnknownEntityError("adset", adset_id) from None

    def ad(self, ad_id: str) -> Ad:
        try:
            return self.ads[ad_id]
        except KeyError:
            raise UnknownEntityError("ad", ad_id) from None

    def creative(self, creative_id: str) -> Creative:
        try:
            return self.creatives[creative_id]
        except KeyError:
            raise UnknownEntityError("creative", creative_id) from None

    def adsets_of(self, account_id: str) -> list[AdSet]:
        return [s for s in self.adsets.values() if s.account_id == account_id]

    def campaigns_of(self, account_id: str) -> list[Campaign]:
        return [c for c in self.campaigns.values() if c.account_id == account_id]

    def ads_of_adset(self, adset_id: str) -> list[Ad]:
        return [self.ads[i] for i in self.ads_by_adset.get(adset_id, [])]

    def ads_of(self, account_id: str) -> list[Ad]:
        return [a for a in self.ads.values() if a.account_id == account_id]
