"""Image assets for every platform: one source image in, each placement's size and aspect out.

`variants_for_platforms` makes, for each platform's placements and accepted aspects
(`tools.creative.specs`), an image at the recommended size by smart crop (or pad), with its metadata:
where it was cut, how, and whether it had to be upscaled. `process_images` runs a batch: each item's
variants are encoded to meet the placement's file rules, and an item that fails (corrupt, unsupported,
too large, too small) is reported with its error while the rest of the batch goes on.

The parts live by job: `decode` (safe loading), `saliency` (where the subject is), `crop`, `overlay`
(text and CTA button), `background` (colour swap), `checks` (rules and re-encoding).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, computed_field

from tools.creative.checks import CheckResult, conform_image
from tools.creative.crop import Method, Strategy, apply_plan, crop_for, plan_crop
from tools.creative.decode import DEFAULT_MAX_PIXELS, ImageSource, LoadedImage, encode, load_image
from tools.creative.errors import CreativeError, ItemError
from tools.creative.saliency import Box, find_subject
from tools.creative.specs import image_placements, image_rule, resolve_platforms

__all__ = [
    "ImageItemResult",
    "ImageVariant",
    "ItemError",
    "VariantFile",
    "crop_for",
    "load_image",
    "process_images",
    "variants_for_platforms",
]


class ImageVariant(BaseModel):
    """One placement-sized image and how it was made; `image` is left out of dumps."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    platform: str
    placement: str
    aspect: str = Field(description="Aspect name, e.g. '9:16'")
    size: tuple[int, int]
    method: Method
    crop_box: Box = Field(description="Cut in source pixels; past the image edges where padded")
    subject_box: Box | None = Field(description="Subject found in the source, None if none stood out")
    scale: float = Field(description="Output pixels per source pixel")
    upscaled: bool
    image: Image.Image = Field(exclude=True, repr=False)

    def encode(self, fmt: str = "JPEG", *, quality: int = 90) -> bytes:
        return encode(self.image, fmt, quality=quality)


def variants_for_platforms(
    image: ImageSource | LoadedImage,
    platforms: str | Iterable[str] = "all",
    *,
    strategy: Strategy = "smart",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[ImageVariant]:
    """Every placement and aspect of `platforms` ('all', a name, a comma list or names) from one image."""
    loaded = image if isinstance(image, LoadedImage) else load_image(image, max_pixels=max_pixels)
    source = loaded.image
    names = resolve_platforms(platforms if isinstance(platforms, str) else tuple(platforms))
    subject = find_subject(source) if strategy in {"smart", "pad"} else None
    variants: list[ImageVariant] = []
    for platform in names:
        for placement in image_placements(platform):
            for aspect in image_rule(platform, placement).aspects:
                plan = plan_crop(source, aspect.name, strategy=strategy, subject=subject)
                scale = aspect.recommended[0] / plan.size[0]
                variants.append(
                    ImageVariant(
                        platform=platform,
                        placement=placement,
                        aspect=aspect.name,
                        size=aspect.recommended,
                        method=plan.method,
                        crop_box=plan.box,
                        subject_box=plan.subject,
                        scale=round(scale, 4),
                        upscaled=scale > 1.0,
                        image=apply_plan(source, plan, aspect.recommended),
                    )
                )
    return variants


class VariantFile(BaseModel):
    """A variant encoded to meet its placement's file rules, with the final check."""

    variant: ImageVariant
    format: str
    data: bytes = Field(repr=False, exclude=True)
    check: CheckResult
    actions: list[str]


class ImageItemResult(BaseModel):
    name: str
    files: list[VariantFile] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    error: ItemError | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.error is None


def process_images(
    items: Mapping[str, ImageSource] | Iterable[tuple[str, ImageSource]],
    platforms: str | Iterable[str] = "all",
    *,
    strategy: Strategy = "smart",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[ImageItemResult]:
    """Variants for each named image, encoded within each placement's rules; one error per bad item."""
    pairs = items.items() if isinstance(items, Mapping) else items
    names = resolve_platforms(platforms if isinstance(platforms, str) else tuple(platforms))
    results: list[ImageItemResult] = []
    for name, source in pairs:
        try:
            loaded = load_image(source, max_pixels=max_pixels)
            files = []
            for variant in variants_for_platforms(loaded, names, strategy=strategy):
                fitted = conform_image(variant.image, variant.platform, variant.placement)
                files.append(
                    VariantFile(
                        variant=variant,
                        format=fitted.format,
                        data=fitted.data,
                        check=fitted.check,
                        actions=fitted.actions,
                    )
                )
        except CreativeError as exc:
            results.append(ImageItemResult(name=name, error=ItemError.of(exc)))
            continue
        results.append(ImageItemResult(name=name, files=files, notes=loaded.notes))
    return results
