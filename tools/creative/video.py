"""Video assets: probe duration, resolution, aspect, codecs and size, and check them per placement.

The probe is the ffmpeg binary that the `imageio-ffmpeg` wheel carries (so a plain `pip install` is
enough, no system package and no download at run time), falling back to an `ffmpeg` on PATH. It runs as
`ffmpeg -i FILE` and its stream report is parsed: container (MP4 and MOV told apart by the major brand),
duration, overall and video bitrate, codec and profile, pixel format, frame rate, display size (the
sample aspect ratio and a 90-degree display rotation applied), audio codec.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, Field, computed_field

from tools.creative.checks import CheckResult, RuleName, Violation, geometry_violations
from tools.creative.decode import FileSource, sniff_unsupported
from tools.creative.errors import (
    CorruptMediaError,
    CreativeError,
    ItemError,
    MissingFileError,
    ProbeFailedError,
    UnsupportedFormatError,
)
from tools.creative.specs import VideoRule, resolve_platforms, video_placements, video_rule

PROBE_TIMEOUT_S = 30.0
_STILL_DEMUXERS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "svg_pipe"}


class VideoInfo(BaseModel):
    container: str = Field(description="mp4, mov, 3gp, avi, mpeg, gif, webm, mkv, or ffmpeg's demuxer name")
    duration_s: float | None
    width: int = Field(description="Display width, after sample aspect ratio and rotation")
    height: int
    rotation: int = 0
    codec: str
    profile: str | None = None
    pixel_format: str | None = None
    fps: float | None = None
    video_kbps: float | None = None
    overall_kbps: float | None = None
    audio_codec: str | None = None
    byte_size: int

    @property
    def aspect(self) -> float:
        return self.width / self.height


def ffmpeg_executable() -> str:
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if found:
            return found
    raise ProbeFailedError("no ffmpeg: install the imageio-ffmpeg package (it carries the binary)")


def _container(demuxer: str, brand: str | None, codec: str) -> str:
    if demuxer.startswith("mov,mp4"):
        if brand and brand.startswith("qt"):
            return "mov"
        return "3gp" if brand and brand.startswith("3g") else "mp4"
    if demuxer == "matroska,webm":
        return "webm" if codec in {"vp8", "vp9", "av1"} else "mkv"
    return {"mpeg": "mpeg", "avi": "avi", "gif": "gif"}.get(demuxer, demuxer)


def _stream_blocks(report: str) -> list[str]:
    """Each 'Stream #' line with the indented lines (metadata, side data) under it."""
    blocks: list[str] = []
    for line in report.splitlines():
        if re.match(r"\s*Stream #", line):
            blocks.append(line)
        elif blocks and line.startswith("      "):
            blocks[-1] += "\n" + line
        elif blocks and not line.startswith("    "):
            blocks.append("")  # a new top-level section closes the stream
    return [b for b in blocks if b]


def _number(pattern: str, text: str) -> float | None:
    match = re.search(pattern, text)
    return float(match.group(1)) if match else None


def _video_stream(blocks: list[str]) -> str | None:
    for block in blocks:
        head = block.splitlines()[0]
        if ": Video: " in head and "(attached pic)" not in head:
            return block
    return None


def parse_probe(report: str, byte_size: int) -> VideoInfo:
    """A `VideoInfo` from the text `ffmpeg -i` prints; typed errors for non-videos and damaged files."""
    if re.search(r"Invalid data found|moov atom not found|could not find codec parameters", report, re.I):
        raise CorruptMediaError("ffmpeg cannot read this file: " + report.strip().splitlines()[-1][:200])
    source = re.search(r"Input #0, (\S+), from", report)
    if not source:
        last = report.strip().splitlines()[-1] if report.strip() else "no output"
        raise CorruptMediaError(f"not a readable media file: {last[:200]}")
    demuxer = source.group(1)
    if demuxer in _STILL_DEMUXERS or demuxer.endswith("_pipe"):
        raise UnsupportedFormatError(f"a still image ({demuxer}), not a video")
    stream = _video_stream(_stream_blocks(report))
    if stream is None:
        raise UnsupportedFormatError("no video stream in this file (audio only?)")
    head = stream.splitlines()[0]
    after = head.split(": Video: ", 1)[1]
    codec = after.split()[0].rstrip(",")
    parens = re.findall(r"\(([^()]*)\)", after.split(",")[0])
    profile = next((p for p in parens if "/ 0x" not in p), None)
    pixel_format = after.split(",")[1].strip().split("(")[0] if "," in after else None
    size = re.search(r"\b([1-9]\d{0,4})x([1-9]\d{0,4})\b", after)
    if not size:
        raise CorruptMediaError(f"no frame size in the video stream: {head.strip()[:200]}")
    width, height = int(size.group(1)), int(size.group(2))
    dar = re.search(r"DAR (\d+):(\d+)", after)
    sar = re.search(r"SAR (\d+):(\d+)", after)
    if dar and sar and sar.group(1) != sar.group(2) and int(dar.group(2)) > 0:
        width = round(height * int(dar.group(1)) / int(dar.group(2)))
    rotation = _number(r"(?i)display ?matrix: rotation of (-?[\d.]+) degrees", stream)
    turn = round(rotation or 0) % 360
    if turn in {90, 270}:
        width, height = height, width
    duration = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", report)
    seconds = (
        int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3))
        if duration
        else None
    )
    audio = next((b for b in _stream_blocks(report) if ": Audio: " in b.splitlines()[0]), None)
    brand = re.search(r"major_brand\s*:\s*(\S+)", report)
    return VideoInfo(
        container=_container(demuxer, brand.group(1) if brand else None, codec),
        duration_s=seconds,
        width=width,
        height=height,
        rotation=turn,
        codec=codec,
        profile=profile,
        pixel_format=pixel_format or None,
        fps=_number(r"([\d.]+) fps", after) or _number(r"([\d.]+) tbr", after),
        video_kbps=_number(r"(\d+(?:\.\d+)?) kb/s", after),
        overall_kbps=_number(r"bitrate: (\d+(?:\.\d+)?) kb/s", report),
        audio_codec=audio.split(": Audio: ", 1)[1].split()[0].rstrip(",") if audio else None,
        byte_size=byte_size,
    )


def probe_video(
    source: FileSource, *, ffmpeg: str | None = None, timeout: float = PROBE_TIMEOUT_S
) -> VideoInfo:
    """Probe a video file (path or bytes) with ffmpeg."""
    if isinstance(source, bytes | bytearray | memoryview):
        with tempfile.NamedTemporaryFile(suffix=".media") as tmp:
            tmp.write(bytes(source))
            tmp.flush()
            return probe_video(tmp.name, ffmpeg=ffmpeg, timeout=timeout)
    path = Path(source)
    if not path.is_file():
        raise MissingFileError(f"no such video file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise CorruptMediaError("empty file")
    with path.open("rb") as handle:
        if kind := sniff_unsupported(handle.read(4096)):
            raise UnsupportedFormatError(f"{kind} is not a video format")
    command = [ffmpeg or ffmpeg_executable(), "-hide_banner", "-nostdin", "-i", str(path)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ProbeFailedError(f"ffmpeg did not answer within {timeout:.0f} s") from None
    except OSError as exc:
        raise ProbeFailedError(f"cannot run ffmpeg: {exc}") from None
    return parse_probe(done.stderr.decode("utf-8", errors="replace"), size)


def check_video(
    source: FileSource | VideoInfo, platform: str, placement: str, *, rule: VideoRule | None = None
) -> CheckResult:
    """Every rule of `platform`/`placement` that this video breaks; a path, bytes or a probe result."""
    rule = rule or video_rule(platform, placement)
    info = source if isinstance(source, VideoInfo) else probe_video(source)
    out: list[Violation] = []

    def broken(name: RuleName, message: str, actual: object, limit: object) -> None:
        out.append(Violation(rule=name, message=message, actual=str(actual), limit=str(limit)))

    if info.container not in rule.formats:
        accepted = ", ".join(sorted(rule.formats))
        broken(
            RuleName.FILE_TYPE,
            f"{info.container} files are not accepted; use {accepted}",
            info.container,
            accepted,
        )
    if info.byte_size > rule.max_bytes:
        broken(
            RuleName.FILE_SIZE, f"{info.byte_size:,} bytes is over the limit", info.byte_size, rule.max_bytes
        )
    if info.duration_s is None:
        broken(RuleName.DURATION, "duration unknown", "unknown", f"{rule.min_seconds}-{rule.max_seconds} s")
    elif not rule.min_seconds <= info.duration_s <= rule.max_seconds:
        broken(
            RuleName.DURATION,
            f"{info.duration_s:.2f} s is outside {rule.min_seconds:g}-{rule.max_seconds:g} s",
            f"{info.duration_s:.2f}",
            f"{rule.min_seconds:g}-{rule.max_seconds:g}",
        )
    if info.codec not in rule.codecs:
        accepted = ", ".join(sorted(rule.codecs))
        broken(
            RuleName.VIDEO_CODEC, f"{info.codec} video is not accepted; use {accepted}", info.codec, accepted
        )
    if rule.audio_codecs and info.audio_codec and info.audio_codec not in rule.audio_codecs:
        accepted = ", ".join(sorted(rule.audio_codecs))
        broken(RuleName.AUDIO_CODEC, f"{info.audio_codec} audio is not accepted", info.audio_codec, accepted)
    if rule.max_fps and info.fps and info.fps > rule.max_fps + 0.01:
        broken(RuleName.FRAME_RATE, f"{info.fps:g} fps is over {rule.max_fps:g}", info.fps, rule.max_fps)
    kbps = info.video_kbps or info.overall_kbps
    if rule.min_kbps and kbps is not None and kbps < rule.min_kbps:
        broken(RuleName.BITRATE, f"{kbps:g} kb/s is under {rule.min_kbps:g} kb/s", kbps, rule.min_kbps)
    aspect, geometry = geometry_violations(
        info.width, info.height, rule.aspects, rule.aspect_tolerance, rule.max_size
    )
    return CheckResult(
        platform=rule.platform,
        placement=rule.placement,
        kind="video",
        format=info.container,
        width=info.width,
        height=info.height,
        byte_size=info.byte_size,
        aspect=aspect,
        violations=out + geometry,
    )


class VideoItemResult(BaseModel):
    name: str
    info: VideoInfo | None = None
    checks: list[CheckResult] = Field(default_factory=list)
    error: ItemError | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.error is None


def check_videos(
    items: Mapping[str, FileSource] | Iterable[tuple[str, FileSource]],
    platforms: str | Iterable[str] = "all",
) -> list[VideoItemResult]:
    """Probe each named video once and check it on every video placement of `platforms`."""
    pairs = items.items() if isinstance(items, Mapping) else items
    names = resolve_platforms(platforms if isinstance(platforms, str) else tuple(platforms))
    results: list[VideoItemResult] = []
    for name, source in pairs:
        try:
            info = probe_video(source)
        except CreativeError as exc:
            results.append(VideoItemResult(name=name, error=ItemError.of(exc)))
            continue
        checks = [check_video(info, p, placement) for p in names for placement in video_placements(p)]
        results.append(VideoItemResult(name=name, info=info, checks=checks))
    return results
