"""Pose video: animate a reference person along a driving clip or a keypoint sequence.

:mod:`.clip` (video files in and out, as streams), :mod:`.sequence` (OpenPose JSON per
frame), :mod:`.tracking` (MediaPipe in video mode), :mod:`.smoothing` (lost frames, One-Euro),
:mod:`.clip_fit` (one framing for the clip), :mod:`.driving` (all of it, in order),
:mod:`.animate` (the reference once, frames in batches: ``PoseAnimator``), :mod:`.cli`
(``python -m dynast animate``). Importing this package imports none of them.
"""
