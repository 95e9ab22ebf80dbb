"""The world: every entity of every account, with lookups that fail clearly on unknown ids."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from sandbox.market.config import WorldConfig
from sandbox.market.entities import Account, Ad, AdSet, Campaign, Creative, CustomAudience, Image
from sandbox.market.errors import UnknownEntityError

T = TypeVar("T")


def _get(table: dict[str, T], kind: str, entity_id: str) -> T:
    try:
        return table[entity_id]
    except KeyError:
        raise UnknownEntityError(kind, entity_id) from None


class World(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    config: WorldConfig
    accounts: dict[str, Account] = Field(default_factory=dict)
    campaigns: dict[str, Campaign] = Field(default_factory=dict)
    adsets: dict[str, AdSet] = Field(default_factory=dict)
    ads: dict[str, Ad] = Field(default_factory=dict)
    creatives: dict[str, Creative] = Field(default_factory=dict)
    audiences: dict[str, CustomAudience] = Field(default_factory=dict)
    images: dict[str, Image] = Field(default_factory=dict)  # keyed "<account_id>:<hash>"
    ads_by_adset: dict[str, list[str]] = Field(default_factory=dict)

    def add_account(self, account: Account) -> None:
        self.accounts[account.id] = account

    def add_image(self, image: Image) -> Image:
        """Register an image; an image already known by its hash is returned as it is."""
        return self.images.setdefault(image.key, image)

    def image(self, account_id: str, image_hash: str) -> Image:
        return _get(self.images, "image", f"{account_id}:{image_hash}")

    def add_ad(self, ad: Ad) -> None:
        self.ads[ad.id] = ad
        self.ads_by_adset.setdefault(ad.adset_id, []).append(ad.id)

    def account(self, account_id: str) -> Account:
        return _get(self.accounts, "account", account_id)

    def campaign(self, campaign_id: str) -> Campaign:
        return _get(self.campaigns, "campaign", campaign_id)

    def adset(self, adset_id: str) -> AdSet:
        return _get(self.adsets, "adset", adset_id)

    def ad(self, ad_id: str) -> Ad:
        return _get(self.ads, "ad", ad_id)

    def creative(self, creative_id: str) -> Creative:
        return _get(self.creatives, "creative", creative_id)

    def adsets_of(self, account_id: str) -> list[AdSet]:
        return [s for s in self.adsets.values() if s.account_id == account_id]

    def campaigns_of(self, account_id: str) -> list[Campaign]:
        return [c for c in self.campaigns.values() if c.account_id == account_id]

    def ads_of_adset(self, adset_id: str) -> list[Ad]:
        return [self.ads[i] for i in self.ads_by_adset.get(adset_id, [])]

    def ads_of(self, account_id: str) -> list[Ad]:
        return [a for a in self.ads.values() if a.account_id == account_id]
