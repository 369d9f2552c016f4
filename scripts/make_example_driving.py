"""Make the example driving clip: a smooth pose sequence between the shipped poses.

Source: ``examples/poses/*.json`` (keypoints extracted with MediaPipe from iPER and
DeepFashion photos, see examples/README.md). Each pose is fitted to the 256 x 176 frame
(:func:`dynast.video.clip_fit.fit_clip` on that pose alone), then consecutive poses are
blended with an ease-in-out curve (joints present in both), holding each pose briefly.
Writes ``examples/driving/shipped_poses_dance.zip`` (OpenPose JSON per frame, 25 fps) and
``examples/driving/shipped_poses_dance_skeleton.mp4`` (the skeletons, for previews).

    python scripts/make_example_driving.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dynast.semantics.keypoints import Keypoints
from dynast.semantics.pose_render import render_pose_preview
from dynast.tasks import pose_target_from_file
from dynast.video.clip import VideoWriter
from dynast.video.clip_fit import fit_clip
from dynast.video.sequence import write_pose_sequence

ROOT = Path(__file__).resolve().parent.parent
ORDER = ("a_pose", "front_standing", "hand_raised_to_head", "arm_pointing_sideways", "a_pose")
SIZE = (256, 176)
FPS = 25
MOVE, HOLD = 14, 4  # frames per transition and per held pose


def _blend(a: Keypoints, b: Keypoints, t: float) -> Keypoints:
    both = a.present & b.present
    arr = np.zeros((18, 3), np.float32)
    arr[both, :2] = (1 - t) * a.xy[both] + t * b.xy[both]
    arr[both, 2] = 1
    return Keypoints(arr)


def make_sequence() -> list[Keypoints]:
    """The example's keypoints per frame, in the 256 x 176 frame."""
    poses = []
    for name in ORDER:
        target, _ = pose_target_from_file(ROOT / "examples" / "poses" / f"{name}.json")
        poses.append(fit_clip([target.keypoints], SIZE).apply(target.keypoints))
    frames: list[Keypoints] = []
    for a, b in zip(poses[:-1], poses[1:]):
        frames += [a] * HOLD
        frames += [_blend(a, b, 0.5 - 0.5 * np.cos(np.pi * i / MOVE)) for i in range(MOVE)]
    return frames + [poses[-1]] * HOLD


def main() -> None:
    out = ROOT / "examples" / "driving"
    out.mkdir(parents=True, exist_ok=True)
    frames = make_sequence()
    write_pose_sequence(frames, out / "shipped_poses_dance.zip", "shipped_poses_dance", SIZE)
    with VideoWriter(out / "shipped_poses_dance_skeleton.mp4", FPS, SIZE) as writer:
        for kp in frames:
            writer.write(render_pose_preview(kp, *SIZE))
    print(f"{len(frames)} frames -> {out}")


if __name__ == "__main__":
    main()
