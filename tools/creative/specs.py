"""Each platform's image and video rules per placement, as data.

Sources (read 2026; the platforms change these pages, so every rule names where it came from):
- META_GUIDE: Meta Ads Guide, facebook.com/business/ads-guide (image: Facebook Feed and Facebook
  Stories "technical requirements": JPG/PNG, max 30 MB, min width 600 (feed) / 500 (stories),
  aspect ratio tolerance 3 % (feed) / 1 % (stories); video feed: MP4/MOV/GIF, 1 s to 241 min, max 4 GB,
  min 120 x 120 px, 1:1 or 4:5; Reels 9:16 up to 15 min).
- META_API: developers.facebook.com, Marketing API "media requirements" (per-aspect image minimums:
  1:1 at least 600x600, 4:5 at least 600x750, 1.91:1 at least 600x315).
- X_SPECS: business.x.com/en/help/campaign-setup/creative-ad-specifications (image ads: PNG and JPEG,
  no BMP or TIFF, GIF shown static, max 5 MB, 1.91:1 or 1:1, 800x418 / 800x800 recommended; video ads:
  MP4 or MOV, max 1 GB, up to 2:20, H.264 with AAC-LC audio, up to 60 fps; vertical video 9:16 with 16:9
  and 1:1 also supported, min 720x1280, max 1080x1920).
- TIKTOK_VIDEO: ads.tiktok.com/help/article?aid=6669199281502552069 "Video Ads Spec" (in-feed: 9:16, 1:1
  or 16:9, at least 720x1280 / 640x640 / 1280x720, .mp4/.mov/.mpeg/.3gp/.avi, 5 to 60 s, bitrate at
  least 516 kbps, max 500 MB).
- TIKTOK_IMAGE: ads.tiktok.com/help/article/global-app-bundle-image-ad-specifications (JPG/JPEG/PNG,
  within 100 MB, 9:16 at least 720x1280, 16:9 at least 1280x720, 1:1 at least 640x640).

Where a page gives no figure the value is ASSUMED and the rule's `assumed` field says which.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from tools.creative.errors import UnknownPlacementError

# Decimal units: the stricter reading of the platforms' "30 MB" (30,000,000 bytes, not 30 MiB).
MB = 1_000_000
GB = 1_000_000_000

PLATFORMS = ("meta", "x", "tiktok")


class AspectRule(BaseModel):
    """One accepted aspect ratio of a placement, with its recommended and minimum pixel sizes."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Aspect as written by the platforms, e.g. '4:5', '1.91:1'")
    recommended: tuple[int, int] = Field(description="Width and height to produce")
    min_size: tuple[int, int] = Field(description="Smallest accepted width and height")

    @property
    def ratio(self) -> float:
        width, height = (float(part) for part in self.name.split(":"))
        return width / height


class ImageRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str
    placement: str
    formats: frozenset[str] = Field(description="Accepted file types, as Pillow names them (JPEG, PNG)")
    max_bytes: int
    aspects: tuple[AspectRule, ...]
    aspect_tolerance: float = Field(description="Relative difference from an aspect still accepted")
    max_size: tuple[int, int] | None = None
    source: str
    assumed: str = ""


class VideoRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str
    placement: str
    formats: frozenset[str] = Field(description="Accepted containers: mp4, mov, gif, mpeg, 3gp, avi")
    codecs: frozenset[str] = Field(description="Accepted video codecs, as ffmpeg names them")
    audio_codecs: frozenset[str] | None = None
    min_seconds: float
    max_seconds: float
    max_bytes: int
    aspects: tuple[AspectRule, ...]
    aspect_tolerance: float
    max_size: tuple[int, int] | None = None
    max_fps: float | None = None
    min_kbps: float | None = None
    source: str
    assumed: str = ""


def aspect_distance(ratio: float, aspect: AspectRule) -> float:
    """Relative difference between a measured width/height ratio and an aspect rule's."""
    return abs(ratio / aspect.ratio - 1.0)


