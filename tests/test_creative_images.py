"""Image assets: smart crops keep the product whole, element variants, platform checks, bad input."""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from tools.creative.background import swap_background
from tools.creative.checks import RuleName, check_image, conform_image
from tools.creative.crop import crop_for, parse_aspect, plan_crop
from tools.creative.decode import load_image
from tools.creative.errors import (
    CorruptMediaError,
    CreativeError,
    ImageTooLargeError,
    ImageTooSmallError,
    MissingFileError,
    NoBackgroundError,
    TextDoesNotFitError,
    UnknownPlacementError,
    UnsupportedCharactersError,
    UnsupportedFormatError,
)
from tools.creative.images import process_images, variants_for_platforms
from tools.creative.overlay import AA_TEXT, add_cta_button, contrast_ratio, fit_text, overlay_text
from tools.creative.saliency import find_subject
from tools.creative.specs import IMAGE_RULES, ImageRule, image_rule

BACKDROP = (236, 234, 228)
RED = (205, 28, 36)


def scene(size: tuple[int, int], product: tuple[int, int, int, int], *, shape: str = "rect") -> Image.Image:
    image = Image.new("RGB", size, BACKDROP)
    draw = ImageDraw.Draw(image)
    (draw.ellipse if shape == "ellipse" else draw.rectangle)(product, fill=RED)
    return image


def red_pixels(image: Image.Image) -> int:
    arr = np.asarray(image.convert("RGB")).astype(int)
    return int(((arr[..., 0] > 150) & (arr[..., 1] < 90) & (arr[..., 2] < 90)).sum())


def red_touches_edge(image: Image.Image) -> bool:
    arr = np.asarray(image.convert("RGB")).astype(int)
    red = (arr[..., 0] > 150) & (arr[..., 1] < 90) & (arr[..., 2] < 90)
    return bool(red[0].any() or red[-1].any() or red[:, 0].any() or red[:, -1].any())


