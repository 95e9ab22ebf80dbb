"""Where the subject of an image is: a saliency map and the subject's bounding box, in numpy.

Three cues, chosen by what the image offers:
- transparency: when a PNG has a transparent background, its alpha channel is the subject mask;
- colour distance from the background: the background colour is the median of a ring of border pixels;
  when that ring is plain (its pixels agree), every pixel far from it belongs to the subject;
- spectral residual (Hou & Zhang, CVPR 2007): for busy backgrounds, the log-amplitude spectrum minus its
  local average, brought back with the original phase, marks what stands out from the image's own
  statistics. It is blended with the colour distance.

The map is computed at a small working size (`WORK_SIDE`), so it costs a few milliseconds at any source
size. The box is the union of the large connected parts of the thresholded map, grown back to the thin
pieces attached to them (a handle, a strap), in source pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from tools.creative.decode import flatten

WORK_SIDE = 160
PLAIN_SPREAD = 30.0  # 90th percentile colour distance (RGB units, 0..441) within the border ring
MIN_SUBJECT_SHARE = 0.0005
MAX_SUBJECT_SHARE_PLAIN = 0.9
MAX_SUBJECT_SHARE_BUSY = 0.6

Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)


@dataclass(frozen=True)
class Subject:
    box: Box | None  # None when no distinct subject stands out (a full-bleed photo)
    saliency: np.ndarray  # working-size map, float in [0, 1]
    source_size: tuple[int, int]
    background: tuple[int, int, int]  # median border colour: the padding colour
    plain_background: bool
    cue: str  # "alpha", "colour", "colour+spectral"

    def mass_along(self, axis: str) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative saliency mass along x or y, and the source-pixel positions it is sampled at."""
        profile = self.saliency.sum(axis=0 if axis == "x" else 1).astype(float)
        total = profile.sum()
        profile = profile / total if total > 0 else np.full_like(profile, 1.0 / profile.size)
        extent = self.source_size[0 if axis == "x" else 1]
        positions = np.linspace(0.0, float(extent), profile.size + 1)
        return positions, np.concatenate([[0.0], np.cumsum(profile)])

    def centroid(self) -> tuple[float, float]:
        weights = self.saliency.astype(float)
        total = weights.sum()
        height, width = weights.shape
        if total <= 0:
            return self.source_size[0] / 2, self.source_size[1] / 2
        ys, xs = np.indices(weights.shape)
        cx = (weights * (xs + 0.5)).sum() / total * self.source_size[0] / width
        cy = (weights * (ys + 0.5)).sum() / total * self.source_size[1] / height
        return float(cx), float(cy)


def _ring(arr: np.ndarray) -> np.ndarray:
    height, width = arr.shape[:2]
    k = max(2, round(0.04 * min(height, width)))
    parts = [arr[:k].reshape(-1, 3), arr[-k:].reshape(-1, 3), arr[k:-k, :k].reshape(-1, 3)]
    parts.append(arr[k:-k, -k:].reshape(-1, 3))
    return np.concatenate(parts)


def _working(image: Image.Image) -> Image.Image:
    small = image.copy()
    small.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    return small


def border_colour(image: Image.Image) -> tuple[int, int, int]:
    """Median colour of the image's outer ring: the colour to pad with."""
    arr = np.asarray(flatten(_working(image)), dtype=np.float32)
    return tuple(round(float(v)) for v in np.median(_ring(arr), axis=0))  # type: ignore[return-value]


def background_distance(image: Image.Image) -> tuple[np.ndarray, tuple[int, int, int], float]:
    """Per-pixel colour distance from the border colour, the border colour and the ring's spread."""
    arr = np.asarray(flatten(image), dtype=np.float32)
    ring = _ring(arr)
    background = np.median(ring, axis=0)
    spread = float(np.percentile(np.linalg.norm(ring - background, axis=1), 90))
    distance = np.linalg.norm(arr - background, axis=2)
    colour = tuple(round(float(v)) for v in background)
    return distance, colour, spread  # type: ignore[return-value]


