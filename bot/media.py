"""Checks of user attachments by their bytes, never by their name or declared type.

Images are opened with Pillow (only PNG, JPEG, WEBP and GIF decoders) and really decoded, so a
text file named ``.png`` or a truncated upload is refused before anything is sent to Miraflow.
Audio is recognised by its magic bytes. Decoding an image is CPU work: a cog handling large
attachments may run these functions in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageChops

MAX_IMAGE_PIXELS = 4096 * 4096
"""Refuse images larger than this many pixels before decoding them: one decoded picture is
at most 64 MiB (RGBA), so a handful of simultaneous /edit requests stays within bounds."""
# Pillow's own decompression-bomb check (a warning over it, an error at twice) agrees.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

_MIB = 1024 * 1024

_IMAGE_TYPES: dict[str, tuple[str, str]] = {
    # Pillow format -> (mime type, file extension)
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}

_MP4_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"mp42", b"mp41", b"isom", b"iso2"})


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # "PNG", "JPEG", "WEBP" or "GIF"
    width: int
    height: int
    mime_type: str
    extension: str  # without the dot

    @property
    def size_text(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True, slots=True)
class AudioInfo:
    format: str  # "MP3", "WAV", "OGG", "FLAC", "M4A" or "WEBM"
    mime_type: str
    extension: str  # without the dot


class MediaProblem(Exception):
    """An attachment that cannot be used; ``str(error)`` tells the user what to fix."""


def sniff_image(data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS) -> ImageInfo | None:
    """What image ``data`` holds, or None when it is not a PNG/JPEG/WEBP/GIF that decodes."""
    image = _open_decoded(data, max_pixels=max_pixels)
    if image is None:
        return None
    with image:
        mime_type, extension = _IMAGE_TYPES[image.format or ""]
        return ImageInfo(
            format=image.format or "",
            width=image.width,
            height=image.height,
            mime_type=mime_type,
            extension=extension,
        )


def sniff_audio(data: bytes) -> AudioInfo | None:
    """What audio ``data`` holds, judged by its magic bytes, or None."""
    if (data.startswith(b"ID3") and len(data) >= 10) or _is_mpeg_audio_frame(data):
        return AudioInfo("MP3", "audio/mpeg", "mp3")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return AudioInfo("WAV", "audio/wav", "wav")
    if data.startswith(b"OggS"):
        return AudioInfo("OGG", "audio/ogg", "ogg")
    if data.startswith(b"fLaC"):
        return AudioInfo("FLAC", "audio/flac", "flac")
    if _is_mp4_audio(data):
        return AudioInfo("M4A", "audio/mp4", "m4a")
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return AudioInfo("WEBM", "audio/webm", "webm")
    return None


def normalize_mask(data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS) -> bytes:
    """Turn a painted mask into a pure black-and-white PNG of the same size.

    White (255) means "replace", black (0) means "keep", as Miraflow's inpainting expects.
    Following the usual "paint the area to replace" convention, transparency means untouched:
    the mask is composited onto black, so fully transparent pixels become black (keep) and
    opaque light paint becomes white. Luminance 128 or more is white, below it black. The
    result is a mode "L" PNG holding only the values 0 and 255.

    Raises MediaProblem when ``data`` is not an image that decodes.
    """
    image = _open_decoded(data, max_pixels=max_pixels)
    if image is None:
        raise MediaProblem(
            "The mask is not a PNG, JPEG, WEBP or GIF image I can read. "
            "Please attach the mask as a picture."
        )
    with image:
        grey = _luminance_over_black(image)
    black_and_white = grey.point(lambda value: 255 if value >= 128 else 0)
    grey.close()  # free each full-size buffer as soon as it is done with
    out = io.BytesIO()
    black_and_white.save(out, format="PNG", optimize=True)
    return out.getvalue()


def check_attachment_size(size: int, *, max_bytes: int, label: str) -> None:
    """Refuse an attachment larger than ``max_bytes`` (usable before downloading it)."""
    if size > max_bytes:
        raise MediaProblem(
            f"The {label} file is too large ({_megabytes(size, rounding=math.ceil)} MB); "
            f"the limit is {_megabytes(max_bytes, rounding=math.floor)} MB. "
            "Please attach a smaller file."
        )
    if size == 0:
        raise MediaProblem(f"The {label} file is empty. Please attach it again.")


def check_image_attachment(data: bytes, *, max_bytes: int, label: str) -> ImageInfo:
    check_attachment_size(len(data), max_bytes=max_bytes, label=label)
    info = sniff_image(data)
    if info is None and _header_pixels(data) > MAX_IMAGE_PIXELS:
        side = math.isqrt(MAX_IMAGE_PIXELS)
        raise MediaProblem(
            f"The {label} picture has too many pixels: the limit is {side} x {side}. "
            "Please attach a smaller picture."
        )
    if info is None:
        raise MediaProblem(
            f"The {label} file is not a PNG, JPEG, WEBP or GIF image I can read "
            "(I look at its contents, not its name). Please attach a picture in one of those "
            "formats."
        )
    return info


def check_audio_attachment(data: bytes, *, max_bytes: int, label: str) -> AudioInfo:
    check_attachment_size(len(data), max_bytes=max_bytes, label=label)
    info = sniff_audio(data)
    if info is None:
        raise MediaProblem(
            f"The {label} file is not audio I can use (I look at its contents, not its name). "
            "Please attach an MP3, WAV, OGG, FLAC, M4A or WEBM audio file."
        )
    return info


def check_mask(mask_info: ImageInfo, image_info: ImageInfo) -> None:
    """The mask must cover the image pixel for pixel."""
    if (mask_info.width, mask_info.height) != (image_info.width, image_info.height):
        raise MediaProblem(
            f"The mask is {mask_info.size_text} pixels but the image is "
            f"{image_info.size_text} pixels. Please attach a mask of exactly the image's size."
        )


def _open_decoded(data: bytes, *, max_pixels: int) -> Image.Image | None:
    """Open and fully decode ``data`` (the first frame), or None if that fails."""
    if not data:
        return None
    # Pillow signals images over its own global limit with a warning (and an error at twice
    # the limit); turn the warning into an error so such an image counts as invalid.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(_IMAGE_TYPES))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            return None
        # Pillow's decoders raise many kinds of error on malformed input (OSError, SyntaxError,
        # ValueError, struct.error, ...); any of them means "not an image we can use".
        except Exception:
            return None
        # Only the header has been read so far: refuse a decompression bomb before decoding.
        if image.width <= 0 or image.height <= 0 or image.width * image.height > max_pixels:
            image.close()
            return None
        try:
            image.load()
        except Exception:
            image.close()
            return None
    return image


def _header_pixels(data: bytes) -> int:
    """The pixel count an image's header announces, without decoding it (0 if unreadable)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=list(_IMAGE_TYPES)) as image:
                return image.width * image.height
        except Image.DecompressionBombError:  # Pillow's refusal at twice its limit
            return 2 * MAX_IMAGE_PIXELS + 1  # Image.MAX_IMAGE_PIXELS is ours (above)
        except Exception:  # not an image at all
            return 0