def file_bytes(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@functools.cache
def noisy_png(side: int) -> bytes:
    """Incompressible pixels: a PNG well over X's 5 MB at 1400 px a side (made once per run)."""
    return file_bytes(noise((side, side)), "PNG", compress_level=1)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` pixels: the shape of a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


# --- smart crop -----------------------------------------------------------------------------------------

# A square product shot with the product near the right edge and low in the frame.
OFF_CENTRE = (1020, 860, 1170, 1110)


@pytest.mark.parametrize(("aspect", "size"), [("9:16", (1080, 1920)), ("1.91:1", (1200, 628))])
def test_an_off_centre_product_stays_whole_where_a_centre_crop_cuts_it(
    aspect: str, size: tuple[int, int]
) -> None:
    source = scene((1200, 1200), OFF_CENTRE)
    whole = red_pixels(source)

    smart = crop_for(source, aspect, size=size)
    centre = crop_for(source, aspect, strategy="center", size=size)
    plan = plan_crop(source, aspect)

    assert smart.size == size
    left, top, right, bottom = plan.box
    assert left <= OFF_CENTRE[0] and top <= OFF_CENTRE[1] and right > OFF_CENTRE[2] and bottom > OFF_CENTRE[3]
    assert not plan.padded and plan.method == "smart"
    scale = size[0] / plan.size[0]
    assert red_pixels(smart) == pytest.approx(whole * scale**2, rel=0.03)
    assert not red_touches_edge(smart)  # a margin is kept around the product
    assert red_pixels(centre) < 0.5 * whole * scale**2  # the centre crop cuts most of it away


def test_the_subject_box_is_found_by_colour_distance_from_the_border() -> None:
    subject = find_subject(scene((1200, 1200), OFF_CENTRE))
    assert subject.cue == "colour" and subject.plain_background
    assert subject.box is not None
    for found, true in zip(subject.box, (*OFF_CENTRE[:2], OFF_CENTRE[2] + 1, OFF_CENTRE[3] + 1), strict=True):
        assert abs(found - true) <= 12


def test_a_subject_wider_than_the_window_is_padded_with_the_border_colour_not_cut() -> None:
    source = scene((1600, 900), (150, 380, 1450, 520))
    plan = plan_crop(source, "9:16")
    out = crop_for(source, "9:16")

    assert plan.method == "smart+pad" and plan.padded
    assert plan.pad_colour == BACKDROP
    assert out.width / out.height == pytest.approx(9 / 16, rel=0.01)
    assert red_pixels(out) == pytest.approx(red_pixels(source), rel=0.01)
    assert out.getpixel((out.width // 2, 2)) == BACKDROP


def test_pad_strategy_letterboxes_the_whole_image() -> None:
    source = scene((1600, 900), (*OFF_CENTRE[:2], 1300, 880))
    out = crop_for(source, "1:1", strategy="pad")
    assert out.size == (1600, 1600)
    assert red_pixels(out) == red_pixels(source)
    assert out.getpixel((800, 5)) == BACKDROP


def test_a_transparent_png_product_is_found_by_its_alpha() -> None:
    source = Image.new("RGBA", (1000, 1000), (0, 0, 0, 0))
    ImageDraw.Draw(source).rectangle((60, 700, 220, 960), fill=(*RED, 255))
    loaded = load_image(file_bytes(source, "PNG"))
    subject = find_subject(loaded.image)
    assert subject.cue == "alpha" and subject.box is not None
    out = crop_for(loaded.image, "1.91:1")
    assert red_pixels(out) == pytest.approx(red_pixels(source), rel=0.01)
    assert out.getpixel((out.width - 3, 3)) == (255, 255, 255)  # transparency flattened on white


def test_a_bright_product_on_a_textured_backdrop_is_kept_whole() -> None:
    rng = np.random.default_rng(4)
    field = ndimage.gaussian_filter(rng.normal(0, 1, (90, 160, 3)), sigma=(6, 6, 0))
    field = 60 + 120 * (field - field.min()) / (field.max() - field.min())  # muted blotches, no strong red
    field[..., 0] *= 0.8
    source = Image.fromarray(field.astype(np.uint8)).resize((1600, 900), Image.Resampling.BICUBIC)
    ImageDraw.Draw(source).rectangle((1280, 300, 1420, 520), fill=RED)
    subject = find_subject(source)
    assert not subject.plain_background
    out = crop_for(source, "9:16")
    assert red_pixels(out) >= 0.97 * red_pixels(source) * (out.width / plan_crop(source, "9:16").size[0]) ** 2


def test_variants_cover_every_placement_and_aspect_at_the_recommended_size() -> None:
    source = scene((1500, 1500), OFF_CENTRE)
    variants = variants_for_platforms(source, "all")
    expected = {(p, pl, a.name) for (p, pl), rule in IMAGE_RULES.items() for a in rule.aspects}
    assert {(v.platform, v.placement, v.aspect) for v in variants} == expected
    for variant in variants:
        rule = image_rule(variant.platform, variant.placement)
        aspect = next(a for a in rule.aspects if a.name == variant.aspect)
        assert variant.image.size == variant.size == aspect.recommended
        width, height = variant.crop_box[2] - variant.crop_box[0], variant.crop_box[3] - variant.crop_box[1]
        assert width / height == pytest.approx(aspect.ratio, rel=0.01)
        assert "image" not in variant.model_dump()
        assert variant.model_dump()["method"] == "smart"
    assert {v.platform for v in variants_for_platforms(source, "x, tiktok")} == {"x", "tiktok"}


def test_a_small_source_is_marked_as_upscaled() -> None:
    variants = variants_for_platforms(scene((400, 400), (300, 250, 380, 390)), ["meta"])
    assert all(v.upscaled and v.scale > 1 for v in variants)


@pytest.mark.parametrize(("aspect", "ratio"), [("9:16", 0.5625), ("1.91:1", 1.91), ((4, 5), 0.8), (1.5, 1.5)])
def test_aspects_are_read_from_platform_notation(aspect: str | tuple[int, int] | float, ratio: float) -> None:
    assert parse_aspect(aspect) == pytest.approx(ratio)


@pytest.mark.parametrize("aspect", ["wide", "0:1", "-1:2", 0.0])
def test_nonsense_aspects_are_refused(aspect: str | float) -> None:
    with pytest.raises(ValueError, match="aspect"):
        parse_aspect(aspect)


# --- element variants -----------------------------------------------------------------------------------


def test_background_swap_recolours_the_backdrop_and_keeps_the_product_and_its_holes() -> None:
    source = Image.new("RGB", (800, 800), BACKDROP)
    draw = ImageDraw.Draw(source)
    draw.ellipse((200, 200, 600, 600), fill=RED)
    draw.ellipse((330, 330, 470, 470), fill=BACKDROP)  # backdrop-coloured, but inside the product
    out, swap = swap_background(source, "#1e90ff")

    assert swap.old == BACKDROP and swap.new == (30, 144, 255) and swap.cue == "colour"
    assert out.getpixel((10, 10)) == (30, 144, 255)
    assert out.getpixel((400, 400)) == BACKDROP
    assert out.getpixel((250, 400)) == RED
    assert red_pixels(out) == pytest.approx(red_pixels(source), rel=0.01)


def test_background_swap_refuses_a_picture_without_a_plain_backdrop() -> None:
    with pytest.raises(NoBackgroundError, match="not a plain colour"):
        swap_background(noise((400, 400)), "white")


def test_a_headline_is_sized_to_fill_its_box_and_wraps() -> None:
    short = fit_text("Sale", (600, 200))
    long = fit_text("Summer sale: thirty percent off every pair of running shoes", (600, 200))
    assert short.font_size > long.font_size
    assert len(long.lines) > 1
    for layout in (short, long):
        assert layout.width <= 600 and layout.height <= 200


def test_overlay_text_stays_in_its_box() -> None:
    source = Image.new("RGB", (1080, 1080), (250, 250, 250))
    box = (100, 80, 980, 360)
    out, layout = overlay_text(source, "New colours are here", box)
    arr = np.asarray(out).astype(int)
    ink = np.abs(arr - 250).sum(axis=2) > 60
    ys, xs = np.nonzero(ink)
    assert xs.min() >= box[0] and xs.max() < box[2] and ys.min() >= box[1] and ys.max() < box[3]
    assert layout.font_size > 40


@pytest.mark.parametrize(
    ("backdrop", "expected"), [((20, 24, 40), (255, 255, 255)), ((245, 240, 230), (0, 0, 0))]
)
def test_text_colour_is_chosen_for_contrast(
    backdrop: tuple[int, int, int], expected: tuple[int, int, int]
) -> None:
    _, layout = overlay_text(Image.new("RGB", (600, 300), backdrop), "Shop the drop", (0, 0, 600, 300))
    assert layout.colour == expected
    assert layout.contrast is not None and layout.contrast >= AA_TEXT and layout.scrim_alpha == 0


def test_a_busy_background_gets_a_scrim_so_the_text_still_reads() -> None:
    stripes = np.zeros((300, 600, 3), dtype=np.uint8)
    stripes[:, ::20] = 255
    for k in range(1, 10):
        stripes[:, k::20] = 255
    _, layout = overlay_text(Image.fromarray(stripes), "Limited edition", (0, 0, 600, 300))
    assert layout.scrim_alpha > 0
    assert layout.contrast is not None and layout.contrast >= AA_TEXT


def test_accented_latin_renders_and_scripts_the_font_lacks_are_refused() -> None:
    fit_text("Café crème — 20 € de réduction", (800, 200))
    with pytest.raises(UnsupportedCharactersError, match="价"):
        fit_text("限时价格", (800, 200))
    with pytest.raises(UnsupportedCharactersError):
        fit_text("Sale 🔥", (800, 200))


def test_text_that_cannot_fit_is_a_typed_error() -> None:
    with pytest.raises(TextDoesNotFitError):
        fit_text("Extraordinarily", (40, 10))


@pytest.mark.parametrize("colour", ["#1877F2", "#FFD700", "#222222", "#E60023", "#00C16A"])
def test_cta_button_colour_variants_keep_their_text_readable(colour: str) -> None:
    source = scene((1080, 1920), (380, 500, 700, 900))
    out, button = add_cta_button(source, "Shop now", colour=colour)
    assert button.text.contrast is not None and button.text.contrast >= AA_TEXT
    assert contrast_ratio(button.colour, button.text.colour or (0, 0, 0)) >= AA_TEXT
    left, top, _, bottom = button.box
    assert out.getpixel((left + 12, (top + bottom) // 2)) == button.colour
    assert button.text.lines == ["Shop now"]


# --- checks ---------------------------------------------------------------------------------------------


def test_a_conforming_image_passes_its_placement_check() -> None:
    result = check_image(file_bytes(scene((1080, 1350), OFF_CENTRE), "JPEG", quality=90), "meta", "feed")
    assert result.ok and result.aspect == "4:5" and result.format == "JPEG"


@pytest.mark.parametrize(
    ("make", "platform", "placement", "broken"),
    [
        (lambda: file_bytes(scene((1080, 1080), OFF_CENTRE), "BMP"), "x", "timeline", {RuleName.FILE_TYPE}),
        (lambda: file_bytes(scene((1080, 1080), OFF_CENTRE), "GIF"), "meta", "feed", {RuleName.FILE_TYPE}),
        (
            lambda: file_bytes(scene((1080, 1920), OFF_CENTRE), "WEBP"),
            "tiktok",
            "in_feed",
            {RuleName.FILE_TYPE},
        ),
        (lambda: noisy_png(1400), "x", "timeline", {RuleName.FILE_SIZE}),
        (
            lambda: file_bytes(scene((400, 400), (10, 10, 90, 90)), "PNG"),
            "meta",
            "feed",
            {RuleName.MIN_DIMENSIONS},
        ),
        (
            lambda: file_bytes(scene((1080, 1900), OFF_CENTRE), "PNG"),
            "meta",
            "stories",
            {RuleName.ASPECT_RATIO},
        ),
        (
            lambda: file_bytes(scene((1200, 628), OFF_CENTRE), "JPEG"),
            "meta",
            "stories",
            {RuleName.ASPECT_RATIO, RuleName.MIN_DIMENSIONS},
        ),
        (lambda: file_bytes(scene((1080, 1100), OFF_CENTRE), "JPEG"), "meta", "feed", set()),  # within 3 %
    ],
)
def test_each_broken_rule_is_named(
    make: Callable[[], bytes], platform: str, placement: str, broken: set[RuleName]
) -> None:
    result = check_image(make(), platform, placement)
    assert result.broken() == broken
    assert all(v.message and v.actual and v.limit for v in result.violations)


def test_a_maximum_size_is_checked_when_a_rule_has_one() -> None:
    rule = ImageRule.model_validate(image_rule("meta", "feed").model_dump() | {"max_size": (1000, 1000)})
    result = check_image(file_bytes(scene((1080, 1080), OFF_CENTRE), "PNG"), "meta", "feed", rule=rule)
    assert result.broken() == {RuleName.MAX_DIMENSIONS}


def test_an_oversized_png_is_reencoded_as_a_jpeg_under_the_limit() -> None:
    data = noisy_png(1400)
    assert len(data) > image_rule("x", "timeline").max_bytes
    fixed = conform_image(data, "x", "timeline")
    assert fixed.check.ok and fixed.format == "JPEG"
    assert len(fixed.data) <= image_rule("x", "timeline").max_bytes
    assert any("JPEG" in action for action in fixed.actions)


def test_an_unaccepted_type_and_aspect_are_converted_and_smart_cropped() -> None:
    data = file_bytes(scene((1600, 900), (1380, 300, 1560, 600)), "BMP")
    fixed = conform_image(data, "x", "timeline")
    assert fixed.check.ok and fixed.format == "JPEG" and fixed.check.aspect == "1.91:1"
    assert red_pixels(Image.open(io.BytesIO(fixed.data))) > 0.95 * 180 * 300


def test_a_passing_file_is_returned_unchanged() -> None:
    data = file_bytes(scene((1080, 1080), OFF_CENTRE), "PNG")
    fixed = conform_image(data, "meta", "feed")
    assert fixed.data == data and fixed.actions == []


def test_a_small_image_is_upscaled_to_the_minimum_and_says_so() -> None:
    fixed = conform_image(file_bytes(scene((400, 400), (250, 250, 380, 380)), "PNG"), "meta", "feed")
    assert fixed.check.ok and (fixed.check.width, fixed.check.height) == (600, 600)
    assert any("upscaled" in action for action in fixed.actions)


def test_what_cannot_be_fixed_is_reported_not_hidden() -> None:
    rule = ImageRule.model_validate(image_rule("meta", "feed").model_dump() | {"max_bytes": 20_000})
    fixed = conform_image(file_bytes(noise((700, 700)), "PNG"), "meta", "feed", rule=rule)
    assert fixed.check.broken() == {RuleName.FILE_SIZE}
    assert "could not meet the size limit" in fixed.actions[-1]
    assert min(fixed.check.width, fixed.check.height) >= 600


# --- bad input ------------------------------------------------------------------------------------------

GOOD = file_bytes(scene((1200, 1200), OFF_CENTRE), "JPEG")
BAD_INPUTS = [
    ("random bytes", bytes(range(256)) * 8, CorruptMediaError, "corrupt"),
    ("empty", b"", CorruptMediaError, "corrupt"),
    ("truncated jpeg", GOOD[: len(GOOD) // 2], CorruptMediaError, "corrupt"),
    (
        "pdf",
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF",
        UnsupportedFormatError,
        "unsupported_format",
    ),
    (
        "svg",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>',
        UnsupportedFormatError,
        "unsupported_format",
    ),
    (
        "heic",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
        UnsupportedFormatError,
        "unsupported_format",
    ),
    ("1x1 pixel", file_bytes(Image.new("RGB", (1, 1)), "PNG"), ImageTooSmallError, "too_small"),
    ("bomb past Pillow's limit", png_header_only(100_000, 100_000), ImageTooLargeError, "too_many_pixels"),
    ("bomb past our limit", png_header_only(9_000, 9_000), ImageTooLargeError, "too_many_pixels"),
]


@pytest.mark.parametrize(("label", "data", "error", "code"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_typed_error(
    label: str, data: bytes, error: type[CreativeError], code: str
) -> None:
    for call in (
        lambda: load_image(data),
        lambda: check_image(data, "meta", "feed"),
        lambda: variants_for_platforms(data, "all"),
        lambda: conform_image(data, "x", "timeline"),
    ):
        with pytest.raises(error) as caught:
            call()
        assert caught.value.code == code and str(caught.value)


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (120, 120), (80 * i, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def _rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned; display rotated 90 degrees
    return file_bytes(Image.new("RGB", (300, 200), RED), "JPEG", exif=exif)


@pytest.mark.parametrize(
    ("make", "size", "mode", "pixel", "note"),
    [
        (_rotated_jpeg, (200, 300), "RGB", None, None),
        (_animated_gif, (120, 120), "RGB", (0, 0, 0), "first of 3 frames"),
        (
            lambda: file_bytes(Image.new("CMYK", (100, 100), (0, 255, 255, 0)), "JPEG"),
            (100, 100),
            "RGB",
            None,
            "CMYK",
        ),
        (
            lambda: file_bytes(Image.fromarray(np.full((90, 90), 40_000, np.uint16)), "PNG"),
            (90, 90),
            "RGB",
            (155,) * 3,
            None,
        ),
        (
            lambda: file_bytes(Image.new("P", (80, 80), 0), "PNG", transparency=0),
            (80, 80),
            "RGBA",
            None,
            None,
        ),
    ],
    ids=["exif-rotated", "animated-gif", "cmyk", "16-bit", "palette-transparency"],
)
def test_odd_but_valid_images_are_normalised(
    make: Callable[[], bytes],
    size: tuple[int, int],
    mode: str,
    pixel: tuple[int, ...] | None,
    note: str | None,
) -> None:
    loaded = load_image(make())
    assert loaded.image.size == size and loaded.image.mode == mode
    if pixel is not None:
        assert loaded.image.getpixel((5, 5)) == pixel
    if note is not None:
        assert any(note in n for n in loaded.notes)


def test_the_pixel_limit_is_a_parameter() -> None:
    with pytest.raises(ImageTooLargeError, match="limit is 10,000"):
        load_image(file_bytes(scene((200, 200), (10, 10, 50, 50)), "PNG"), max_pixels=10_000)
    assert load_image(file_bytes(scene((200, 200), (10, 10, 50, 50)), "PNG"), max_pixels=40_000).width == 200


def test_a_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError):
        load_image(tmp_path / "nope.png")


def test_unknown_platforms_and_placements_are_typed_errors() -> None:
    with pytest.raises(UnknownPlacementError, match="known: meta, x, tiktok"):
        variants_for_platforms(GOOD, "myspace")
    with pytest.raises(UnknownPlacementError, match="no image placement 'reels'"):
        check_image(GOOD, "tiktok", "reels")


def test_a_batch_reports_each_bad_item_and_finishes_the_rest(tmp_path: Path) -> None:
    good_path = tmp_path / "good.png"
    good_path.write_bytes(file_bytes(scene((1000, 1000), OFF_CENTRE), "PNG"))
    items = [
        ("good.jpg", GOOD),
        ("corrupt.jpg", bytes(range(256)) * 4),
        ("brochure.pdf", b"%PDF-1.4 ..."),
        ("pixel.png", file_bytes(Image.new("RGB", (1, 1)), "PNG")),
        ("bomb.png", png_header_only(100_000, 100_000)),
        ("missing.png", tmp_path / "missing.png"),
        ("good.png", good_path),
    ]
    results = process_images(items, "all")

    assert [r.name for r in results] == [name for name, _ in items]
    errors = {r.name: r.error.code for r in results if r.error}
    assert errors == {
        "corrupt.jpg": "corrupt",
        "brochure.pdf": "unsupported_format",
        "pixel.png": "too_small",
        "bomb.png": "too_many_pixels",
        "missing.png": "not_found",
    }
    placements = sum(len(rule.aspects) for rule in IMAGE_RULES.values())
    for result in (results[0], results[-1]):
        assert result.ok and len(result.files) == placements
        assert all(f.check.ok and f.format in {"JPEG", "PNG"} for f in result.files)
        assert all(Image.open(io.BytesIO(f.data)).size == f.variant.size for f in result.files)
