"""The fixed tag vocabulary of creatives, and checks that a model's tags agree with the copy.

Tags exist so that creative analytics can answer "which offer, which emotion, which theme works": a
closed vocabulary (enums in the model's JSON schema) keeps them countable across ads and platforms.
The model tags its own copy; the offer and the language are then checked against the words, and fixed
where the copy says otherwise (the fix is recorded).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, Field

Emotion = Literal["joy", "trust", "urgency", "curiosity", "surprise", "pride", "calm"]
Theme = Literal[
    "price", "quality", "convenience", "social_proof", "novelty", "sustainability", "lifestyle", "expertise"
]
Offer = Literal["discount", "free_shipping", "free_trial", "bundle", "limited_time", "none"]
CtaType = Literal["shop_now", "learn_more", "get_offer", "sign_up", "order_now"]
Language = Literal["en", "es", "fr", "de", "it", "pt", "nl", "ja", "ko", "zh"]
TAG_KINDS = ("emotion", "theme", "product", "offer", "cta_type", "language")

# Each platform's call-to-action enum for a CTA type (Meta, X website cards, TikTok).
PLATFORM_CTA: dict[str, dict[str, str]] = {
    "meta": {
        "shop_now": "SHOP_NOW",
        "learn_more": "LEARN_MORE",
        "get_offer": "GET_OFFER",
        "sign_up": "SIGN_UP",
        "order_now": "ORDER_NOW",
    },
    "x": {
        "shop_now": "SHOP_NOW",
        "learn_more": "LEARN_MORE",
        "get_offer": "SHOP_NOW",
        "sign_up": "SIGN_UP",
        "order_now": "ORDER_NOW",
    },
    "tiktok": {
        "shop_now": "SHOP_NOW",
        "learn_more": "LEARN_MORE",
        "get_offer": "GET_QUOTE",
        "sign_up": "SIGN_UP",
        "order_now": "ORDER_NOW",
    },
}


class Tags(BaseModel):
    emotion: Emotion
    theme: Theme
    product: str = Field(min_length=1, max_length=60)
    offer: Offer
    cta_type: CtaType
    language: Language


_OFFER_WORDS: dict[str, re.Pattern[str]] = {
    "discount": re.compile(r"\d+ ?%|\b(?:off|sale|save|discount|deal)\b", re.IGNORECASE),
    "free_shipping": re.compile(r"\bfree (?:shipping|delivery)\b", re.IGNORECASE),
    "free_trial": re.compile(r"\b(?:free trial|try (?:it )?(?:free|for \d+ days))\b", re.IGNORECASE),
    "bundle": re.compile(r"\b(?:bundle|set of|\d+ ?for ?\d+|buy \w+ get)\b", re.IGNORECASE),
    "limited_time": re.compile(
        r"\b(?:today only|this week only|ends (?:soon|tonight)|limited time)\b", re.IGNORECASE
    ),
}


def _script_language(text: str) -> str | None:
    """The language a script forces (kana: ja, hangul: ko, han alone: zh); None for Latin text."""
    names = [unicodedata.name(c, "") for c in text if c.isalpha()]
    if any("HIRAGANA" in n or "KATAKANA" in n for n in names):
        return "ja"
    if any("HANGUL" in n for n in names):
        return "ko"
    if any("CJK" in n for n in names):
        return "zh"
    return None


def verify_tags(tags: Tags, *texts: str) -> tuple[Tags, list[str]]:
    """The tags with the offer and the language made to agree with the copy, and what was fixed."""
    copy = " ".join(texts)
    fixes: list[str] = []
    stated = [offer for offer, pattern in _OFFER_WORDS.items() if pattern.search(copy)]
    offer = tags.offer
    if offer != "none" and offer not in stated:
        offer = stated[0] if stated else "none"  # type: ignore[assignment]
        fixes.append(f"offer {tags.offer!r} is not in the copy: {offer!r}")
    elif offer == "none" and stated:
        offer = stated[0]  # type: ignore[assignment]
        fixes.append(f"the copy states an offer: {offer!r}")
    language = tags.language
    forced = _script_language(copy)
    if forced is not None and forced != language:
        language = forced  # type: ignore[assignment]
        fixes.append(f"language {tags.language!r} does not match the script: {forced!r}")
    elif forced is None and language in ("ja", "ko", "zh"):
        fixes.append(f"language {tags.language!r} but the copy is in Latin script: 'en'")
        language = "en"
    return tags.model_copy(update={"offer": offer, "language": language}), fixes
