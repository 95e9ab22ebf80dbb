"""Background colour swap for product shots on a plain backdrop.

The background is what is connected to the image border and close in colour to the border's median
colour (or, for a PNG with transparency, what is transparent). Regions of the same colour inside the
subject are not connected to the border and so are kept. A two-pixel ramp at the boundary blends the
new colour into anti-aliased edges. A busy border, or too little background, is a `NoBackgroundError` error.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from pydantic import BaseModel
from scipy import ndimage

from tools.creative.errors import NoBackgroundError
from tools.creative.overlay import Colour, parse_colour
from tools.creative.saliency import PLAIN_SPREAD, background_distance

MIN_BACKGROUND_SHARE = 0.05


class BackgroundSwap(BaseModel):
    old: Colour
    new: Colour
    share: float  # fraction of pixels that were background
    cue: str  # "alpha" or "colour"


def _border_connected(mask: np.ndarray) -> np.ndarray:
    labels, _ = ndimage.label(mask)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    keep = np.unique(edge[edge > 0])
    return np.isin(labels, keep)


def background_alpha(image: Image.Image) -> tuple[np.ndarray, Colour, str]:
    """Per-pixel background weight in [0, 1], the old background colour and the cue used."""
    if image.mode == "RGBA":
        alpha = np.asarray(image.getchannel("A"), dtype=float) / 255.0
        if (alpha < 0.5).mean() > 0.02:
            return 1.0 - alpha, (255, 255, 255), "alpha"
    distance, old, spread = background_distance(image)
    if spread >= PLAIN_SPREAD:
        raise NoBackgroundError(
            f"the border is not a plain colour (spread {spread:.0f}); no background to swap"
        )
    threshold = max(spread + 20.0, 25.0)
    region = _border_connected(distance < threshold)
    if region.mean() < MIN_BACKGROUND_SHARE:
        raise NoBackgroundError(f"only {region.mean():.1%} of the image is plain background")
    weight = region.astype(float)
    rim = ndimage.binary_dilation(region, iterations=2) & ~region
    weight[rim] = np.clip((2 * threshold - distance[rim]) / (2 * threshold), 0.0, 1.0)
    return weight, old, "colour"


def swap_background(image: Image.Image, colour: str | Colour) -> tuple[Image.Image, BackgroundSwap]:
    """The image with its plain background replaced by `colour` (RGB out)."""
    new = parse_colour(colour)
    weight, old, cue = background_alpha(image)
    rgb = np.asarray(image.convert("RGB"), dtype=float)
    out = rgb * (1 - weight[..., None]) + np.array(new, dtype=float) * weight[..., None]
    swapped = Image.fromarray(np.clip(np.round(out), 0, 255).astype(np.uint8))
    return swapped, BackgroundSwap(old=old, new=new, share=round(float((weight > 0.5).mean()), 4), cue=cue)
