"""Join MP3 parts into one file that plays straight through.

Each part's tags (an ID3v2 header, an APE or ID3v1 tag at the end) and its
Xing/Info/LAME or VBRI frame (which states that part's own length, and would make
a player stop or mis-seek after the first part) are dropped; what is left are
plain MPEG audio frames, and frames concatenate. Every part must be whole frames:
a truncated part is refused, never joined.
"""

from __future__ import annotations

from dataclasses import dataclass

# Layer III bitrates (kbps) by bitrate index: MPEG-1, then MPEG-2 / 2.5.
KBPS = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
# Sample rates by version bits (3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5) and index.
RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


class InvalidMP3(ValueError):
    """The bytes are not whole MPEG layer III frames."""


@dataclass(frozen=True, slots=True)
class Frame:
    offset: int
    length: int
    samples: int
    sample_rate: int


def frame_at(data: bytes, offset: int) -> Frame | None:
    """Return the layer III frame whose header starts at offset, or None."""
    if offset + 4 > len(data):
        return None
    header = int.from_bytes(data[offset : offset + 4], "big")
    version, layer = (header >> 19) & 3, (header >> 17) & 3
    bitrate_index, rate_index = (header >> 12) & 0xF, (header >> 10) & 3
    if header >> 21 != 0x7FF or version == 1 or layer != 1:
        return None
    if bitrate_index in (0, 15) or rate_index == 3:
        return None  # free-format or reserved: not something an encoder sends us
    mpeg1 = version == 3
    kbps = KBPS[1 if mpeg1 else 2][bitrate_index]
    rate = RATES[version][rate_index]
    samples = 1152 if mpeg1 else 576
    padding = (header >> 9) & 1
    length = samples // 8 * kbps * 1000 // rate + padding
    return Frame(offset, length, samples, rate)


def audio_frames(data: bytes) -> tuple[int, int, list[Frame]]:
    """Return (start, end, frames): the audio frames between the tags of data."""
    start, end = _tag_bounds(data)
    frames = []
    offset = start
    while offset < end:
        frame = frame_at(data, offset)
        if frame is None or offset + frame.length > end:
            raise InvalidMP3(f"no whole MPEG frame at byte {offset}")
        frames.append(frame)
        offset += frame.length
    if not frames:
        raise InvalidMP3("no MPEG audio frames")
    if _is_info_frame(data, frames[0]):
        frames = frames[1:]
        start = frames[0].offset if frames else end
    return start, end, frames


def strip_tags(data: bytes) -> bytes:
    """Return data's MPEG audio frames alone (see the module docstring)."""
    start, end, frames = audio_frames(data)
    if not frames:
        raise InvalidMP3("no MPEG audio frames")
    return data[start:end]


def seconds(data: bytes) -> float:
    """Return the playing time of data's audio frames."""
    _, _, frames = audio_frames(data)
    return sum(f.samples / f.sample_rate for f in frames)


def join(parts: list[bytes]) -> bytes:
    """Return one MP3 of the parts' audio frames, in order."""
    return b"".join(strip_tags(part) for part in parts)


def _tag_bounds(data: bytes) -> tuple[int, int]:
    start = 0
    while data[start : start + 3] == b"ID3" and len(data) >= start + 10:
        size = 0
        for byte in data[start + 6 : start + 10]:  # syncsafe: 7 bits a byte
            size = size << 7 | (byte & 0x7F)
        footer = 10 if data[start + 5] & 0x10 else 0
        start += 10 + size + footer
    end = len(data)
    if end - start >= 128 and data[end - 128 : end - 125] == b"TAG":
        end -= 128
    if end - start >= 32 and data[end - 32 : end - 24] == b"APETAGEX":
        size = int.from_bytes(data[end - 20 : end - 16], "little")
        has_header = data[end - 9] & 0x80
        end -= size + (32 if has_header else 0)
    return start, end


def _is_info_frame(data: bytes, frame: Frame) -> bool:
    """Return whether frame is a Xing/Info (LAME) or VBRI header, not audio."""
    header = int.from_bytes(data[frame.offset : frame.offset + 4], "big")
    mpeg1 = (header >> 19) & 3 == 3
    mono = (header >> 6) & 3 == 3
    side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    crc = 0 if header >> 16 & 1 else 2
    xing = frame.offset + 4 + crc + side_info
    return data[xing : xing + 4] in (b"Xing", b"Info") or (
        data[frame.offset + 36 : frame.offset + 40] == b"VBRI"
    )