def nearest_aspect(ratio: float, aspects: tuple[AspectRule, ...]) -> AspectRule:
    return min(aspects, key=lambda a: abs(math.log(ratio / a.ratio)))


SQUARE_META = AspectRule(name="1:1", recommended=(1080, 1080), min_size=(600, 600))
PORTRAIT_META = AspectRule(name="4:5", recommended=(1080, 1350), min_size=(600, 750))
# Stories: the guide gives only a min width of 500; the height follows from 9:16 (ASSUMED).
VERTICAL_META = AspectRule(name="9:16", recommended=(1080, 1920), min_size=(500, 889))
LINK_META = AspectRule(name="1.91:1", recommended=(1200, 628), min_size=(600, 315))


def _image(**values: object) -> ImageRule:
    return ImageRule.model_validate(values)


def _video(**values: object) -> VideoRule:
    return VideoRule.model_validate(values)


_IMAGES = (
    _image(
        platform="meta",
        placement="feed",
        formats={"JPEG", "PNG"},
        max_bytes=30 * MB,
        aspects=(SQUARE_META, PORTRAIT_META),
        aspect_tolerance=0.03,
        source="META_GUIDE Facebook Feed image; META_API per-aspect minimums",
    ),
    _image(
        platform="meta",
        placement="stories",  # Facebook/Instagram Stories and Reels
        formats={"JPEG", "PNG"},
        max_bytes=30 * MB,
        aspects=(VERTICAL_META,),
        aspect_tolerance=0.01,
        source="META_GUIDE Facebook Stories image",
        assumed="min height 889 derived from the 500 px min width at 9:16",
    ),
    _image(
        platform="meta",
        placement="link",
        formats={"JPEG", "PNG"},
        max_bytes=30 * MB,
        aspects=(LINK_META,),
        aspect_tolerance=0.03,
        source="META_GUIDE Facebook Feed image (1.91:1 end of its range); META_API 600x315 minimum",
    ),
    _image(
        platform="x",
        placement="timeline",
        formats={"JPEG", "PNG"},
        max_bytes=5 * MB,
        aspects=(
            AspectRule(name="1:1", recommended=(1200, 1200), min_size=(600, 600)),
            AspectRule(name="1.91:1", recommended=(1200, 628), min_size=(600, 314)),
        ),
        aspect_tolerance=0.03,
        source="X_SPECS image ads",
        assumed="min sizes (X gives only recommended 800x800 / 800x418) and the 3 % tolerance; "
        "GIF and WEBP left out (X shows GIF static and names only PNG and JPEG)",
    ),
    _image(
        platform="tiktok",
        placement="in_feed",
        formats={"JPEG", "PNG"},
        max_bytes=100 * MB,
        aspects=(
            AspectRule(name="9:16", recommended=(1080, 1920), min_size=(720, 1280)),
            AspectRule(name="1:1", recommended=(1080, 1080), min_size=(640, 640)),
            AspectRule(name="16:9", recommended=(1920, 1080), min_size=(1280, 720)),
        ),
        aspect_tolerance=0.03,
        source="TIKTOK_IMAGE (Global App Bundle image ads, the only TikTok image page with limits)",
        assumed="that in-feed image ads follow the Global App Bundle limits; the 3 % tolerance",
    ),
)

