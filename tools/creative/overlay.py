"""Text on images: headline or CTA text auto-sized into a box, a CTA button, contrast-checked colours.

The font is the bundled DejaVu Sans Bold subset (`fonts/`, its licence beside it); text with characters
the font lacks is refused rather than drawn as empty boxes. Text colour is chosen by WCAG 2 contrast
against the pixels under the text (the worst of their darker and lighter ends); when neither white nor
near-black reaches the threshold over a busy picture, a translucent scrim is laid under the text.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont
from pydantic import BaseModel

from tools.creative.errors import TextDoesNotFitError, UnsupportedCharactersError
from tools.creative.saliency import Box

FONT_PATH = Path(__file__).with_name("fonts") / "DejaVuSans-Bold-subset.ttf"
WHITE = (255, 255, 255)
INK = (0, 0, 0)  # pure black: with white, one of the two reaches 4.5:1 on any flat colour
AA_TEXT = 4.5  # WCAG 2 AA, normal text
AA_NON_TEXT = 3.0  # WCAG 2 AA, user-interface components (the button against the picture)
SCRIM_ALPHAS = (0.35, 0.5, 0.65, 0.8, 0.9)

Colour = tuple[int, int, int]


class TextLayout(BaseModel):
    font_size: int
    lines: list[str]
    width: int
    height: int
    colour: Colour | None = None
    contrast: float | None = None  # worst-case WCAG ratio against what is under the text
    scrim_alpha: float = 0.0  # opacity of the scrim laid under the text, 0 if none


class ButtonLayout(BaseModel):
    box: Box
    colour: Colour
    text: TextLayout
    button_contrast: float  # button against the picture around it (WCAG non-text: 3:1)


@functools.lru_cache(maxsize=128)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size)


@functools.lru_cache(maxsize=1)
def covered_codepoints() -> frozenset[int]:
    from fontTools.ttLib import TTFont  # read once, for the character map only

    with TTFont(str(FONT_PATH), lazy=True) as ttf:
        return frozenset(ttf.getBestCmap())


def missing_characters(text: str) -> list[str]:
    covered = covered_codepoints()
    return sorted({ch for ch in text if not ch.isspace() and ord(ch) not in covered})


def parse_colour(colour: str | Colour) -> Colour:
    if isinstance(colour, str):
        rgb = ImageColor.getrgb(colour)
        return rgb[0], rgb[1], rgb[2]
    return colour[0], colour[1], colour[2]


def relative_luminance(rgb: np.ndarray | Colour) -> np.ndarray:
    """WCAG 2 relative luminance of sRGB colours (last axis R, G, B in 0..255)."""
    c = np.asarray(rgb, dtype=float) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def contrast_ratio(a: Colour, b: Colour) -> float:
    la, lb = float(relative_luminance(a)), float(relative_luminance(b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def _worst_contrast(colour: Colour, pixels: np.ndarray) -> float:
    """Lowest contrast of `colour` against the dark (5th) and light (95th percentile) ends of pixels."""
    lum = relative_luminance(pixels.reshape(-1, 3))
    text = float(relative_luminance(colour))
    ends = np.percentile(lum, [5, 95])
    return float(min((max(text, e) + 0.05) / (min(text, e) + 0.05) for e in ends))


def _wrap(text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str] | None:
    """Greedy word wrap to `width` px; None when a single word is wider than that."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            if face.getlength(word) > width:
                return None
            candidate = f"{line} {word}" if line else word
            if face.getlength(candidate) <= width:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def _line_height(face: ImageFont.FreeTypeFont, spacing: float) -> int:
    ascent, descent = face.getmetrics()
    return round((ascent + descent) * spacing)


def fit_text(
    text: str,
    box_size: tuple[int, int],
    *,
    max_size: int | None = None,
    min_size: int = 12,
    max_lines: int | None = None,
    spacing: float = 1.15,
) -> TextLayout:
    """The largest font size at which `text`, word-wrapped, fits `box_size`; TextDoesNotFitError if none."""
    if not text.strip():
        raise TextDoesNotFitError("there is no text to place")
    if missing := missing_characters(text):
        raise UnsupportedCharactersError(f"the bundled font cannot draw {''.join(missing)!r}")
    width, height = box_size
    hi = min(max_size or height, height)
    best: TextLayout | None = None
    lo = min_size
    while lo <= hi:
        size = (lo + hi) // 2
        face = font(size)
        lines = _wrap(text, face, width)
        fits = lines is not None and (max_lines is None or len(lines) <= max_lines)
        block = _line_height(face, spacing) * len(lines or [])
        if fits and block <= height and lines is not None:
            line_width = max(round(face.getlength(line)) for line in lines)
            best = TextLayout(font_size=size, lines=lines, width=line_width, height=block)
            lo = size + 1
        else:
            hi = size - 1
    if best is None:
        raise TextDoesNotFitError(f"{text!r} does not fit {width}x{height} px even at {min_size} px type")
    return best


