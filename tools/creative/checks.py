"""Checks of an image file against a placement's rules, and re-encoding to meet them where possible.

`check_image` names every rule an image file breaks: file type (as decoded, not by extension), file size,
aspect ratio (within the placement's tolerance) and dimensions for the matched (or nearest) aspect.
`conform_image` repairs what it can: a smart crop to the nearest accepted aspect, an upscale to the
minimum size (reported, since it softens the picture), then JPEG or PNG within the size limit, lowering
JPEG quality and then the pixel count (never below the minimum). What cannot be repaired stays in the
returned check.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from PIL import Image
from pydantic import BaseModel, Field, computed_field

from tools.creative.crop import crop_for
from tools.creative.decode import DEFAULT_MAX_PIXELS, FileSource, ImageSource, encode, load_image, read_source
from tools.creative.specs import AspectRule, ImageRule, aspect_distance, image_rule, nearest_aspect

_SAME_FORMAT = {"MPO": "JPEG"}  # multi-picture JPEGs from cameras are JPEG files
JPEG_QUALITIES = (92, 85, 78, 70, 62, 55, 48, 40)


class RuleName(StrEnum):
    FILE_TYPE = "file_type"
    FILE_SIZE = "file_size"
    ASPECT_RATIO = "aspect_ratio"
    MIN_DIMENSIONS = "min_dimensions"
    MAX_DIMENSIONS = "max_dimensions"
    DURATION = "duration"
    VIDEO_CODEC = "video_codec"
    AUDIO_CODEC = "audio_codec"
    FRAME_RATE = "frame_rate"
    BITRATE = "bitrate"


class Violation(BaseModel):
    rule: RuleName
    message: str
    actual: str
    limit: str


class CheckResult(BaseModel):
    platform: str
    placement: str
    kind: Literal["image", "video"]
    format: str
    width: int
    height: int
    byte_size: int
    aspect: str | None = Field(description="The accepted aspect the asset matches, None if none")
    violations: list[Violation] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return not self.violations

    def broken(self) -> set[RuleName]:
        return {v.rule for v in self.violations}


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB"


def geometry_violations(
    width: int,
    height: int,
    aspects: tuple[AspectRule, ...],
    tolerance: float,
    max_size: tuple[int, int] | None,
) -> tuple[str | None, list[Violation]]:
    """The matched aspect (None if none) and the aspect and dimension rules the size breaks."""
    ratio = width / height
    nearest = nearest_aspect(ratio, aspects)
    matched = nearest if aspect_distance(ratio, nearest) <= tolerance else None
    out: list[Violation] = []
    if matched is None:
        accepted = ", ".join(a.name for a in aspects)
        out.append(
            Violation(
                rule=RuleName.ASPECT_RATIO,
                message=f"aspect {ratio:.3f} is not one of {accepted} (within {tolerance:.0%})",
                actual=f"{ratio:.3f}",
                limit=accepted,
            )
        )
    min_w, min_h = nearest.min_size
    if width < min_w or height < min_h:
        out.append(
            Violation(
                rule=RuleName.MIN_DIMENSIONS,
                message=f"{width}x{height} is below the {nearest.name} minimum of {min_w}x{min_h}",
                actual=f"{width}x{height}",
                limit=f">= {min_w}x{min_h}",
            )
        )
    if max_size and (width > max_size[0] or height > max_size[1]):
        out.append(
            Violation(
                rule=RuleName.MAX_DIMENSIONS,
                message=f"{width}x{height} is above the maximum of {max_size[0]}x{max_size[1]}",
                actual=f"{width}x{height}",
                limit=f"<= {max_size[0]}x{max_size[1]}",
            )
        )
    return (matched.name if matched else None), out


def check_image(
    source: FileSource,
    platform: str,
    placement: str,
    *,
    rule: ImageRule | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> CheckResult:
    """Every rule of `platform`/`placement` that this image file breaks (bytes or a path).

    Bad input raises a typed `CreativeError`: corrupt bytes, unsupported formats, too many pixels,
    an image too small to be an ad (under `decode.MIN_SIDE` px a side).
    """
    rule = rule or image_rule(platform, placement)
    if isinstance(source, Image.Image):
        raise TypeError("check_image checks a file: pass its bytes or path, not a decoded image")
    data = read_source(source)
    loaded = load_image(data, max_pixels=max_pixels)
    fmt = _SAME_FORMAT.get(loaded.format, loaded.format)
    violations: list[Violation] = []
    if fmt not in rule.formats:
        accepted = ", ".join(sorted(rule.formats))
        violations.append(
            Violation(
                rule=RuleName.FILE_TYPE,
                message=f"{fmt} files are not accepted; use {accepted}",
                actual=fmt,
                limit=accepted,
            )
        )
    if len(data) > rule.max_bytes:
        violations.append(
            Violation(
                rule=RuleName.FILE_SIZE,
                message=f"{_mb(len(data))} is over the {_mb(rule.max_bytes)} limit",
                actual=str(len(data)),
                limit=f"<= {rule.max_bytes}",
            )
        )
    aspect, geometry = geometry_violations(
        loaded.width, loaded.height, rule.aspects, rule.aspect_tolerance, rule.max_size
    )
    return CheckResult(
        platform=rule.platform,
        placement=rule.placement,
        kind="image",
        format=fmt,
        width=loaded.width,
        height=loaded.height,
        byte_size=len(data),
        aspect=aspect,
        violations=violations + geometry,
        notes=loaded.notes,
    )


class ConformedImage(BaseModel):
    data: bytes = Field(repr=False)
    format: str
    check: CheckResult
    actions: list[str] = Field(default_factory=list, description="What was changed, in order")


def _fit_geometry(image: Image.Image, rule: ImageRule, actions: list[str]) -> Image.Image:
    ratio = image.width / image.height
    aspect = nearest_aspect(ratio, rule.aspects)
    if aspect_distance(ratio, aspect) > rule.aspect_tolerance:
        image = crop_for(image, aspect.name, strategy="smart")
        actions.append(f"smart-cropped to {aspect.name} ({image.width}x{image.height})")
    min_w, min_h = aspect.min_size
    scale = max(min_w / image.width, min_h / image.height, 1.0)
    if rule.max_size:
        scale = min(scale, rule.max_size[0] / image.width, rule.max_size[1] / image.height)
    if abs(scale - 1.0) > 1e-9:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
        verb = "upscaled (softer picture)" if scale > 1 else "downscaled"
        actions.append(f"{verb} x{scale:.2f} to {size[0]}x{size[1]}")
    return image


def _attempts(formats: list[str]) -> list[tuple[str, int]]:
    return [(fmt, q) for fmt in formats for q in (JPEG_QUALITIES if fmt == "JPEG" else (0,))]


def _encode_within(image: Image.Image, rule: ImageRule, prefer: str, actions: list[str]) -> tuple[bytes, str]:
    """Bytes in an accepted format within the size limit if possible, else the smallest tried."""
    formats = list(dict.fromkeys(f for f in (prefer, "PNG", "JPEG") if f in rule.formats)) or sorted(
        rule.formats
    )
    min_w, min_h = nearest_aspect(image.width / image.height, rule.aspects).min_size
    best: tuple[bytes, str] | None = None
    current = image
    while True:
        for fmt, quality in _attempts(formats):
            data = encode(current, fmt, quality=quality or 90)
            if best is None or len(data) < len(best[0]):
                best = (data, fmt)
            if len(data) <= rule.max_bytes:
                actions.append(f"encoded as JPEG quality {quality}" if fmt == "JPEG" else f"encoded as {fmt}")
                return data, fmt
        size = (round(current.width * 0.8), round(current.height * 0.8))
        if size[0] < min_w or size[1] < min_h:
            actions.append("could not meet the size limit without going below the minimum dimensions")
            assert best is not None  # at least one encoding was tried
            return best
        current = image.resize(size, Image.Resampling.LANCZOS)
        actions.append(f"downscaled to {size[0]}x{size[1]} to meet the size limit")


def conform_image(
    source: ImageSource,
    platform: str,
    placement: str,
    *,
    rule: ImageRule | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ConformedImage:
    """A file that meets the placement's rules where that is possible; the check says what remains.

    A file that already passes is returned unchanged. Takes bytes, a path or a decoded image.
    """
    rule = rule or image_rule(platform, placement)
    data = b""
    if not isinstance(source, Image.Image):
        data = read_source(source)
        first = check_image(data, platform, placement, rule=rule, max_pixels=max_pixels)
        if first.ok:
            return ConformedImage(data=data, format=first.format, check=first)
    loaded = load_image(source if isinstance(source, Image.Image) else data, max_pixels=max_pixels)
    actions: list[str] = []
    image = _fit_geometry(loaded.image, rule, actions)
    source_format = _SAME_FORMAT.get(loaded.format, loaded.format)
    too_big = bool(data) and len(data) > rule.max_bytes
    if image.mode == "RGBA" and "PNG" in rule.formats:
        prefer = "PNG"  # keep the transparency
    elif source_format in rule.formats and not too_big:
        prefer = source_format
    else:
        prefer = "JPEG"  # a photo over the limit: JPEG, whatever it came as
    if prefer != source_format and source_format:
        actions.append(f"{source_format} converted to {prefer}")
    out, fmt = _encode_within(image, rule, prefer, actions)
    check = check_image(out, platform, placement, rule=rule, max_pixels=max_pixels)
    return ConformedImage(data=out, format=fmt, check=check, actions=actions)
