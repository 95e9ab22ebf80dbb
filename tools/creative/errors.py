"""Typed errors for bad creative input: each names what is wrong with one item, with a stable code.

A batch catches `CreativeError` per item and reports its `code` and message; anything else is a bug and
propagates.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel


class CreativeError(Exception):
    """One asset could not be processed; `code` is stable for reports, the message says why."""

    code: ClassVar[str] = "creative_error"


class MissingFileError(CreativeError, FileNotFoundError):
    """No file at the given path."""

    code = "not_found"


class CorruptMediaError(CreativeError):
    """The bytes claim to be an image or video but cannot be decoded (truncated, damaged, empty)."""

    code = "corrupt"


class UnsupportedFormatError(CreativeError):
    """A readable file of a kind this studio does not take (PDF, SVG, HEIC, audio, a still as video)."""

    code = "unsupported_format"


class ImageTooLargeError(CreativeError):
    """More pixels than the limit: a decompression bomb or a photo far beyond any ad size."""

    code = "too_many_pixels"


class ImageTooSmallError(CreativeError):
    """Too few pixels to make an ad from (a 1x1 tracking pixel, an icon)."""

    code = "too_small"


class NoBackgroundError(CreativeError):
    """No plain background could be told apart from the subject, so it cannot be swapped."""

    code = "no_background"


class TextDoesNotFitError(CreativeError):
    """The text does not fit its box even at the smallest allowed font size."""

    code = "text_does_not_fit"


class UnsupportedCharactersError(CreativeError):
    """The bundled font has no glyph for some characters; rendering them would show empty boxes."""

    code = "unsupported_characters"


class ProbeFailedError(CreativeError):
    """The video probe (ffmpeg) could not be run or did not answer in time."""

    code = "probe_failed"


class UnknownPlacementError(CreativeError, ValueError):
    """A platform or placement that has no rules in `tools.creative.specs`."""

    code = "unknown_placement"


class ItemError(BaseModel):
    """One batch item's failure, as reported alongside the items that succeeded."""

    code: str
    message: str

    @classmethod
    def of(cls, exc: CreativeError) -> ItemError:
        return cls(code=exc.code, message=str(exc))