def _choose_colour(
    pixels: np.ndarray, colour: Colour | None, min_contrast: float
) -> tuple[Colour, float, float]:
    """Text colour, its worst-case contrast, and the scrim opacity needed (0 if none)."""
    candidates = [colour] if colour else [WHITE, INK]
    best = max(candidates, key=lambda c: _worst_contrast(c, pixels))
    contrast = _worst_contrast(best, pixels)
    if contrast >= min_contrast:
        return best, contrast, 0.0
    scrim = np.array(INK if relative_luminance(best) > 0.5 else WHITE, dtype=float)
    for alpha in SCRIM_ALPHAS:
        under = (1 - alpha) * pixels.reshape(-1, 3) + alpha * scrim
        contrast = _worst_contrast(best, under)
        if contrast >= min_contrast:
            return best, contrast, alpha
    return best, contrast, SCRIM_ALPHAS[-1]


def overlay_text(
    image: Image.Image,
    text: str,
    box: Box,
    *,
    colour: str | Colour | None = None,
    min_contrast: float = AA_TEXT,
    max_size: int | None = None,
    min_size: int = 12,
    max_lines: int | None = None,
) -> tuple[Image.Image, TextLayout]:
    """`text` drawn centred in `box`, as large as fits, in a colour that reads against the picture."""
    left, top, right, bottom = box
    pad = max(2, round(0.04 * min(right - left, bottom - top)))
    inner = (right - left - 2 * pad, bottom - top - 2 * pad)
    layout = fit_text(text, inner, max_size=max_size, min_size=min_size, max_lines=max_lines)
    out = image.convert("RGB")
    pixels = np.asarray(out.crop(box), dtype=float)
    chosen, contrast, alpha = _choose_colour(pixels, parse_colour(colour) if colour else None, min_contrast)
    face = font(layout.font_size)
    line_h = _line_height(face, 1.15)
    x_mid = (left + right) / 2
    y = (top + bottom - layout.height) / 2
    if alpha > 0:
        scrim = INK if relative_luminance(chosen) > 0.5 else WHITE
        veil = Image.new("RGBA", out.size, (0, 0, 0, 0))
        margin = pad
        ImageDraw.Draw(veil).rounded_rectangle(
            (
                x_mid - layout.width / 2 - margin,
                y - margin,
                x_mid + layout.width / 2 + margin,
                y + layout.height + margin,
            ),
            radius=margin,
            fill=(*scrim, round(alpha * 255)),
        )
        out = Image.alpha_composite(out.convert("RGBA"), veil).convert("RGB")
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(layout.lines):
        draw.text((x_mid, y + i * line_h), line, font=face, fill=chosen, anchor="ma")
    return out, layout.model_copy(
        update={"colour": chosen, "contrast": round(contrast, 2), "scrim_alpha": alpha}
    )


def default_button_box(size: tuple[int, int]) -> Box:
    """A button centred low in the frame, above the bottom fifth that platform UI covers in 9:16."""
    width, height = size
    button_w = round(width * 0.6)
    button_h = max(24, round(min(height * 0.09, button_w * 0.28)))
    bottom = round(height * 0.78)
    left = (width - button_w) // 2
    return left, bottom - button_h, left + button_w, bottom


def add_cta_button(
    image: Image.Image,
    text: str,
    *,
    colour: str | Colour,
    box: Box | None = None,
    text_colour: str | Colour | None = None,
) -> tuple[Image.Image, ButtonLayout]:
    """A rounded CTA button of `colour` with `text` auto-sized in it; text colour chosen by contrast."""
    fill = parse_colour(colour)
    box = box or default_button_box(image.size)
    left, top, right, bottom = box
    out = image.convert("RGB")
    around = np.asarray(out.crop((max(0, left - 8), max(0, top - 8), right + 8, bottom + 8)), dtype=float)
    button_contrast = _worst_contrast(fill, around)
    ImageDraw.Draw(out).rounded_rectangle(box, radius=round((bottom - top) * 0.3), fill=fill)
    inset = round((bottom - top) * 0.18)
    inner = (left + inset, top + inset, right - inset, bottom - inset)
    out, layout = overlay_text(out, text, inner, colour=text_colour, max_lines=1, min_size=8)
    return out, ButtonLayout(box=box, colour=fill, text=layout, button_contrast=round(button_contrast, 2))
