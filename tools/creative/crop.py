"""Crops to an aspect ratio: smart (keep the subject whole), pad (letterbox the whole image) or centre.

Smart crop takes the largest window of the aspect that fits in the image (it spans the image's full
height or full width) and slides it along the free axis: among the positions that keep the subject box
whole, with a small margin when there is room, it takes the one holding the most saliency, ties going to
the position that centres the subject. When the subject is larger than that window it does not cut it:
the window grows to the smallest box of the aspect holding the subject, and what falls outside the image
is padded with the image's border colour ("smart+pad").
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict

from tools.creative.decode import flatten
from tools.creative.saliency import Box, Subject, border_colour, find_subject

Strategy = Literal["smart", "pad", "center"]
Method = Literal["smart", "smart+pad", "pad", "center"]

SUBJECT_MARGIN = 0.04  # of the subject's longer side, kept around it when the window allows
_CANDIDATES = 129


class CropPlan(BaseModel):
    """Where to cut: `box` is in source pixels and may reach past the image where it is padded."""

    model_config = ConfigDict(frozen=True)

    box: Box
    method: Method
    pad_colour: tuple[int, int, int]
    subject: Box | None
    source_size: tuple[int, int]

    @property
    def padded(self) -> bool:
        left, top, right, bottom = self.box
        width, height = self.source_size
        return left < 0 or top < 0 or right > width or bottom > height

    @property
    def size(self) -> tuple[int, int]:
        return self.box[2] - self.box[0], self.box[3] - self.box[1]


def parse_aspect(aspect: str | float | tuple[float, float]) -> float:
    """Width / height from '9:16', '1.91:1', (4, 5) or a plain ratio."""
    if isinstance(aspect, str):
        try:
            width, height = (float(part) for part in aspect.split(":"))
        except ValueError:
            raise ValueError(f"aspect {aspect!r} is not of the form W:H") from None
    elif isinstance(aspect, tuple):
        width, height = aspect
    else:
        width, height = float(aspect), 1.0
    if width <= 0 or height <= 0:
        raise ValueError(f"aspect {aspect!r} must be positive")
    return width / height


def _max_window(width: int, height: int, ratio: float) -> tuple[int, int]:
    if width / height > ratio:
        return max(1, min(width, round(height * ratio))), height
    return width, max(1, min(height, round(width / ratio)))


def _clamped(centre: float, span: int, extent: int) -> int:
    lo, hi = min(0, extent - span), max(0, extent - span)
    return round(min(max(centre - span / 2, lo), hi))


def _box_around(region: Box, ratio: float, size: tuple[int, int]) -> Box:
    """The smallest box of `ratio` holding `region`, placed to show as much of the image as it can."""
    left, top, right, bottom = region
    width, height = max(1, right - left), max(1, bottom - top)
    box_w = max(width, round(height * ratio))
    box_h = max(height, round(box_w / ratio))
    box_w = max(box_w, round(box_h * ratio))
    x = _clamped((left + right) / 2, box_w, size[0])
    y = _clamped((top + bottom) / 2, box_h, size[1])
    return x, y, x + box_w, y + box_h


def _best_offset(subject: Subject, axis: str, span: int, lo: int, hi: int, target: float) -> int:
    """Offset in [lo, hi] of a window of `span` px along `axis` holding most saliency, near `target`."""
    if hi <= lo:
        return lo
    positions, cumulative = subject.mass_along(axis)
    offsets = np.unique(np.round(np.linspace(lo, hi, _CANDIDATES)).astype(int))
    mass = np.interp(offsets + span, positions, cumulative) - np.interp(offsets, positions, cumulative)
    off_centre = np.abs(offsets + span / 2 - target) / span
    return int(offsets[int(np.argmax(np.round(mass, 3) - 0.01 * off_centre))])


def _smart(subject: Subject, ratio: float, margin: float) -> tuple[Box, Method]:
    width, height = subject.source_size
    win_w, win_h = _max_window(width, height, ratio)
    axis, span, extent = ("x", win_w, width) if win_w < width else ("y", win_h, height)
    if subject.box is None:
        cx, cy = subject.centroid()
        target = cx if axis == "x" else cy
        offset = _best_offset(subject, axis, span, 0, extent - span, target)
    else:
        left, top, right, bottom = subject.box
        pad = max(2, round(margin * max(right - left, bottom - top)))
        for m in (pad, 0):
            fits = right - left + 2 * m <= win_w and bottom - top + 2 * m <= win_h
            if fits:
                lo_edge, hi_edge = (left, right) if axis == "x" else (top, bottom)
                lo = min(max(hi_edge + m - span, 0), extent - span)
                hi = min(max(lo_edge - m, 0), extent - span)
                offset = _best_offset(subject, axis, span, lo, hi, (lo_edge + hi_edge) / 2)
                break
        else:
            grown = (
                max(0, left - pad),
                max(0, top - pad),
                min(width, right + pad),
                min(height, bottom + pad),
            )
            return _box_around(grown, ratio, subject.source_size), "smart+pad"
    if axis == "x":
        return (offset, 0, offset + win_w, win_h), "smart"
    return (0, offset, win_w, offset + win_h), "smart"


def plan_crop(
    image: Image.Image,
    aspect: str | float | tuple[float, float],
    *,
    strategy: Strategy = "smart",
    subject: Subject | None = None,
    margin: float = SUBJECT_MARGIN,
) -> CropPlan:
    """Decide the crop box for `aspect`; pass `subject` to reuse one saliency pass for many aspects."""
    ratio = parse_aspect(aspect)
    size = (image.width, image.height)
    if strategy == "smart":
        subject = subject or find_subject(image)
        box, method = _smart(subject, ratio, margin)
        return CropPlan(
            box=box, method=method, pad_colour=subject.background, subject=subject.box, source_size=size
        )
    colour = subject.background if subject else border_colour(image)
    if strategy == "pad":
        box = _box_around((0, 0, *size), ratio, size)
        return CropPlan(box=box, method="pad", pad_colour=colour, subject=None, source_size=size)
    if strategy == "center":
        win_w, win_h = _max_window(*size, ratio)
        left, top = (size[0] - win_w) // 2, (size[1] - win_h) // 2
        box = (left, top, left + win_w, top + win_h)
        return CropPlan(box=box, method="center", pad_colour=colour, subject=None, source_size=size)
    raise ValueError(f"unknown crop strategy {strategy!r}; use smart, pad or center")


def apply_plan(image: Image.Image, plan: CropPlan, size: tuple[int, int] | None = None) -> Image.Image:
    """Cut (and pad) the image as planned, then resize to `size` if given. Returns RGB."""
    rgb = flatten(image, plan.pad_colour)
    left, top, right, bottom = plan.box
    inner = (max(0, left), max(0, top), min(rgb.width, right), min(rgb.height, bottom))
    if plan.padded:
        out = Image.new("RGB", plan.size, plan.pad_colour)
        out.paste(rgb.crop(inner), (inner[0] - left, inner[1] - top))
    else:
        out = rgb.crop(inner)
    if size is not None and out.size != size:
        out = out.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return out


def crop_for(
    image: Image.Image,
    aspect: str | float | tuple[float, float],
    *,
    strategy: Strategy = "smart",
    size: tuple[int, int] | None = None,
) -> Image.Image:
    """The image cut to `aspect` by `strategy` (smart keeps the subject whole, padding if it must)."""
    return apply_plan(image, plan_crop(image, aspect, strategy=strategy), size)
