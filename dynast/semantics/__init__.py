"""Semantics for DynaST from photos, keypoint files and drawings.

* pose: OpenPose COCO-18 :class:`Keypoints`, OpenPose file readers / writers, MediaPipe
  extraction (:func:`extract_pose`), the release's 20-channel rendering (:func:`render_pose`)
  and a colour preview;
* faces: a 12-channel face-edge format computed the same way from photos and from sketches
  (:mod:`dynast.semantics.face_layout`), and the paper's 15-channel CelebAMask-HQ format;
* style: the content image itself;
* image loading and fitting to the model size (:func:`load_image`, :func:`fit_to_size`);
* fitting photos to the training frame (:func:`fit_person`, :func:`fit_face`: see
  :mod:`dynast.semantics.framing`).

MediaPipe is imported only when a detector first runs. Input errors are
:class:`SemanticsError` (a ``ValueError``) subclasses with messages meant for the user.
"""
from __future__ import annotations

from dynast.semantics._mediapipe import close_all as close_detectors
from dynast.semantics.celebamask import (
    CELEBAMASK_CHANNELS,
    CELEBAMASK_PARTS,
    load_celebamask_parts,
    render_celebamask_semantics,
)
from dynast.semantics.errors import (
    ImageTooLarge,
    ImageTooSmall,
    InvalidKeypoints,
    InvalidPartMasks,
    InvalidSize,
    KeypointOutsideImage,
    MalformedKeypointFile,
    NoFaceFound,
    NoPersonFound,
    SemanticsError,
    UnreadableImage,
)
from dynast.semantics.face_layout import (
    FACE_CHANNEL_NAMES,
    FACE_CHANNELS,
    FACE_PARTS,
    as_sketch_semantics,
)
from dynast.semantics.face_photo import (
    detect_face_landmarks,
    face_semantics_from_landmarks,
    face_semantics_from_photo,
)
from dynast.semantics.face_sketch import face_semantics_from_sketch
from dynast.semantics.framing import Framed, FramingTransform, fit_face, fit_person
from dynast.semantics.image_io import (
    MAX_SIZE_PIXELS,
    MAX_SIZE_SIDE,
    FitTransform,
    check_bounded,
    check_size,
    default_size,
    fit_to_size,
    load_image,
    padded_size,
    parse_size,
)
from dynast.semantics.keypoints import JOINT_NAMES, LIMBS, Keypoints
from dynast.semantics.openpose_io import (
    read_openpose_json,
    read_openpose_txt,
    write_openpose_json,
    write_openpose_txt,
)
from dynast.semantics.pose_extract import extract_pose
from dynast.semantics.pose_photo import pose_semantics_from_photo
from dynast.semantics.pose_render import POSE_CHANNELS, render_pose, render_pose_preview
from dynast.semantics.style import STYLE_CHANNELS, style_semantics

__all__ = [
    "close_detectors",
    "CELEBAMASK_CHANNELS",
    "CELEBAMASK_PARTS",
    "FACE_CHANNELS",
    "FACE_CHANNEL_NAMES",
    "FACE_PARTS",
    "JOINT_NAMES",
    "LIMBS",
    "MAX_SIZE_PIXELS",
    "MAX_SIZE_SIDE",
    "POSE_CHANNELS",
    "STYLE_CHANNELS",
    "FitTransform",
    "Framed",
    "FramingTransform",
    "ImageTooLarge",
    "ImageTooSmall",
    "InvalidKeypoints",
    "InvalidPartMasks",
    "InvalidSize",
    "KeypointOutsideImage",
    "Keypoints",
    "MalformedKeypointFile",
    "NoFaceFound",
    "NoPersonFound",
    "SemanticsError",
    "UnreadableImage",
    "as_sketch_semantics",
    "check_bounded",
    "check_size",
    "default_size",
    "extract_pose",
    "face_semantics_from_photo",
    "face_semantics_from_landmarks",
    "detect_face_landmarks",
    "face_semantics_from_sketch",
    "fit_face",
    "fit_person",
    "fit_to_size",
    "load_celebamask_parts",
    "load_image",
    "padded_size",
    "parse_size",
    "pose_semantics_from_photo",
    "read_openpose_json",
    "read_openpose_txt",
    "render_celebamask_semantics",
    "render_pose",
    "render_pose_preview",
    "style_semantics",
    "write_openpose_json",
    "write_openpose_txt",
]
