"""Errors raised by :mod:`dynast.semantics`.

Every error is a :class:`SemanticsError`, itself a :class:`ValueError`, and its message says
what was wrong with the input and what the user can do about it.
"""
from __future__ import annotations

__all__ = [
    "SemanticsError",
    "UnreadableImage",
    "ImageTooLarge",
    "InvalidSize",
    "NoPersonFound",
    "NoFaceFound",
    "KeypointOutsideImage",
    "MalformedKeypointFile",
    "InvalidPartMasks",
    "InvalidKeypoints",
    "ImageTooSmall",
]


class SemanticsError(ValueError):
    """Base class of every input error raised by :mod:`dynast.semantics`."""


class UnreadableImage(SemanticsError):
    """The input is not an image that can be decoded (wrong type, truncated, not an image)."""


class ImageTooLarge(UnreadableImage):
    """The image (or its declared size) exceeds the pixel or byte limits."""


class ImageTooSmall(UnreadableImage):
    """The image is too small on a side to show anything (see ``image_io.MIN_IMAGE_SIDE``)."""


class InvalidSize(SemanticsError):
    """A requested output size is not positive multiples of 8, or exceeds the size limits."""


class NoPersonFound(SemanticsError):
    """No person (or not enough of one) was detected in the image."""


class NoFaceFound(SemanticsError):
    """No face was detected in the image."""


class InvalidKeypoints(SemanticsError):
    """Keypoints have the wrong shape or a non-finite / absurdly large coordinate."""


class KeypointOutsideImage(SemanticsError):
    """A keypoint marked present lies outside the image it is drawn on."""


class MalformedKeypointFile(SemanticsError):
    """An OpenPose keypoint file (txt pair or JSON) does not have the expected layout."""


class InvalidPartMasks(SemanticsError):
    """CelebAMask-HQ part masks are missing or have the wrong shape."""
