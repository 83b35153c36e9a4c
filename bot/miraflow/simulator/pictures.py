"""Real PNG pictures drawn with Pillow: job results and avatar previews."""

from __future__ import annotations

import hashlib
import io
import struct
import textwrap
import zlib

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

ASPECT_SIZES: dict[str, tuple[int, int]] = {
    "1:1": (512, 512),
    "16:9": (768, 432),
    "9:16": (432, 768),
    "4:3": (640, 480),
    "3:4": (480, 640),
}
DEFAULT_SIZE = ASPECT_SIZES["1:1"]
# Uploaded pictures larger than this (either side) are scaled down for the result.
MAX_SIDE = 1024
PROMPT_WORDS_DRAWN = 8
PREVIEW_SIZE = (256, 256)

# An ancillary ("a"), private ("a"), safe-to-copy ("d") chunk that decoders skip.
PADDING_CHUNK_TYPE = b"paDd"
PNG_CHUNK_OVERHEAD = 12
PNG_IEND_CHUNK = b"\x00\x00\x00\x00IEND\xaeB`\x82"

RGB = tuple[int, int, int]


def _colours(key: str) -> tuple[RGB, RGB]:
    digest = hashlib.sha256(key.encode()).digest()
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


def gradient(size: tuple[int, int], key: str) -> Image.Image:
    """A diagonal two-colour gradient whose colours are derived from ``key``."""
    start, end = _colours(key)
    vertical = Image.linear_gradient("L").resize(size)
    horizontal = Image.linear_gradient("L").rotate(90).resize(size)
    ramp = Image.blend(vertical, horizontal, 0.5)
    return Image.composite(Image.new("RGB", size, end), Image.new("RGB", size, start), ramp)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans where installed (it has accents and more), else Pillow's own font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _draw_caption(picture: Image.Image, text: str) -> None:
    width, height = picture.size
    font_size = max(14, min(width, height) // 12)
    font = _font(font_size)
    wrapped = "\n".join(textwrap.wrap(text, width=max(8, width // (font_size // 2 + 1))))
    draw = ImageDraw.Draw(picture)
    left, top, right, bottom = draw.multiline_textbbox((0, 0), wrapped, font=font, align="center")
    origin = ((width - (right - left)) / 2, (height - (bottom - top)) / 2)
    draw.multiline_text(
        origin,
        wrapped,
        font=font,
        fill=(255, 255, 255),
        align="center",
        stroke_width=max(1, font_size // 12),
        stroke_fill=(0, 0, 0),
    )


def first_words(prompt: str, count: int = PROMPT_WORDS_DRAWN) -> str:
    words = prompt.split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")


def _open_picture(data: bytes | None) -> Image.Image | None:
    if not data:
        return None
    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return picture


def _fitted(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def render_result(
    prompt: str,
    seed_key: str,
    aspect_ratio: str | None,
    base: bytes | None = None,
    mask: bytes | None = None,
) -> bytes:
    """The PNG of an image job.

    generate: a gradient with the prompt's first words. edit (``base``): the reference picture
    tinted by that gradient. inpaint (``base`` and ``mask``): the gradient where the mask is
    white, the original where it is black. Without ``aspect_ratio`` an edit keeps its
    reference's size.
    """
    original = _open_picture(base)
    if aspect_ratio is not None:
        size = ASPECT_SIZES[aspect_ratio]
    elif original is not None:
        size = _fitted(original.size)
    else:
        size = DEFAULT_SIZE
    generated = gradient(size, f"{prompt}\n{seed_key}")
    if original is not None:
        original_rgb = ImageOps.fit(original.convert("RGB"), size)
        mask_picture = _open_picture(mask)
        if mask_picture is not None:
            keep_or_replace = mask_picture.convert("L").resize(size)
            generated = Image.composite(generated, original_rgb, keep_or_replace)
        else:
            generated = Image.blend(original_rgb, generated, 0.35)
    _draw_caption(generated, first_words(prompt))
    return png_bytes(generated)


def render_avatar_preview(name: str, avatar_id: str) -> bytes:
    picture = gradient(PREVIEW_SIZE, avatar_id)
    draw = ImageDraw.Draw(picture)
    draw.ellipse((48, 40, 208, 200), fill=(245, 222, 200), outline=(40, 40, 40), width=4)
    draw.ellipse((88, 92, 104, 108), fill=(40, 40, 40))
    draw.ellipse((152, 92, 168, 108), fill=(40, 40, 40))
    draw.arc((96, 110, 160, 170), start=20, end=160, fill=(40, 40, 40), width=4)
    font = _font(28)
    draw.text(
        (128, 228),
        name,
        font=font,
        fill=(255, 255, 255),
        anchor="mm",
        stroke_width=2,
        stroke_fill=(0, 0, 0),
    )
    return png_bytes(picture)


def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def padded_png(png: bytes, wanted_size: int | None) -> bytes:
    """``png`` grown to ``wanted_size`` bytes by a padding chunk before IEND; still valid.

    A chunk costs 12 bytes at least, so a size 1 to 11 bytes above the natural one becomes 12.
    """
    if wanted_size is None or wanted_size <= len(png):
        return png
    if not png.endswith(PNG_IEND_CHUNK):
        raise ValueError("not a PNG ending with IEND")
    data_length = max(0, wanted_size - len(png) - PNG_CHUNK_OVERHEAD)
    data = bytes(data_length)
    crc = zlib.crc32(data, zlib.crc32(PADDING_CHUNK_TYPE))
    chunk = struct.pack(">I", data_length) + PADDING_CHUNK_TYPE + data + struct.pack(">I", crc)
    body = png[: -len(PNG_IEND_CHUNK)]
    return b"".join((body, chunk, PNG_IEND_CHUNK))
