"""Video assets: the bundled ffmpeg probes small generated videos; each platform rule is checked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools.creative.checks import RuleName
from tools.creative.errors import (
    CorruptMediaError,
    CreativeError,
    MissingFileError,
    ProbeFailedError,
    UnknownPlacementError,
    UnsupportedFormatError,
)
from tools.creative.specs import VIDEO_RULES
from tools.creative.video import (
    VideoInfo,
    check_video,
    check_videos,
    ffmpeg_executable,
    parse_probe,
    probe_video,
)


def make(path: Path, *args: str) -> Path:
    """Run the bundled ffmpeg to write a small test video (lavfi sources, no input files)."""
    command = [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args, str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path


def bars(size: str, seconds: float = 1, rate: int = 10) -> list[str]:
    return ["-f", "lavfi", "-i", f"smptebars=size={size}:rate={rate}", "-t", str(seconds)]


TONE = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-shortest"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    out = {
        "bars": make(d / "bars.mp4", *bars("180x320"), *TONE, *X264, "-c:a", "aac"),
        "tiktok": make(
            d / "tiktok.mp4",
            *["-f", "lavfi", "-i", "testsrc2=size=720x1280:rate=5,noise=alls=30:allf=t", "-t", "5"],
            *X264,
            *["-b:v", "800k"],
        ),
        "avi": make(d / "legacy.avi", *bars("320x180"), *TONE, "-c:v", "mpeg4", "-c:a", "libmp3lame"),
        "mov": make(d / "square.mov", *bars("240x240"), *X264),
        "fast": make(d / "fast.mp4", *bars("640x360", rate=120, seconds=0.5), *X264),
        "audio": make(
            d / "voice.m4a", *["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", "1"]
        ),
    }
    out["rotated"] = make(d / "rotated.mp4", "-display_rotation", "90", "-i", str(out["bars"]), "-c", "copy")
    return out


def test_the_probe_reads_duration_size_codecs_and_container(videos: dict[str, Path]) -> None:
    info = probe_video(videos["bars"])
    assert info.container == "mp4" and info.codec == "h264" and info.audio_codec == "aac"
    assert (info.width, info.height, info.rotation) == (180, 320, 0)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert info.fps == pytest.approx(10) and info.pixel_format == "yuv420p"
    assert info.byte_size == videos["bars"].stat().st_size
    assert probe_video(videos["bars"].read_bytes()) == info


def test_mov_and_mp4_are_told_apart_and_rotation_swaps_the_display_size(videos: dict[str, Path]) -> None:
    assert probe_video(videos["mov"]).container == "mov"
    rotated = probe_video(videos["rotated"])
    assert (rotated.width, rotated.height, rotated.rotation) == (320, 180, 90)


def test_a_video_made_to_tiktok_spec_passes_tiktok_and_x_but_not_meta_feed(videos: dict[str, Path]) -> None:
    info = probe_video(videos["tiktok"])
    assert check_video(info, "tiktok", "in_feed").ok
    assert check_video(info, "x", "timeline").ok
    assert check_video(info, "meta", "stories").ok
    feed = check_video(info, "meta", "feed")
    assert feed.broken() == {RuleName.ASPECT_RATIO}


def test_every_broken_rule_of_a_generated_video_is_named(videos: dict[str, Path]) -> None:
    bars_check = check_video(videos["bars"], "tiktok", "in_feed")
    assert bars_check.broken() == {RuleName.DURATION, RuleName.BITRATE, RuleName.MIN_DIMENSIONS}
    assert bars_check.aspect == "9:16"
    legacy = check_video(videos["avi"], "x", "timeline")
    assert legacy.format == "avi"
    assert legacy.broken() == {
        RuleName.FILE_TYPE,
        RuleName.VIDEO_CODEC,
        RuleName.AUDIO_CODEC,
        RuleName.MIN_DIMENSIONS,
    }
    assert check_video(videos["fast"], "x", "timeline").broken() == {RuleName.FRAME_RATE}


def info(**changes: object) -> VideoInfo:
    base = VideoInfo(
        container="mp4",
        duration_s=15.0,
        width=1080,
        height=1920,
        codec="h264",
        fps=30.0,
        video_kbps=4000.0,
        overall_kbps=4100.0,
        audio_codec="aac",
        byte_size=8_000_000,
    )
    return base.model_copy(update=changes)


@pytest.mark.parametrize(
    ("platform", "placement", "changes", "broken"),
    [
        ("tiktok", "in_feed", {}, set()),
        ("tiktok", "in_feed", {"duration_s": 61.0}, {RuleName.DURATION}),
        ("tiktok", "in_feed", {"duration_s": 4.0}, {RuleName.DURATION}),
        ("tiktok", "in_feed", {"duration_s": None}, {RuleName.DURATION}),
        ("tiktok", "in_feed", {"byte_size": 600_000_000}, {RuleName.FILE_SIZE}),
        (
            "tiktok",
            "in_feed",
            {"container": "webm", "codec": "vp9"},
            {RuleName.FILE_TYPE, RuleName.VIDEO_CODEC},
        ),
        ("tiktok", "in_feed", {"video_kbps": 300.0}, {RuleName.BITRATE}),
        ("tiktok", "in_feed", {"width": 1920, "height": 1080}, set()),
        ("tiktok", "in_feed", {"width": 1440, "height": 1080}, {RuleName.ASPECT_RATIO}),
        ("x", "timeline", {"duration_s": 141.0}, {RuleName.DURATION}),
        ("x", "timeline", {"audio_codec": "opus"}, {RuleName.AUDIO_CODEC}),
        ("x", "timeline", {"audio_codec": None}, set()),
        ("x", "timeline", {"fps": 120.0}, {RuleName.FRAME_RATE}),
        ("x", "timeline", {"width": 2160, "height": 3840}, {RuleName.MAX_DIMENSIONS}),
        ("x", "timeline", {"byte_size": 1_100_000_000}, {RuleName.FILE_SIZE}),
        ("meta", "stories", {"duration_s": 0.5}, {RuleName.DURATION}),
        ("meta", "stories", {"width": 1080, "height": 1900}, {RuleName.ASPECT_RATIO}),  # 1 % tolerance
        ("meta", "feed", {"width": 1080, "height": 1350, "container": "gif", "codec": "gif"}, set()),
        ("meta", "feed", {"width": 1080, "height": 1350, "codec": "prores"}, {RuleName.VIDEO_CODEC}),
        ("meta", "feed", {"width": 100, "height": 100}, {RuleName.MIN_DIMENSIONS}),
    ],
)
def test_each_video_rule_is_checked(
    platform: str, placement: str, changes: dict, broken: set[RuleName]
) -> None:
    result = check_video(info(**changes), platform, placement)
    assert result.broken() == broken
    assert all(v.message for v in result.violations)


def test_every_video_rule_names_its_source() -> None:
    for rule in VIDEO_RULES.values():
        assert rule.source and rule.min_seconds < rule.max_seconds


ANAMORPHIC = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'clip.mov':
  Metadata:
    major_brand     : qt
  Duration: 00:01:02.50, start: 0.000000, bitrate: 6120 kb/s
  Stream #0:0[0x1](und): Video: mjpeg (Baseline) (jpeg / 0x6765706A), yuvj420p(pc), 300x300 (attached pic)
  Stream #0:1[0x2](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), \
1440x1080 [SAR 4:3 DAR 16:9], 5980 kb/s, 29.97 fps, 29.97 tbr, 30k tbn (default)
    Side data:
      displaymatrix: rotation of -90.00 degrees
  Stream #0:2[0x2](eng): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 128 kb/s (default)
At least one output file must be specified
"""


