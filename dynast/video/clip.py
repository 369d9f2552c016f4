"""Driving clips in, result videos out, as streams (imageio-ffmpeg's ffmpeg does the codecs).

Reading: only MP4/MOV, WebM/MKV, AVI and GIF files, recognised by their first bytes and
opened with that demuxer forced and the ``file`` protocol alone, so a file cannot make
ffmpeg read playlists, other files or URLs. Frames come one at a time as uint8 RGB, scaled
by ffmpeg so that the long side is at most :data:`DECODE_SIDE` (poses and the side-by-side
panel need no more). Limits (:class:`ClipLimits`): file size, frame pixels, duration.

Writing: H.264 (libx264, yuv420p, ``+faststart``) MP4, which Chromium, Firefox, Safari and
Gradio's video component play; or an animated GIF (ffmpeg's palette filters). Frames are
piped to ffmpeg as they are made: memory does not grow with the length.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dynast.errors import VideoError

__all__ = ["ClipInfo", "ClipLimits", "VideoWriter", "open_clip", "read_frames", "DECODE_SIDE"]

DECODE_SIDE = 640
_MAGIC = (  # (offset, bytes, ffmpeg demuxer)
    (4, b"ftyp", "mov"),  # MP4, MOV, M4V
    (0, b"\x1a\x45\xdf\xa3", "matroska"),  # WebM, MKV
    (8, b"AVI ", "avi"),
    (0, b"GIF8", "gif"),
)
_SAFE_INPUT = ["-protocol_whitelist", "file"]


@dataclass(frozen=True)
class ClipLimits:
    """What a driving clip may be: bytes of the file, pixels of a frame, seconds."""

    max_bytes: int = 200 * 1024 * 1024
    max_pixels: int = 3840 * 2160
    max_seconds: float = 600.0


@dataclass(frozen=True)
class ClipInfo:
    """A readable clip: its path, the demuxer to force, frames per second, (height, width)
    as stored, duration in seconds and the (height, width) frames are decoded at."""

    path: Path
    demuxer: str
    fps: float
    size: tuple[int, int]
    seconds: float
    decode_size: tuple[int, int]

    @property
    def frame_estimate(self) -> int:
        """Frames in the clip, from its duration and rate (the container may not say)."""
        return max(1, round(self.seconds * self.fps))


def _demuxer(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise VideoError(f"cannot read the driving clip {path.name}: "
                         f"{exc.strerror or exc}") from exc
    for offset, magic, name in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return name
    raise VideoError(f"{path.name} is not a video this app reads; use an MP4, MOV, WebM, "
                     "MKV, AVI or GIF file")


def _decode_size(height: int, width: int) -> tuple[int, int]:
    factor = min(1.0, DECODE_SIDE / max(height, width))
    return (max(2, 2 * round(height * factor / 2)), max(2, 2 * round(width * factor / 2)))


def open_clip(path: str | Path, limits: ClipLimits | None = None) -> ClipInfo:
    """Check a driving clip and read its header. Raises :class:`VideoError` saying which
    limit it breaks, or that it is no video."""
    import imageio_ffmpeg

    limits = limits or ClipLimits()
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"the driving clip {path} does not exist or is not a file")
    size_bytes = path.stat().st_size
    if size_bytes > limits.max_bytes:
        raise VideoError(f"{path.name} is {size_bytes / 2**20:.0f} MB, over the limit of "
                         f"{limits.max_bytes / 2**20:.0f} MB; cut or compress the clip")
    demuxer = _demuxer(path)
    gen = imageio_ffmpeg.read_frames(str(path), input_params=["-f", demuxer, *_SAFE_INPUT])
    try:
        meta: dict[str, Any] = next(gen)
    except (RuntimeError, OSError, StopIteration) as exc:
        raise VideoError(f"{path.name} could not be decoded as a video ({_first_line(exc)}); "
                         "re-encode it as an H.264 MP4") from exc
    finally:
        gen.close()
    width, height = (int(v) for v in meta.get("size", (0, 0)))
    if int(meta.get("rotate") or 0) % 180 == 90:  # ffmpeg turns phone clips upright
        width, height = height, width
    fps = float(meta.get("fps") or 0.0)
    seconds = float(meta.get("duration") or 0.0)
    if width < 16 or height < 16 or not math.isfinite(fps) or fps <= 0:
        raise VideoError(f"{path.name} has no readable video stream (size {width}x{height}, "
                         f"{fps} fps); re-encode it as an H.264 MP4")
    if width * height > limits.max_pixels:
        raise VideoError(f"{path.name} is {width}x{height} pixels, over the limit of "
                         f"{limits.max_pixels / 1e6:.1f} megapixels per frame; scale it down")
    if seconds > limits.max_seconds:
        raise VideoError(f"{path.name} lasts {seconds:.1f} s, over the limit of "
                         f"{limits.max_seconds:.0f} s; cut the clip")
    return ClipInfo(path, demuxer, fps, (height, width), seconds, _decode_size(height, width))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:200] if text else type(exc).__name__


def read_frames(clip: ClipInfo, max_frames: int) -> Iterator[np.ndarray]:
    """The clip's first ``max_frames`` frames, one at a time: uint8 (h, w, 3) RGB at
    ``clip.decode_size``."""
    import imageio_ffmpeg

    h, w = clip.decode_size
    gen = imageio_ffmpeg.read_frames(
        str(clip.path), input_params=["-f", clip.demuxer, *_SAFE_INPUT],
        output_params=["-vf", f"scale={w}:{h}", "-frames:v", str(int(max_frames))])
    try:
        next(gen)  # the header
        for raw in gen:
            yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)
    except RuntimeError as exc:
        raise VideoError(f"{clip.path.name} could not be decoded to the end "
                         f"({_first_line(exc)}); re-encode it as an H.264 MP4") from exc
    finally:
        gen.close()


class VideoWriter:
    """Write uint8 (H, W, 3) RGB frames to an H.264 MP4 or, for a ``.gif`` path, an animated
    GIF. Use as a context manager; H and W must be even (yuv420p)."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        import imageio_ffmpeg

        self.path = Path(path)
        h, w = size
        if h % 2 or w % 2:
            raise ValueError(f"video frames need even sides, got {h}x{w}")
        self.size = (h, w)
        gif = self.path.suffix.lower() == ".gif"
        self._gen = imageio_ffmpeg.write_frames(
            str(self.path), (w, h), fps=float(fps), macro_block_size=2,
            codec="gif" if gif else "libx264", pix_fmt_out="pal8" if gif else "yuv420p",
            quality=None if gif else 7, ffmpeg_log_level="error",
            output_params=(["-vf", "split[a][b];[a]palettegen[p];[b][p]paletteuse", "-loop", "0"]
                           if gif else ["-movflags", "+faststart", "-profile:v", "high"]),
        )
        self._gen.send(None)
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 (H, W, 3) frame."""
        if frame.shape != (*self.size, 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected a uint8 {self.size} RGB frame, got {frame.dtype} "
                             f"{frame.shape}")
        self._gen.send(np.ascontiguousarray(frame))
        self.frames += 1

    def close(self) -> None:
        self._gen.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
