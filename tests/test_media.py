from __future__ import annotations

import io
import struct
import wave
import zlib

import pytest
from PIL import Image

from bot.media import (
    AudioInfo,
    ImageInfo,
    MediaProblem,
    check_attachment_size,
    check_audio_attachment,
    check_image_attachment,
    check_mask,
    normalize_mask,
    sniff_audio,
    sniff_image,
)

MIB = 1024 * 1024


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 90)).save(out, format=fmt)
    return out.getvalue()


def wav_bytes() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x01" * 800)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# An MPEG-1 Layer III frame header: sync, 128 kbit/s, 44.1 kHz, then a little payload.
MP3_FRAME = bytes([0xFF, 0xFB, 0x90, 0x64]) + b"\x00" * 64
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + MP3_FRAME
OGG = b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis"
FLAC = b"fLaC\x00\x00\x00\x22" + b"\x00" * 34
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A isomiso2\x00\x00\x00\x08free"
MP42 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
ISOM = b"\x00\x00\x00\x14ftypisom\x00\x00\x02\x00mp41"
# Major brand "qt  " but a compatible brand names M4A: still audio-capable.
M4A_COMPATIBLE = b"\x00\x00\x00\x18ftypqt  \x00\x00\x00\x00M4A qt  "
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + b"\x00" * 16


@pytest.mark.parametrize(
    ("fmt", "expected_format", "mime_type", "extension"),
    [
        ("PNG", "PNG", "image/png", "png"),
        ("JPEG", "JPEG", "image/jpeg", "jpg"),
        ("WEBP", "WEBP", "image/webp", "webp"),
        ("GIF", "GIF", "image/gif", "gif"),
    ],
)
def test_sniff_image_recognises_real_images(
    fmt: str, expected_format: str, mime_type: str, extension: str
) -> None:
    info = sniff_image(image_bytes(fmt, size=(64, 48)))
    assert info == ImageInfo(expected_format, 64, 48, mime_type, extension)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"hello, I am a text file called picture.png\n" * 20, id="text-named-png"),
        pytest.param(image_bytes("PNG", (300, 300))[:-40], id="png-truncated-in-the-pixels"),
        pytest.param(image_bytes("PNG")[:30], id="png-truncated-in-the-header"),
        pytest.param(image_bytes("JPEG", (300, 300))[:200], id="jpeg-truncated"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, id="png-signature-then-garbage"),
        pytest.param(image_bytes("BMP"), id="bmp-not-accepted"),
        pytest.param(image_bytes("TIFF"), id="tiff-not-accepted"),
        pytest.param(wav_bytes(), id="audio-in-image-slot"),
        pytest.param(MP3_ID3, id="mp3-in-image-slot"),
    ],
)
def test_sniff_image_refuses_what_is_not_a_decodable_image(data: bytes) -> None:
    assert sniff_image(data) is None


def test_sniff_image_refuses_more_pixels_than_allowed() -> None:
    data = image_bytes("PNG", (100, 100))
    assert sniff_image(data, max_pixels=100 * 100) is not None
    assert sniff_image(data, max_pixels=100 * 100 - 1) is None


