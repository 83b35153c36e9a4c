"""/edit's pure parts: the file checks by bytes, and the command's shape."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.media import MediaProblem
from cogs.edit import Edit, prepare_files

MAX = 1024 * 1024


def upload_type(upload):
    return upload.file_name, upload.content_type


def picture(fmt: str, size=(40, 30), mode="RGB", colour=(10, 200, 90)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, format=fmt)
    return out.getvalue()


def test_each_image_is_named_and_typed_by_its_bytes():
    files = prepare_files(
        [("image", picture("PNG")), ("image2", picture("JPEG")), ("image3", picture("WEBP"))],
        None,
        max_bytes=MAX,
    )
    assert files.mask is None
    assert [(u.label, u.file_name, u.content_type) for u in files.images] == [
        ("image", "image.png", "image/png"),
        ("image2", "image2.jpg", "image/jpeg"),
        ("image3", "image3.webp", "image/webp"),
    ]


def test_a_gif_is_sent_as_a_gif_whatever_discord_called_it():
    gif = picture("GIF", mode="P", colour=3)
    [upload] = prepare_files([("image", gif)], None, max_bytes=MAX).images
    assert upload_type(upload) == ("image.gif", "image/gif")
    assert upload.data == gif


def test_bytes_over_the_limit_are_refused_even_if_the_declared_size_was_small():
    big = picture("PNG") + b"\0" * MAX
    with pytest.raises(MediaProblem, match="image2 file is too large"):
        prepare_files([("image", picture("PNG")), ("image2", big)], None, max_bytes=MAX)


def test_a_truncated_png_is_refused():
    data = picture("PNG", size=(300, 300), mode="RGB")
    with pytest.raises(MediaProblem, match="image file is not a PNG"):
        prepare_files([("image", data[: len(data) // 2])], None, max_bytes=MAX)


def test_a_mask_that_is_not_an_image_is_refused():
    with pytest.raises(MediaProblem, match="mask file is not a PNG"):
        prepare_files([("image", picture("PNG"))], b"GIF89a but not really", max_bytes=MAX)


def test_the_mask_becomes_pure_black_and_white_png_of_the_same_size():
    grey = picture("JPEG", mode="L", colour=180)
    files = prepare_files([("image", picture("PNG"))], grey, max_bytes=MAX)
    assert files.mask is not None
    assert upload_type(files.mask) == ("mask.png", "image/png")
    with Image.open(io.BytesIO(files.mask.data)) as mask:
        assert mask.format == "PNG" and mask.size == (40, 30)
        assert mask.convert("L").getextrema() == (255, 255)


def test_a_mask_that_keeps_everything_is_refused():
    dark = picture("PNG", mode="L", colour=100)
    with pytest.raises(MediaProblem, match="all black"):
        prepare_files([("image", picture("PNG"))], dark, max_bytes=MAX)


def test_option_names_and_descriptions_fit_discord():
    command = Edit.edit
    names = [parameter.name for parameter in command.parameters]
    assert names == [
        "image",
        "prompt",
        "mask",
        "image2",
        "image3",
        "aspect_ratio",
        "negative_prompt",
        "seed",
        "style",
    ]
    assert [p.required for p in command.parameters] == [True, True] + [False] * 7
    assert 1 <= len(command.description) <= 100
    assert all(1 <= len(p.description) <= 100 for p in command.parameters)
    assert [c.value for c in command.get_parameter("aspect_ratio").choices] == [
        "1:1",
        "16:9",
        "9:16",
        "4:3",
        "3:4",
    ]
