"""The simulated video: a small real MP4 shipped in the package, padded on the fly when asked."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from functools import cache
from importlib import resources

# Made once with: ffmpeg -f lavfi -i testsrc=duration=2:size=160x160:rate=25
#   -f lavfi -i anullsrc=channel_layout=mono:sample_rate=22050 -t 2 -c:v libx264
#   -pix_fmt yuv420p -profile:v baseline -crf 30 -c:a aac -b:a 32k -shortest
#   -movflags +faststart -map_metadata -1 -fflags +bitexact sample.mp4
ASSET_NAME = "sample.mp4"
STREAM_CHUNK = 256 * 1024
BOX_HEADER = 8
LARGE_BOX_HEADER = 16
MAX_32BIT_BOX = 0xFFFFFFFF


@cache
def asset_bytes() -> bytes:
    """A 2-second 160x160 H.264 + silent AAC MP4 (ffmpeg testsrc), about 9 KB."""
    return resources.files(__package__).joinpath("assets", ASSET_NAME).read_bytes()


def padding_length(asset_size: int, wanted_size: int | None) -> int:
    """Bytes of ``free`` box to append. A box takes 8 bytes at least, so a size 1 to 7 bytes
    above the asset's becomes 8."""
    if wanted_size is None or wanted_size <= asset_size:
        return 0
    return max(wanted_size - asset_size, BOX_HEADER)


def video_length(wanted_size: int | None) -> int:
    asset_size = len(asset_bytes())
    return asset_size + padding_length(asset_size, wanted_size)


def free_box_header(length: int) -> bytes:
    """The header of a top-level ``free`` box of ``length`` bytes in all (players skip it)."""
    if length <= MAX_32BIT_BOX:
        return struct.pack(">I4s", length, b"free")
    return struct.pack(">I4sQ", 1, b"free", length)


def video_chunks(wanted_size: int | None) -> Iterator[bytes]:
    """The video's bytes in chunks of at most STREAM_CHUNK, never all at once."""
    asset = asset_bytes()
    yield asset
    padding = padding_length(len(asset), wanted_size)
    if not padding:
        return
    header = free_box_header(padding)
    yield header
    zeros_left = padding - len(header)
    zero_chunk = bytes(min(STREAM_CHUNK, zeros_left))
    while zeros_left > 0:
        size = min(STREAM_CHUNK, zeros_left)
        yield zero_chunk if size == len(zero_chunk) else zero_chunk[:size]
        zeros_left -= size