def test_the_report_parser_handles_attached_pictures_anamorphic_pixels_and_rotation() -> None:
    parsed = parse_probe(ANAMORPHIC, 1234)
    assert parsed.container == "mov" and parsed.codec == "h264" and parsed.profile == "High"
    assert parsed.duration_s == pytest.approx(62.5) and parsed.fps == pytest.approx(29.97)
    assert (parsed.width, parsed.height, parsed.rotation) == (
        1080,
        1920,
        270,
    )  # 1440x1080 at 4:3 -> 1920x1080
    assert parsed.video_kbps == 5980 and parsed.overall_kbps == 6120 and parsed.audio_codec == "aac"


@pytest.mark.parametrize(
    ("report", "error"),
    [
        ("x.mp4: Invalid data found when processing input\n", CorruptMediaError),
        (
            "[mov,mp4 @ 0x5] moov atom not found\nx.mp4: Invalid data found when processing input\n",
            CorruptMediaError,
        ),
        ("", CorruptMediaError),
        (
            "Input #0, png_pipe, from 'a.png':\n  Stream #0:0: Video: png, rgb24(pc), 64x64, 25 fps\n",
            UnsupportedFormatError,
        ),
        (
            "Input #0, mp3, from 'a.mp3':\n  Duration: 00:00:01.00\n  Stream #0:0: Audio: mp3, 44100 Hz\n",
            UnsupportedFormatError,
        ),
    ],
)
def test_reports_of_non_videos_are_typed_errors(report: str, error: type[CreativeError]) -> None:
    with pytest.raises(error):
        parse_probe(report, 10)


def test_bad_video_files_are_typed_errors_and_the_batch_goes_on(
    videos: dict[str, Path], tmp_path: Path
) -> None:
    still = tmp_path / "still.png"
    make(still, "-f", "lavfi", "-i", "color=c=red:size=64x64", "-frames:v", "1")
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "brochure.pdf").write_bytes(b"%PDF-1.7\n%%EOF")
    items = {
        "good": videos["tiktok"],
        "corrupt": b"\x00\x00\x00\x20ftypisom" + bytes(range(256)) * 8,
        "empty": tmp_path / "empty.mp4",
        "pdf": tmp_path / "brochure.pdf",
        "still": still,
        "audio": videos["audio"],
        "missing": tmp_path / "missing.mp4",
    }
    results = {r.name: r for r in check_videos(items, "tiktok")}

    assert {name: r.error.code for name, r in results.items() if r.error} == {
        "corrupt": "corrupt",
        "empty": "corrupt",
        "pdf": "unsupported_format",
        "still": "unsupported_format",
        "audio": "unsupported_format",
        "missing": "not_found",
    }
    good = results["good"]
    assert good.ok and good.info is not None and [c.ok for c in good.checks] == [True]
    with pytest.raises(MissingFileError):
        probe_video(tmp_path / "missing.mp4")


def test_a_missing_or_hanging_probe_is_a_typed_error(videos: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ProbeFailedError, match="cannot run ffmpeg"):
        probe_video(videos["bars"], ffmpeg=str(tmp_path / "no-ffmpeg"))
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nexec sleep 5\n")
    hang.chmod(0o755)
    with pytest.raises(ProbeFailedError, match="did not answer"):
        probe_video(videos["bars"], ffmpeg=str(hang), timeout=0.3)


def test_unknown_video_placements_are_typed_errors(videos: dict[str, Path]) -> None:
    with pytest.raises(UnknownPlacementError, match="no video placement 'link'"):
        check_video(videos["bars"], "meta", "link")