def test_sniff_image_treats_a_pillow_decompression_bomb_as_invalid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = image_bytes("PNG", (100, 100))
    # Over Pillow's limit: a DecompressionBombWarning (turned into an error by sniff_image)...
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100 - 1)
    assert sniff_image(data, max_pixels=10**9) is None
    # ...and over twice the limit: a DecompressionBombError.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert sniff_image(data, max_pixels=10**9) is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(MP3_ID3, AudioInfo("MP3", "audio/mpeg", "mp3"), id="mp3-id3"),
        pytest.param(MP3_FRAME, AudioInfo("MP3", "audio/mpeg", "mp3"), id="mp3-frame-sync"),
        pytest.param(wav_bytes(), AudioInfo("WAV", "audio/wav", "wav"), id="wav"),
        pytest.param(OGG, AudioInfo("OGG", "audio/ogg", "ogg"), id="ogg"),
        pytest.param(FLAC, AudioInfo("FLAC", "audio/flac", "flac"), id="flac"),
        pytest.param(M4A, AudioInfo("M4A", "audio/mp4", "m4a"), id="m4a"),
        pytest.param(MP42, AudioInfo("M4A", "audio/mp4", "m4a"), id="mp4-mp42"),
        pytest.param(ISOM, AudioInfo("M4A", "audio/mp4", "m4a"), id="mp4-isom"),
        pytest.param(M4A_COMPATIBLE, AudioInfo("M4A", "audio/mp4", "m4a"), id="m4a-compatible"),
        pytest.param(WEBM, AudioInfo("WEBM", "audio/webm", "webm"), id="webm"),
    ],
)
def test_sniff_audio_recognises_magic_bytes(data: bytes, expected: AudioInfo) -> None:
    assert sniff_audio(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"just some text, saved as song.mp3", id="text-named-mp3"),
        pytest.param(image_bytes("PNG"), id="png-in-audio-slot"),
        pytest.param(image_bytes("JPEG"), id="jpeg-in-audio-slot"),
        pytest.param(image_bytes("GIF"), id="gif-in-audio-slot"),
        pytest.param(image_bytes("WEBP"), id="webp-in-audio-slot"),  # RIFF....WEBP, not WAVE
        pytest.param(bytes([0xFF, 0xF1, 0x50, 0x80]) + b"\x00" * 8, id="aac-adts-layer-00"),
        pytest.param(bytes([0xFF, 0xFB, 0xF0, 0x00]), id="mpeg-bad-bitrate"),
        pytest.param(b"ID3", id="id3-too-short"),
        pytest.param(b"\x00\x00\x00\x18ftypqt  \x00\x00\x00\x00qt  ", id="quicktime-video"),
        pytest.param(b"\x00\x00\x00\x14ftypheic\x00\x00\x00\x00mif1", id="heic-image"),
    ],
)
def test_sniff_audio_refuses_what_is_not_audio(data: bytes) -> None:
    assert sniff_audio(data) is None


def test_check_image_attachment_returns_the_info() -> None:
    info = check_image_attachment(image_bytes("JPEG"), max_bytes=MIB, label="image")
    assert (info.format, info.width, info.height) == ("JPEG", 64, 48)


def test_check_audio_attachment_returns_the_info() -> None:
    info = check_audio_attachment(wav_bytes(), max_bytes=MIB, label="audio")
    assert info.mime_type == "audio/wav"


@pytest.mark.parametrize(
    ("check", "data", "max_bytes", "expected_words"),
    [
        pytest.param(
            check_image_attachment,
            b"not an image at all" * 10,
            MIB,
            ["image2", "not a PNG, JPEG, WEBP or GIF image"],
            id="text-as-image",
        ),
        pytest.param(
            check_image_attachment,
            wav_bytes(),
            MIB,
            ["image2", "not a PNG, JPEG, WEBP or GIF image"],
            id="audio-as-image",
        ),
        pytest.param(
            check_audio_attachment,
            image_bytes("PNG"),
            MIB,
            ["image2", "not audio", "MP3, WAV, OGG, FLAC, M4A or WEBM"],
            id="image-as-audio",
        ),
        pytest.param(
            check_image_attachment,
            image_bytes("PNG") + b"\x00" * (8 * MIB),
            8 * MIB,
            ["image2", "too large (8.1 MB)", "the limit is 8 MB"],
            id="image-just-over-the-limit",
        ),
        pytest.param(
            check_audio_attachment,
            wav_bytes() + b"\x00" * (25 * MIB),
            int(24.5 * MIB),
            ["image2", "too large (25.1 MB)", "the limit is 24.5 MB"],
            id="audio-over-a-fractional-limit",
        ),
        pytest.param(check_image_attachment, b"", MIB, ["image2", "empty"], id="empty"),
    ],
)
def test_checks_explain_what_to_fix(
    check: object, data: bytes, max_bytes: int, expected_words: list[str]
) -> None:
    with pytest.raises(MediaProblem) as caught:
        check(data, max_bytes=max_bytes, label="image2")  # type: ignore[operator]
    message = str(caught.value)
    for words in expected_words:
        assert words in message


def test_size_is_checked_before_the_contents() -> None:
    # A real image that is too large is refused for its size, not its contents.
    data = image_bytes("PNG", (200, 200))
    with pytest.raises(MediaProblem, match="too large"):
        check_image_attachment(data, max_bytes=len(data) - 1, label="image")
    assert check_image_attachment(data, max_bytes=len(data), label="image").width == 200


def test_check_attachment_size_works_on_the_declared_size_alone() -> None:
    check_attachment_size(10 * MIB, max_bytes=10 * MIB, label="image")
    with pytest.raises(MediaProblem, match=r"too large \(10\.1 MB\); the limit is 10 MB"):
        check_attachment_size(10 * MIB + 1, max_bytes=10 * MIB, label="image")


def test_check_mask_accepts_the_same_size() -> None:
    image = ImageInfo("PNG", 640, 480, "image/png", "png")
    mask = ImageInfo("JPEG", 640, 480, "image/jpeg", "jpg")
    check_mask(mask, image)