def _luminance_over_black(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit greyscale: scale to 8 bits instead of letting convert("L") clip at 255.
        return image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        # Over black, a pixel's luminance is scaled by its opacity: L * A / 255. Worked out
        # channel by channel, this needs one byte a pixel per step, not RGBA copies.
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        luminance, alpha = rgba.convert("L"), rgba.getchannel("A")
        if rgba is not image:
            rgba.close()
        over_black = ImageChops.multiply(luminance, alpha)
        luminance.close()
        alpha.close()
        return over_black
    return image.convert("L")


def _is_mpeg_audio_frame(data: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, then no reserved version, layer, rate."""
    if len(data) < 4 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return False
    version = (data[1] >> 3) & 0b11
    layer = (data[1] >> 1) & 0b11  # 00 is reserved here, and is what AAC (ADTS) uses
    bitrate_index = data[2] >> 4
    sample_rate_index = (data[2] >> 2) & 0b11
    return version != 0b01 and layer != 0b00 and bitrate_index != 0xF and sample_rate_index != 0b11


def _is_mp4_audio(data: bytes) -> bool:
    """An ISO media file whose ``ftyp`` box names an audio-capable brand."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return False
    box_size = int.from_bytes(data[0:4], "big")
    major_brand = data[8:12]
    # After the major brand come a 4-byte minor version and the compatible brands.
    compatible = data[16 : max(16, min(box_size, len(data)))]
    brands = {major_brand} | {compatible[i : i + 4] for i in range(0, len(compatible) - 3, 4)}
    return bool(brands & _MP4_AUDIO_BRANDS)


def _megabytes(size: int, *, rounding: Callable[[float], int]) -> str:
    """A byte count in Discord's MB (really MiB) to one decimal, without a pointless ``.0``."""
    tenths = rounding(size * 10 / _MIB)
    return f"{tenths // 10}.{tenths % 10}".removesuffix(".0")