_VIDEOS = (
    _video(
        platform="meta",
        placement="feed",
        formats={"mp4", "mov", "gif"},
        codecs={"h264", "hevc", "vp9", "gif"},
        min_seconds=1.0,
        max_seconds=241 * 60.0,
        max_bytes=4 * GB,
        aspects=(
            AspectRule(name="1:1", recommended=(1080, 1080), min_size=(120, 120)),
            AspectRule(name="4:5", recommended=(1080, 1350), min_size=(120, 150)),
        ),
        aspect_tolerance=0.03,
        source="META_GUIDE Facebook Feed video",
        assumed="accepted codecs (Meta recommends H.264) and the 3 % tolerance for video",
    ),
    _video(
        platform="meta",
        placement="stories",
        formats={"mp4", "mov", "gif"},
        codecs={"h264", "hevc", "vp9", "gif"},
        min_seconds=1.0,
        max_seconds=15 * 60.0,
        max_bytes=4 * GB,
        aspects=(AspectRule(name="9:16", recommended=(1080, 1920), min_size=(500, 889)),),
        aspect_tolerance=0.01,
        source="META_GUIDE Reels video (up to 15 min), Stories image minimums",
        assumed="Stories share Reels' 15 min ceiling and the image min width of 500; accepted codecs",
    ),
    _video(
        platform="x",
        placement="timeline",
        formats={"mp4", "mov"},
        codecs={"h264"},
        audio_codecs={"aac"},
        min_seconds=0.5,
        max_seconds=140.0,
        max_bytes=1 * GB,
        aspects=(
            AspectRule(name="16:9", recommended=(1920, 1080), min_size=(640, 360)),
            AspectRule(name="1:1", recommended=(1080, 1080), min_size=(600, 600)),
            AspectRule(name="9:16", recommended=(1080, 1920), min_size=(720, 1280)),
        ),
        aspect_tolerance=0.03,
        max_size=(1920, 1920),
        max_fps=60.0,
        source="X_SPECS video ads and vertical video ads",
        assumed="min 0.5 s, 16:9 and 1:1 minimums, the 1920 px cap on both sides and the 3 % tolerance",
    ),
    _video(
        platform="tiktok",
        placement="in_feed",
        formats={"mp4", "mov", "mpeg", "3gp", "avi"},
        codecs={"h264", "hevc", "mpeg4"},
        min_seconds=5.0,
        max_seconds=60.0,
        max_bytes=500 * MB,
        aspects=(
            AspectRule(name="9:16", recommended=(1080, 1920), min_size=(720, 1280)),
            AspectRule(name="1:1", recommended=(1080, 1080), min_size=(640, 640)),
            AspectRule(name="16:9", recommended=(1920, 1080), min_size=(1280, 720)),
        ),
        aspect_tolerance=0.03,
        min_kbps=516.0,
        source="TIKTOK_VIDEO in-feed ads",
        assumed="accepted codecs and the 3 % tolerance",
    ),
)

IMAGE_RULES: dict[tuple[str, str], ImageRule] = {(r.platform, r.placement): r for r in _IMAGES}
VIDEO_RULES: dict[tuple[str, str], VideoRule] = {(r.platform, r.placement): r for r in _VIDEOS}


def _known(platform: str) -> None:
    if platform not in PLATFORMS:
        raise UnknownPlacementError(f"unknown platform {platform!r}; known: {', '.join(PLATFORMS)}")


def image_placements(platform: str) -> list[str]:
    _known(platform)
    return [placement for (p, placement) in IMAGE_RULES if p == platform]


def video_placements(platform: str) -> list[str]:
    _known(platform)
    return [placement for (p, placement) in VIDEO_RULES if p == platform]


def image_rule(platform: str, placement: str) -> ImageRule:
    _known(platform)
    try:
        return IMAGE_RULES[(platform, placement)]
    except KeyError:
        raise UnknownPlacementError(
            f"{platform} has no image placement {placement!r}; known: {', '.join(image_placements(platform))}"
        ) from None


def video_rule(platform: str, placement: str) -> VideoRule:
    _known(platform)
    try:
        return VIDEO_RULES[(platform, placement)]
    except KeyError:
        raise UnknownPlacementError(
            f"{platform} has no video placement {placement!r}; known: {', '.join(video_placements(platform))}"
        ) from None


def resolve_platforms(platforms: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """'all', one name, a comma list or a sequence of names, checked against the known platforms."""
    names = platforms.split(",") if isinstance(platforms, str) else list(platforms)
    names = [n.strip().lower() for n in names if n.strip()]
    if names == ["all"]:
        return PLATFORMS
    for name in names:
        _known(name)
    return tuple(dict.fromkeys(names))
