"""Each platform's limits on ad copy, how they count characters, and repair by trimming.

Sources: Meta's Ads Guide (primary text shows about 125 characters before "see more", headlines about
40; the API accepts more, but longer copy is cut on screen, so these are the product's limits); X's
counting rules (280 weighted characters per post; CJK and emoji weigh 2; a card headline of 70);
TikTok's ad text (1-100 characters, double-width characters count 2, emoji stripped by some
placements, so refused here).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel

Platform = Literal["meta", "x", "tiktok"]
Field = Literal["headline", "primary_text"]


class CopyLimit(BaseModel):
    max_weight: int
    min_weight: int = 1
    emoji_allowed: bool = True
    wide_counts_double: bool = False


LIMITS: dict[Platform, dict[Field, CopyLimit]] = {
    "meta": {"headline": CopyLimit(max_weight=40), "primary_text": CopyLimit(max_weight=125)},
    "x": {
        "headline": CopyLimit(max_weight=70, wide_counts_double=True),  # website card headline
        "primary_text": CopyLimit(max_weight=280, wide_counts_double=True),  # the post's text
    },
    "tiktok": {
        # TikTok has one ad text; the headline is carried as the start of the same caption.
        "headline": CopyLimit(max_weight=40, emoji_allowed=False, wide_counts_double=True),
        "primary_text": CopyLimit(max_weight=100, emoji_allowed=False, wide_counts_double=True),
    },
}
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\U00002b00-\U00002bff\ufe0f\u200d]"
)
_DANGLING = {"a", "an", "the", "and", "or", "for", "to", "of", "with", "your", "our", "in", "on", "at", "by"}
_LABEL = re.compile(r"^(?:headline|primary[ _]text|text|body|caption|ad text)\s*:\s*", re.IGNORECASE)
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]")


def weight(text: str, *, wide_counts_double: bool) -> int:
    """Characters as the platform counts them: wide (CJK) and emoji count 2 where it says so."""
    if not wide_counts_double:
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") or _EMOJI.match(c) else 1 for c in text)


class CopyProblem(BaseModel):
    field: Field
    rule: str
    detail: str


def check_copy(platform: Platform, field: Field, text: str) -> list[CopyProblem]:
    limit = LIMITS[platform][field]
    problems = []
    w = weight(text, wide_counts_double=limit.wide_counts_double)
    if w < limit.min_weight or not text.strip():
        problems.append(CopyProblem(field=field, rule="empty", detail=f"{field} is empty"))
    if w > limit.max_weight:
        problems.append(
            CopyProblem(
                field=field, rule="too_long", detail=f"{field} counts {w} of {limit.max_weight} allowed"
            )
        )
    if not limit.emoji_allowed and _EMOJI.search(text):
        problems.append(
            CopyProblem(field=field, rule="emoji", detail=f"{platform} {field} does not allow emoji")
        )
    if _LABEL.match(text):
        problems.append(CopyProblem(field=field, rule="label", detail=f"{field} starts with a field label"))
    if _CONTROL.search(text):
        problems.append(
            CopyProblem(field=field, rule="control", detail=f"{field} has control or direction characters")
        )
    return problems


def repair_copy(platform: Platform, field: Field, text: str) -> str:
    """The text made to fit: control characters and (where refused) emoji removed, spaces collapsed, and
    cut at the last word boundary that fits, without a dangling punctuation mark."""
    limit = LIMITS[platform][field]
    text = _CONTROL.sub("", text)
    if not limit.emoji_allowed:
        text = _EMOJI.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = _LABEL.sub("", text)  # small models echo the field's name: "Headline: ..."
    if weight(text, wide_counts_double=limit.wide_counts_double) <= limit.max_weight:
        return text
    cut = ""
    for word in text.split(" "):
        candidate = f"{cut} {word}".strip()
        if weight(candidate, wide_counts_double=limit.wide_counts_double) > limit.max_weight:
            break
        cut = candidate
    if not cut:  # one long word (or unspaced CJK): cut by characters
        for ch in text:
            if weight(cut + ch, wide_counts_double=limit.wide_counts_double) > limit.max_weight:
                break
            cut += ch
    words = cut.rstrip(" ,;:-–—").split(" ")
    while len(words) > 1 and words[-1].lower() in _DANGLING:  # "The ultimate mat for" reads broken
        words.pop()
    return " ".join(words).rstrip(" ,;:-–—")


_ECHO = re.compile(
    r"\b(?:at most \d+|\d+ characters|no more than \d+|rule:|should add|premise:)|https?:\s*$", re.IGNORECASE
)
_FIRST_PERSON = re.compile(r"^\s*i (?:am|have|was|will)\b", re.IGNORECASE)
_META_TALK = re.compile(
    r"\b(?:headline|primary text|ad copy|this ad|the ad is|call to action|cta)\b", re.IGNORECASE
)


def normal_words(text: str) -> str:
    """Lower-case words separated by single spaces: the text that comparisons of copy look at."""
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


def check_quality(headline: str, text: str) -> list[str]:
    """What makes copy unusable whatever the platform: it talks about the ad instead of the product,
    repeats itself, or shouts. Small models do all three."""
    problems = []
    both = f"{headline} {text}"
    if _META_TALK.search(both):
        problems.append(f"talks about the ad, not the product ({_META_TALK.search(both).group(0)!r})")  # type: ignore[union-attr]
    if _ECHO.search(both):
        problems.append("echoes the instructions")
    if _FIRST_PERSON.search(text) or _FIRST_PERSON.search(headline):
        problems.append("speaks as a person, not as the brand")
    if normal_words(headline) == normal_words(text):
        problems.append("the headline repeats the text")
    words = re.findall(r"\w+", both.lower())
    grams = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    if grams and max(grams.count(g) for g in set(grams)) >= 3:
        problems.append("repeats itself")
    letters = [c for c in headline if c.isalpha()]
    if len(letters) >= 10 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        problems.append("the headline shouts in capitals")
    return problems
