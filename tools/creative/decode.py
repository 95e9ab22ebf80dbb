"""Safe image decoding: refuse non-images, bombs and specks with typed errors before decoding pixels.

The pixel limit is checked on the header, before any pixel is decoded, and Pillow's own global limit is
left alone (no process-wide side effect; Pillow still refuses, as ImageTooLargeError here, anything past
twice its default of about 89 MP, whatever `max_pixels` says). Orientation from EXIF is applied, the
first frame of an animation is taken, and the pixels come back as RGB, or RGBA when the image has
transparency.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tools.creative.errors import (
    CorruptMediaError,
    ImageTooLargeError,
    ImageTooSmallError,
    MissingFileError,
    UnsupportedFormatError,
)

DEFAULT_MAX_PIXELS = 50_000_000  # a 50 MP photo; ad sizes are at most ~2 MP
MIN_SIDE = 64  # below this there is nothing to crop an ad from
DECODABLE = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"})

FileSource = bytes | bytearray | memoryview | str | os.PathLike[str]
ImageSource = FileSource | Image.Image

# Formats that are recognisable but are not raster images this studio takes.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"8BPS", "Photoshop (PSD)"),
    (b"PK\x03\x04", "ZIP archive"),
)
_FTYP_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF"}


@dataclass
class LoadedImage:
    image: Image.Image  # RGB, or RGBA when the source has transparency
    format: str  # Pillow's name of the source format (JPEG, PNG, ...), "" for an in-memory image
    byte_size: int | None  # size of the source file, None for an in-memory image
    notes: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


def read_source(source: FileSource) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    path = Path(source)
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise UnsupportedFormatError(f"{path} is a directory, not a file") from None
    except FileNotFoundError:
        raise MissingFileError(f"no such file: {path}") from None


def sniff_unsupported(data: bytes) -> str | None:
    """The name of a recognisable non-image (or unsupported image) format, else None."""
    head = data[:512]
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    if head[4:8] == b"ftyp" and (brand := _FTYP_BRANDS.get(head[8:12])):
        return brand
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "SVG"
    if text.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    return None


def _open(data: bytes, max_pixels: int) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"header claims too many pixels (limit {max_pixels:,}); {exc}") from None
    except UnidentifiedImageError:
        raise CorruptMediaError("not a decodable image: no known image format matches these bytes") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise CorruptMediaError(f"damaged image header: {exc}") from None


def _normalise(image: Image.Image) -> Image.Image:
    if image.mode in {"I;16", "I;16B", "I;16L", "I"}:  # 16-bit grey: scale down, Pillow would clip to white
        grey = np.asarray(image, dtype=np.float64)
        image = Image.fromarray((grey * (255.0 / 65535.0)).clip(0, 255).astype(np.uint8))
    elif image.mode == "F":
        image = Image.fromarray(np.asarray(image).clip(0, 255).astype(np.uint8))
    has_alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def check_pixels(width: int, height: int, *, max_pixels: int, min_side: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{width}x{height} is {width * height:,} pixels; the limit is {max_pixels:,}"
        )
    if min(width, height) < min_side:
        raise ImageTooSmallError(f"{width}x{height} is too small; each side needs at least {min_side} px")


def load_image(
    source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int = MIN_SIDE
) -> LoadedImage:
    """Decode an image file (bytes or path) or take a Pillow image, refusing bad input with typed errors."""
    if isinstance(source, Image.Image):
        check_pixels(source.width, source.height, max_pixels=max_pixels, min_side=min_side)
        return LoadedImage(image=_normalise(source), format=source.format or "", byte_size=None)
    data = read_source(source)
    if not data:
        raise CorruptMediaError("empty file")
    if kind := sniff_unsupported(data):
        raise UnsupportedFormatError(f"{kind} is not a raster image format the studio takes")
    image = _open(data, max_pixels)
    fmt = image.format or ""
    if fmt not in DECODABLE:
        raise UnsupportedFormatError(f"{fmt or 'this'} image format is not taken; use JPEG, PNG or WEBP")
    check_pixels(image.width, image.height, max_pixels=max_pixels, min_side=min_side)
    notes = []
    if getattr(image, "is_animated", False):
        notes.append(f"animated {fmt}: the first of {getattr(image, 'n_frames', '?')} frames is used")
    if image.mode == "CMYK":
        notes.append("CMYK converted to RGB")
    try:
        image.load()
        image = ImageOps.exif_transpose(image) or image
    except Image.DecompressionBombError as exc:  # a caller's limit above Pillow's own
        raise ImageTooLargeError(str(exc)) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise CorruptMediaError(f"cannot decode the {fmt} pixels: {exc}") from None
    return LoadedImage(image=_normalise(image), format=fmt, byte_size=len(data), notes=notes)


def flatten(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """RGB pixels: transparency composited onto `background`."""
    if image.mode == "RGB":
        return image
    rgba = image.convert("RGBA")
    canvas = Image.new("RGB", rgba.size, background)
    canvas.paste(rgba, mask=rgba.getchannel("A"))
    return canvas


def encode(image: Image.Image, fmt: str, *, quality: int = 90) -> bytes:
    """JPEG (transparency flattened on white) or PNG bytes."""
    out = io.BytesIO()
    if fmt == "JPEG":
        flatten(image).save(out, "JPEG", quality=quality, optimize=True)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=False, compress_level=6)
    else:
        raise ValueError(f"encode writes JPEG or PNG, not {fmt!r}")
    return out.getvalue()
