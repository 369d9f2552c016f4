"""The driving poses of a clip, ready to render: read or tracked, lost frames filled, the
clip fitted once to the training frame, jitter smoothed (model-frame pixels)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dynast.errors import VideoError
from dynast.semantics.keypoints import Keypoints
from dynast.video.clip import ClipInfo, ClipLimits, open_clip, read_frames
from dynast.video.clip_fit import ClipFit, fit_clip
from dynast.video.sequence import read_pose_sequence
from dynast.video.smoothing import OneEuro, fill_lost_frames, smooth_sequence
from dynast.video.tracking import track_poses

__all__ = ["Driving", "load_driving", "SEQUENCE_FPS", "VIDEO_SUFFIXES"]

SEQUENCE_FPS = 25.0  # frame rate of a pose sequence (JSON files carry none) unless given
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".gif")
FrameProgress = Callable[[int, int, str], None]


@dataclass
class Driving:
    """Poses per frame in the model frame (fitted and smoothed), the frame rate, the clip
    (None for a pose sequence), the fit, how many frames had lost the person, notes."""

    poses: list[Keypoints]
    fps: float
    clip: ClipInfo | None
    fit: ClipFit
    lost: int
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.poses)


def load_driving(source: str | Path, size: tuple[int, int], *, max_frames: int,
                 fps: float | None = None, smoothing: OneEuro | None = OneEuro(),
                 limits: ClipLimits | None = None, refuse_longer: bool = False,
                 progress: FrameProgress | None = None) -> Driving:
    """Driving poses from a video file, or from a folder or .zip of OpenPose JSON files.

    ``size``: (H, W) of the model frame. At most ``max_frames`` frames are used (with a
    notice), or, with ``refuse_longer``, a longer clip is refused. ``fps``: the output rate
    (default: the clip's; pose sequences: :data:`SEQUENCE_FPS`). ``smoothing``: None to
    keep the raw keypoints. ``progress(done, total, "poses")`` per tracked frame.
    """
    source = Path(source)
    notes: list[str] = []
    clip = None
    if source.is_dir() or source.suffix.lower() == ".zip":
        seq = read_pose_sequence(source, max_frames + 1)
        raw, notes = seq.frames, list(seq.warnings)
        rate = SEQUENCE_FPS
    elif source.suffix.lower() in VIDEO_SUFFIXES:
        clip = open_clip(source, limits)
        rate = clip.fps
        total = min(clip.frame_estimate, max_frames + 1)

        def step(n: int) -> None:
            if progress is not None:
                progress(min(n, total), total, "poses")

        raw = track_poses(read_frames(clip, max_frames + 1), on_frame=step)
    else:
        raise VideoError(f"--driving must be a video ({', '.join(VIDEO_SUFFIXES)}), a folder "
                         f"or a .zip of OpenPose JSON files, got {source.name}")
    if len(raw) > max_frames:
        if refuse_longer:
            raise VideoError(f"the driving clip has more than {max_frames} frames, over the "
                             f"limit of {max_frames}; cut it to {max_frames / rate:.1f} s")
        notes.append(f"the clip is longer than {max_frames} frames; the first {max_frames} "
                     "are used")
        raw = raw[:max_frames]
    if not raw or all(k is None for k in raw):
        raise VideoError(f"no person was found in any frame of {source.name}; use a clip "
                         "that shows one person's head and body")
    filled, lost = fill_lost_frames(raw)
    if lost:
        notes.append(f"the person was lost in {lost} of {len(raw)} frames; those frames "
                     "were filled in from their neighbours")
    fit = fit_clip(filled, size)
    posed = [fit.apply(k, drop_outside=False) for k in filled]  # smoothed, then dropped
    if smoothing is not None:  # at the rate the poses were sampled
        posed = smooth_sequence(posed, rate, smoothing)
    out_fps = float(fps) if fps is not None else rate
    return Driving([k.drop_outside(*size) for k in posed], out_fps, clip, fit, lost, notes)
