"""Ad policy checks on generated copy, before anything is proposed: the rules all three platforms
enforce and that a model is most likely to break.

- Personal attributes: copy must not assert or imply the reader's health, finances, race, religion,
  sexuality, age or other personal traits ("Are you overweight?", "other seniors like you").
- No guaranteed or unrealistic results ("guaranteed", "100% results", "risk-free", "instant").
- No health claims ("miracle", "headache relief", "clinically proven", "boosts immunity").
- Prohibited content: weapons, drugs, tobacco and vaping, gambling, adult content, counterfeit goods.
- Text that reads as instructions to a model or a system (prompt injection carried into copy).

A failed check names the rule and the words that triggered it; the variant is dropped with that reason.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

# Traits copy must not attribute to the reader (Meta's personal-attributes policy, and X's and TikTok's).
_TRAITS = (
    "overweight|fat|obese|depressed|anxious|diabetic|broke|in debt|single|divorced|gay|lesbian|christian"
    "|muslim|jewish|pregnant|old|bald|ugly|lonely|sick|disabled"
)
_GROUPS = "seniors|diabetics|christians|muslims|jews|gays|singles|veterans|moms|dads"
_OWN = (
    "debt|credit score|weight problem|disability|illness|diagnosis|depression|sexual orientation|religion"
    "|ethnicity"
)
_RULES: dict[str, list[str]] = {
    "personal_attributes": [
        rf"\bare you (?:\w+ )?(?:{_TRAITS})\b",
        rf"\b(?:other|fellow) (?:{_GROUPS}) like you\b",
        rf"\byour (?:{_OWN})\b",
        r"\bknow you(?:'re| are) (?:struggling|sick|broke|single|overweight)\b",
    ],
    "guaranteed_results": [
        r"\bguarantee(?:d|s)?\b",
        r"\b100 ?% (?:results|effective|success|cure|satisfaction guaranteed)\b",
        r"\brisk[- ]free\b",
        r"\b(?:instant|overnight|permanent) (?:results|weight loss|cure|wealth)\b",
        r"\blose \d+ ?(?:lbs|pounds|kg|kilos) in \d+ ?(?:days|weeks)\b",
        r"\b(?:get rich|make \$?\d[\d,]* (?:a|per) (?:day|week))\b",
        r"\bcures?\b",
    ],
    "health_claims": [
        r"\bmiracle\b",
        r"\b(?:headache|pain|anxiety|stress|acne|joint|migraine|arthritis) relief\b",
        r"\b(?:medicine|medical grade|clinically proven|doctor[- ]approved|heals?|treats?|prevents?) ",
        r"\bboosts? (?:your )?immun",
    ],
    "prohibited_content": [
        r"\b(?:guns?|firearms?|ammunition|ammo|explosives?)\b",
        r"\b(?:cocaine|heroin|meth|cannabis|marijuana|weed|cbd|opioids?)\b",
        r"\b(?:cigarettes?|tobacco|vapes?|vaping|e-cig(?:arette)?s?)\b",
        r"\b(?:casino|betting|gamble|gambling|poker)\b",
        r"\b(?:porn|xxx|escort|nude)\b",
        r"\b(?:replica|counterfeit|knock-?offs?)\b",
    ],
    "instructions_to_a_model": [
        r"\bignore (?:all |the )?(?:previous|prior|above) (?:instructions|rules)\b",
        r"\b(?:system prompt|you are (?:now )?an? (?:ai|assistant|language model))\b",
        r"<\s*/?\s*(?:script|system|assistant|user)\b",
    ],
}
_COMPILED = {rule: [re.compile(p, re.IGNORECASE) for p in patterns] for rule, patterns in _RULES.items()}


class PolicyViolation(BaseModel):
    rule: str
    words: str


def check_policy(*texts: str) -> list[PolicyViolation]:
    """Every rule a text breaks, with the words that broke it (empty when the copy is clean)."""
    found: list[PolicyViolation] = []
    for text in texts:
        for rule, patterns in _COMPILED.items():
            for pattern in patterns:
                match = pattern.search(text)
                if match:
                    found.append(PolicyViolation(rule=rule, words=match.group(0)))
                    break
    return found
