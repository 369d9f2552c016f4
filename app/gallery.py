"""What the per-block galleries mean: their notes and the colour-scale choice.

The panels themselves (one warp and one confidence image per block, captioned) are drawn by
:mod:`dynast.visualize` through the result (``result.warps``, ``result.confidence_panels``).
"""
from __future__ import annotations

__all__ = ["NORMALISATIONS", "per_block", "warp_note", "confidence_note"]

NORMALISATIONS = ("same scale for all blocks (0-1)", "each block on its own range")

_WARP_NOTE = (
    "**What am I looking at?** Each picture is the reference rearranged by one transformer "
    "block: every output pixel shows the reference pixels it matched, weighted by attention. "
    "Blocks run coarse (level 4, 1/8 scale) to fine (level 1, full scale); the two dense "
    "blocks compare every pair of pixels, the sparse ones (inter- and inner-scale) only the "
    "top-k candidates passed down from the level above. A grey checkerboard marks pixels whose "
    "candidates were all pruned: no correspondence there.")

_STYLE_EXTRA = (
    " In style transfer the style image has no parts that correspond to the content's, so at "
    "the fine levels few candidates are similar enough to survive pruning: most pixels show "
    "the checkerboard there, and the decoder paints them from the coarse levels' matches. "
    "That is expected and the output still looks right.")


def warp_note(task: str) -> str:
    """The "what am I looking at" note of the warp gallery for ``task``."""
    return _WARP_NOTE + (_STYLE_EXTRA if task == "style" else "")


def confidence_note(task: str) -> str:
    """The "what am I looking at" note of the confidence gallery for ``task``."""
    note = (
        "**What am I looking at?** The confidence of each block: for every pixel, the sum of "
        "the attention its kept links carry (yellow: the block found a strong match; dark "
        "blue: weak; checkerboard: every link pruned). Colour bars under the images give the "
        "range; switch to *each block on its own range* to see structure in blocks whose "
        "values are all small.")
    return note + (_STYLE_EXTRA if task == "style" else "")


def per_block(normalisation: str) -> bool:
    """Whether the colour-scale choice ``normalisation`` draws each block on its own range."""
    return normalisation == NORMALISATIONS[1]
