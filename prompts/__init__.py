"""Prompt templates, one plain-text file per prompt, loaded by name."""

from __future__ import annotations

from functools import cache
from importlib import resources


class PromptNotFoundError(LookupError):
    pass


@cache
def load(name: str) -> str:
    """The template `prompts/<name>.txt` (fields in {braces}, for str.format)."""
    path = resources.files(__package__).joinpath(f"{name}.txt")
    if not path.is_file():
        raise PromptNotFoundError(f"no prompt template {name!r} in prompts/")
    return path.read_text(encoding="utf-8")