def test_check_mask_names_both_sizes_when_they_differ() -> None:
    image = ImageInfo("PNG", 640, 480, "image/png", "png")
    mask = ImageInfo("PNG", 480, 640, "image/png", "png")
    with pytest.raises(MediaProblem) as caught:
        check_mask(mask, image)
    message = str(caught.value)
    assert "mask is 480x640 pixels" in message
    assert "image is 640x480 pixels" in message


def grey_gradient(width: int = 256, height: int = 8) -> Image.Image:
    gradient = Image.new("L", (width, height))
    gradient.putdata([x for _ in range(height) for x in range(width)])
    return gradient


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_normalize_mask_thresholds_a_grey_gradient_at_128() -> None:
    result = opened(normalize_mask(png(grey_gradient())))
    assert result.format == "PNG"
    assert result.mode == "L"
    assert result.size == (256, 8)
    assert set(result.tobytes()) == {0, 255}
    assert result.getpixel((127, 0)) == 0
    assert result.getpixel((128, 0)) == 255


def test_normalize_mask_keeps_only_an_opaque_blob_on_a_transparent_background() -> None:
    # Transparent *white* background: only its alpha must make it "keep".
    mask = Image.new("RGBA", (40, 30), (255, 255, 255, 0))
    for x in range(10, 20):
        for y in range(5, 15):
            mask.putpixel((x, y), (255, 255, 255, 255))
    result = opened(normalize_mask(png(mask)))
    assert result.size == (40, 30)
    assert set(result.tobytes()) == {0, 255}
    white = {(x, y) for x in range(40) for y in range(30) if result.getpixel((x, y)) == 255}
    assert white == {(x, y) for x in range(10, 20) for y in range(5, 15)}


@pytest.mark.parametrize(
    ("mode", "colour", "expected"),
    [
        pytest.param("RGB", (255, 0, 0), 0, id="red-is-dark"),  # luminance 76
        pytest.param("RGB", (0, 255, 0), 255, id="green-is-light"),  # luminance 150
        pytest.param("RGB", (250, 250, 250), 255, id="near-white"),
        pytest.param("LA", (255, 100), 0, id="white-mostly-transparent"),  # 255 * 100/255 < 128
        pytest.param("LA", (255, 200), 255, id="white-mostly-opaque"),
        pytest.param("1", 1, 255, id="bilevel-white"),
    ],
)
def test_normalize_mask_colours_and_alpha(mode: str, colour: object, expected: int) -> None:
    result = opened(normalize_mask(png(Image.new(mode, (5, 3), colour))))  # type: ignore[arg-type]
    assert result.size == (5, 3)
    assert set(result.tobytes()) == {expected}


def test_normalize_mask_handles_a_palette_with_a_transparent_colour() -> None:
    mask = Image.new("P", (4, 2), 0)
    mask.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)  # 0 = white, 1 = black
    mask.putpixel((0, 0), 1)
    mask.info["transparency"] = 0  # white is transparent: untouched
    result = opened(normalize_mask(png(mask)))
    assert set(result.tobytes()) == {0}


def test_normalize_mask_scales_16_bit_grey_instead_of_clipping() -> None:
    mask = Image.new("I;16", (3, 1))
    mask.putpixel((0, 0), 1000)  # dark in 16 bits, though over 255
    mask.putpixel((1, 0), 40000)
    mask.putpixel((2, 0), 65535)
    result = opened(normalize_mask(png(mask)))
    assert list(result.tobytes()) == [0, 255, 255]


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "GIF"])
def test_normalize_mask_accepts_every_image_format_and_keeps_the_size(fmt: str) -> None:
    result = opened(normalize_mask(image_bytes(fmt, size=(33, 17))))
    assert result.size == (33, 17)
    assert result.format == "PNG"
    assert set(result.tobytes()) <= {0, 255}


def test_normalize_mask_refuses_what_is_not_an_image() -> None:
    with pytest.raises(MediaProblem, match="mask is not"):
        normalize_mask(b"definitely not a picture")


@pytest.mark.parametrize("size", [(4097, 4096), (9000, 9000)])
def test_a_picture_over_the_pixel_limit_is_refused_by_its_header(size):
    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, format="PNG")
    # A real header announcing `size`, as a decompression bomb's would: IHDR is patched.
    data = bytearray(out.getvalue())
    data[16:24] = struct.pack(">II", *size)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    with pytest.raises(MediaProblem, match="too many pixels"):
        check_image_attachment(bytes(data), max_bytes=10**6, label="image")