def spectral_residual(gray: np.ndarray, side: int = 64) -> np.ndarray:
    """Spectral-residual saliency of a grayscale array, returned at the array's own size in [0, 1]."""
    height, width = gray.shape
    small = np.asarray(Image.fromarray(gray.astype(np.float32)).resize((side, side)), dtype=float)
    spectrum = np.fft.fft2(small)
    log_amplitude = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amplitude - ndimage.uniform_filter(log_amplitude, size=3, mode="nearest")
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = ndimage.gaussian_filter(saliency, sigma=2.5)
    out = np.asarray(Image.fromarray(saliency.astype(np.float32)).resize((width, height)))
    return _normalised(out)


def _normalised(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    return np.zeros_like(values, dtype=np.float32) if hi - lo < 1e-9 else ((values - lo) / (hi - lo))


def otsu_threshold(values: np.ndarray, bins: int = 64) -> float:
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    mean_low = np.cumsum(hist * centres) / np.maximum(weight_low, 1)
    mean_high = ((hist * centres).sum() - np.cumsum(hist * centres)) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centres[int(np.argmax(between))])


def _subject_mask(mask: np.ndarray) -> np.ndarray:
    """The large connected parts of `mask`, plus the thin pieces of the raw mask that touch them."""
    opened = ndimage.binary_opening(mask, structure=np.ones((3, 3)))
    labels, count = ndimage.label(opened)
    if count == 0:
        return opened
    areas = ndimage.sum(opened, labels, index=np.arange(1, count + 1))
    keep = np.flatnonzero(areas >= 0.15 * areas.max()) + 1
    core = np.isin(labels, keep)
    raw_labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    touching = np.unique(raw_labels[core & mask])
    return np.isin(raw_labels, touching[touching > 0]) | core


def _box_in_source(mask: np.ndarray, source_size: tuple[int, int]) -> Box:
    ys, xs = np.nonzero(mask)
    height, width = mask.shape
    sx, sy = source_size[0] / width, source_size[1] / height
    left = max(0, int(np.floor((xs.min() - 0.5) * sx)))
    top = max(0, int(np.floor((ys.min() - 0.5) * sy)))
    right = min(source_size[0], int(np.ceil((xs.max() + 1.5) * sx)))
    bottom = min(source_size[1], int(np.ceil((ys.max() + 1.5) * sy)))
    return left, top, right, bottom


def find_subject(image: Image.Image) -> Subject:
    """The subject's box and the saliency map of a Pillow image (RGB or RGBA)."""
    small = _working(image)
    size = (image.width, image.height)
    if small.mode == "RGBA":
        alpha = np.asarray(small.getchannel("A"), dtype=np.float32) / 255.0
        if (alpha < 0.5).mean() > 0.02:
            mask = _subject_mask(alpha >= 0.5)
            box = _box_in_source(mask, size) if mask.any() else None
            return Subject(box, alpha, size, (255, 255, 255), plain_background=True, cue="alpha")
    distance, background, spread = background_distance(small)
    plain = spread < PLAIN_SPREAD
    if plain:
        saliency = _normalised(distance)
        mask = distance > max(spread + 20.0, 25.0)
        cue, max_share = "colour", MAX_SUBJECT_SHARE_PLAIN
    else:
        gray = np.asarray(small.convert("L"), dtype=np.float32)
        saliency = _normalised(0.5 * _normalised(distance) + 0.5 * spectral_residual(gray))
        mask = saliency > otsu_threshold(saliency)
        cue, max_share = "colour+spectral", MAX_SUBJECT_SHARE_BUSY
    mask = _subject_mask(mask)
    share = float(mask.mean())
    box = _box_in_source(mask, size) if MIN_SUBJECT_SHARE <= share <= max_share else None
    return Subject(box, saliency.astype(np.float32), size, background, plain_background=plain, cue=cue)
