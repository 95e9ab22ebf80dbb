"""What a file of bytes is: checked before the asset store keeps it, so nothing corrupt is stored.

Images are decoded in full with Pillow (a truncated file fails here, not when a platform rejects it) and
measured; a decompression bomb is refused. Videos are recognised by their container's signature only:
their resolution and duration come from a probe (tools/creative), not from here. Text must be non-empty
UTF-8.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, UnidentifiedImageError


class AssetKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"


class InvalidAssetError(ValueError):
    """Bytes that are not a usable asset of the declared kind (empty, corrupt, unsupported, too big)."""


IMAGE_MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
TEXT_MIME = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Content:
    mime: str
    width: int | None = None
    height: int | None = None


def inspect_content(data: bytes, kind: AssetKind) -> Content:
    """The checked MIME type (and an image's size) of `data` as an asset of `kind`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidAssetError(f"asset data must be bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise InvalidAssetError("empty file: an asset needs at least one byte")
    if kind is AssetKind.IMAGE:
        return _image(bytes(data))
    if kind is AssetKind.VIDEO:
        return Content(mime=_video_mime(bytes(data)))
    return _text(bytes(data))


def _image(data: bytes) -> Content:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or "?"
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # decodes every pixel: a truncated file fails here
                width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidAssetError(f"image too large to decode safely: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise InvalidAssetError("not an image Pillow can read (corrupt or unsupported format)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidAssetError(f"corrupt image: {exc}") from exc
    if fmt not in IMAGE_MIME:
        raise InvalidAssetError(f"unsupported image format {fmt}; supported: {', '.join(IMAGE_MIME)}")
    return Content(mime=IMAGE_MIME[fmt], width=width, height=height)


def _video_mime(data: bytes) -> str:
    head = data[:64]
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head else "video/x-matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    raise InvalidAssetError("not a recognised video container (MP4, MOV, WebM, Matroska or AVI)")


def _text(data: bytes) -> Content:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidAssetError(f"text assets must be UTF-8: {exc}") from exc
    if not text.strip():
        raise InvalidAssetError("empty text: only whitespace")
    if "\x00" in text:
        raise InvalidAssetError("text contains NUL characters")
    return Content(mime=TEXT_MIME)
