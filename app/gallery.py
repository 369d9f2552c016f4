"""The per-block galleries: captions, confidence colour scales and what each gallery means.

Every block of the transformer gets one warp and one confidence image, captioned with its
index, level, scale, grid and kind; the two dense blocks of the coarsest level are told apart
("dense 1", "dense 2"). Confidence is drawn on one scale for all blocks (0..1: the sum of the
attention a pixel kept) or each block on its own range, with a colour bar under every image.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from dynast import visualize as vis

__all__ = ["block_captions", "confidence_items", "warp_items", "NORMALISATIONS",
           "warp_note", "confidence_note"]

# a block whose matched confidences span less than this is drawn as one colour, its value
CONSTANT_SPREAD = 0.005
NORMALISATIONS = ("same scale for all blocks (0-1)", "each block on its own range")
KIND_WORDS = {"dense": "dense", "inter": "inter-scale", "inner": "inner-scale"}

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


def block_captions(blocks: list[Any]) -> list[str]:
    """One caption per block: index, level, scale, grid and kind (dense blocks numbered)."""
    dense_total = sum(1 for b in blocks if str(b.kind) == "dense")
    dense_seen = 0
    captions = []
    for i, b in enumerate(blocks):
        kind = KIND_WORDS.get(str(b.kind), str(b.kind))
        if str(b.kind) == "dense" and dense_total > 1:
            dense_seen += 1
            kind = f"dense {dense_seen} of {dense_total}"
        stride = int(b.stride)
        scale = f"1/{stride} scale" if stride > 1 else "full scale"
        captions.append(f"block {i + 1}/{len(blocks)} · level {b.level} · {scale} "
                        f"({b.width}×{b.height}) · {kind}")
    return captions


def warp_items(result: Any) -> list[tuple[Any, str]]:
    """(image, caption) per block: the reference warped by the block."""
    captions = block_captions(result.blocks)
    return [(image, cap) for (image, _), cap in zip(result.warps, captions)]


def confidence_items(result: Any, normalisation: str = NORMALISATIONS[0]
                     ) -> list[tuple[Any, str]]:
    """(image, caption) per block: the confidence map with a colour bar of its range."""
    captions = block_captions(result.blocks)
    per_block = normalisation == NORMALISATIONS[1]
    tf = result.target_transform
    height, width = result.resolution
    items = []
    for conf, no_match, cap in zip(result.confidence_maps, result.no_match, captions):
        conf = np.asarray(conf, np.float32)
        matched = conf[~no_match] if (~no_match).any() else conf.reshape(-1)
        lo, hi = (float(matched.min()), float(matched.max())) if per_block else (0.0, 1.0)
        constant = hi - lo < CONSTANT_SPREAD
        if constant:  # stretching rounding noise to the whole colour map draws speckle
            lo = hi = round(float(matched.mean()), 2)
            img = vis.confidence_image(np.full_like(conf, lo), no_match, height, width)
        else:
            img = vis.confidence_image(conf, no_match, height, width, vmin=lo, vmax=hi)
        img = vis.with_colorbar(tf.crop(img), lo, hi)
        share = 100.0 * float(no_match.mean())
        colours = f"constant {lo:.2f}" if constant else f"colours {lo:.2f}–{hi:.2f}"
        items.append((img, f"{cap} · {colours} · mean {float(conf.mean()):.2f}"
                           f" · {share:.0f}% no match"))
    return items
