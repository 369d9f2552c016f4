"""Drawing helpers for warps, confidence maps and the match inspector (no UI code), and the
one renderer of the per-block panels (:func:`warp_panels`, :func:`confidence_panels`,
captioned by :func:`block_captions`) that the CLI, the app and notebooks all show.

Everything here works on numpy arrays / PIL images and is independent of the model and of
Gradio, so the pipeline, the app, notebooks and tests can share it.

Conventions: images are ``uint8`` RGB arrays of shape ``(H, W, 3)``; masks are boolean
``(H, W)``; model tensors in ``[-1, 1]`` are converted with :func:`tensor_to_uint8`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "tensor_to_uint8",
    "checkerboard",
    "mark_pruned",
    "upscale_nearest",
    "colormap",
    "confidence_image",
    "draw_candidates",
    "draw_query_marker",
    "caption_image",
    "inspector_legend",
    "colorbar",
    "with_colorbar",
    "mark_scale",
    "block_captions",
    "warp_panels",
    "confidence_panels",
]

KEPT_COLOUR = (0, 230, 118)  # green: a link the dynamic attention kept
PRUNED_COLOUR = (255, 64, 64)  # red: a link the dynamic attention pruned
QUERY_COLOUR = (255, 214, 0)  # yellow: the clicked pixel
KIND_WORDS = {"dense": "dense", "inter": "inter-scale", "inner": "inner-scale"}
# a block whose matched confidences span less than this is drawn as one colour, its value
CONSTANT_SPREAD = 0.005
Panel = tuple[Image.Image, str]


def tensor_to_uint8(t: "np.ndarray | object") -> np.ndarray:
    """Convert a ``(3, H, W)`` or ``(1, H, W)`` array/tensor in ``[-1, 1]`` to ``(H, W, 3)`` uint8.

    Torch tensors are accepted (detached and moved to CPU as float32 first).
    """
    if hasattr(t, "detach"):
        t = t.detach().float().cpu().numpy()  # type: ignore[union-attr]
    a = np.asarray(t, dtype=np.float32)
    if a.ndim != 3:
        raise ValueError(f"expected a (C, H, W) array, got shape {a.shape}")
    if a.shape[0] == 1:
        a = np.repeat(a, 3, axis=0)
    a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=-1.0)
    a = (np.clip(a, -1.0, 1.0) + 1.0) * 127.5
    return np.ascontiguousarray(np.round(a).astype(np.uint8).transpose(1, 2, 0))


def checkerboard(height: int, width: int, cell: int = 8,
                 colours: tuple[int, int] = (70, 150)) -> np.ndarray:
    """A grey checkerboard ``(H, W, 3)`` uint8, the conventional "nothing here" pattern."""
    yy, xx = np.mgrid[0:height, 0:width]
    board = ((yy // cell + xx // cell) % 2).astype(bool)
    out = np.where(board, colours[1], colours[0]).astype(np.uint8)
    return np.repeat(out[:, :, None], 3, axis=2)


def upscale_nearest(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an ``(h, w[, c])`` array to ``(height, width)`` with nearest neighbour sampling."""
    h, w = img.shape[:2]
    ys = np.minimum((np.arange(height) * h) // max(height, 1), h - 1)
    xs = np.minimum((np.arange(width) * w) // max(width, 1), w - 1)
    return img[ys][:, xs]


def mark_pruned(img: np.ndarray, pruned: np.ndarray, cell: int = 8) -> np.ndarray:
    """Replace the pixels of ``img`` where ``pruned`` is true by a checkerboard.

    ``pruned`` may be smaller than ``img``; it is upscaled with nearest sampling.
    """
    h, w = img.shape[:2]
    if pruned.shape != (h, w):
        pruned = upscale_nearest(pruned.astype(np.uint8), h, w).astype(bool)
    if not pruned.any():
        return img
    board = checkerboard(h, w, cell)
    return np.where(pruned[:, :, None], board, img)


def colormap(values: np.ndarray, vmin: float = 0.0, vmax: float = 1.0,
             name: str = "viridis") -> np.ndarray:
    """Map a 2-D float array to ``(H, W, 3)`` uint8 colours with a matplotlib colormap."""
    from matplotlib import colormaps

    v = np.clip((np.nan_to_num(values.astype(np.float32)) - vmin) / max(vmax - vmin, 1e-12), 0, 1)
    rgba = colormaps[name](v)
    return (rgba[..., :3] * 255.0 + 0.5).astype(np.uint8)


def confidence_image(conf: np.ndarray, pruned: np.ndarray | None, height: int, width: int,
                     cell: int = 8, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """Draw a confidence map ``(h, w)`` at ``(height, width)``, ``vmin..vmax`` mapped to the
    ends of the viridis colour map (default: the full range 0..1 of a sum of attention).

    Pixels in ``pruned`` (every link removed by the dynamic attention, so no correspondence)
    are drawn as a checkerboard instead of a colour.
    """
    img = upscale_nearest(colormap(conf, vmin, vmax), height, width)
    if pruned is not None:
        img = mark_pruned(img, pruned, cell)
    return img


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def mark_scale(img: Image.Image) -> float:
    """How big marks and labels are drawn on ``img``: 1.0 for a 256-pixel image, growing
    with the shorter side (so they read the same once the image is shown at a fixed size)."""
    return max(1.0, min(img.width, img.height) / 256.0)


def draw_query_marker(img: Image.Image, x: float, y: float,
                      radius: float | None = None) -> Image.Image:
    """Draw a yellow cross-hair at ``(x, y)`` on a copy of ``img`` (sized to the image
    unless ``radius`` is given)."""
    out = img.convert("RGB").copy()
    d = ImageDraw.Draw(out)
    k = mark_scale(out)
    r = radius if radius is not None else 6.0 * k
    lw = max(2, round(2 * k))
    d.ellipse([x - r, y - r, x + r, y + r], outline=QUERY_COLOUR, width=lw)
    d.line([x - 2 * r, y, x - r / 2, y], fill=QUERY_COLOUR, width=lw)
    d.line([x + r / 2, y, x + 2 * r, y], fill=QUERY_COLOUR, width=lw)
    d.line([x, y - 2 * r, x, y - r / 2], fill=QUERY_COLOUR, width=lw)
    d.line([x, y + r / 2, x, y + 2 * r], fill=QUERY_COLOUR, width=lw)
    return out


def draw_candidates(reference: Image.Image, xy: np.ndarray, kept: np.ndarray,
                    weights: np.ndarray, cell: float = 1.0, title: str | None = None,
                    max_radius: float | None = None) -> Image.Image:
    """Draw a query's candidate links on the reference image.

    Args:
        reference: the reference image as the model saw it.
        xy: ``(n, 2)`` candidate centres in ``reference`` pixel coordinates (x, y).
        kept: ``(n,)`` booleans: the link survived the dynamic pruning (green) or not (red).
        weights: ``(n,)`` warp weights in ``[0, 1]``; the disc radius and opacity grow with them.
        cell: the size of one candidate cell in reference pixels (the block's stride).
        title: text drawn in a banner at the top.
        max_radius: the largest disc radius (default: ``1.2 * cell``, at least 6 pixels
            of a 256-pixel image; marks and the title grow with the image, see
            :func:`mark_scale`).
    Returns:
        A new RGB image. Pruned candidates are drawn as red crosses, kept ones as green
        discs whose area follows the weight; repeated candidates (inner-scale blocks do not
        de-duplicate) are merged by summing their weights.
    """
    base = reference.convert("RGB")
    # darken the reference so that the marks stand out
    base = Image.blend(base, Image.new("RGB", base.size, (0, 0, 0)), 0.35)
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(overlay)
    xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
    kept = np.asarray(kept, dtype=bool).reshape(-1)
    weights = np.nan_to_num(np.asarray(weights, dtype=np.float32).reshape(-1))
    scale = mark_scale(base)
    lw = max(2, round(2 * scale))
    rmax = float(max_radius if max_radius is not None else max(6.0 * scale, cell * 1.2))
    # merge duplicates: same position and same kept flag
    merged: dict[tuple[int, int, bool], float] = {}
    for (x, y), is_kept, w in zip(xy, kept, weights):
        key = (int(round(float(x))), int(round(float(y))), bool(is_kept))
        merged[key] = merged.get(key, 0.0) + float(w)
    # pruned first, so the kept links are on top
    for (x, y, is_kept), w in sorted(merged.items(), key=lambda item: (item[0][2], item[1])):
        if not is_kept:
            r = max(2.0 * scale, cell * 0.35)
            d.line([x - r, y - r, x + r, y + r], fill=PRUNED_COLOUR + (220,), width=lw)
            d.line([x - r, y + r, x + r, y - r], fill=PRUNED_COLOUR + (220,), width=lw)
        else:
            wc = float(np.clip(w, 0.0, 1.0))
            rmin = 2.0 * scale
            r = rmin + (rmax - rmin) * np.sqrt(wc)
            alpha = int(110 + 145 * wc)
            # a dark ring around a white outline: the disc stays visible on any picture
            ring = r + max(1.0, round(scale))
            d.ellipse([x - ring, y - ring, x + ring, y + ring], fill=(0, 0, 0, 255))
            d.ellipse([x - r, y - r, x + r, y + r], fill=KEPT_COLOUR + (alpha,),
                      outline=(255, 255, 255, 255), width=max(1, round(scale)))
    out = Image.alpha_composite(base.convert("RGBA"), overlay).convert("RGB")
    if title:
        out = caption_image(out, title)
    return out


def caption_image(img: Image.Image, text: str, size: int | None = None) -> Image.Image:
    """Return ``img`` with a dark banner holding ``text`` on top (font size: ``size``, or
    12 pixels per 256 of the image's shorter side)."""
    size = size if size is not None else round(12 * mark_scale(img))
    font = _font(size)
    banner = size + 8
    out = Image.new("RGB", (img.width, img.height + banner), (20, 20, 20))
    out.paste(img.convert("RGB"), (0, banner))
    ImageDraw.Draw(out).text((4, 3), text, fill=(240, 240, 240), font=font)
    return out


def inspector_legend(width: int = 360) -> Image.Image:
    """A small legend image for the match inspector."""
    img = Image.new("RGB", (width, 26), (20, 20, 20))
    d = ImageDraw.Draw(img)
    f = _font(12)
    d.ellipse([6, 7, 18, 19], fill=KEPT_COLOUR)
    d.text((24, 6), "kept (size = weight)", fill=(240, 240, 240), font=f)
    x0 = 170
    d.line([x0, 8, x0 + 10, 18], fill=PRUNED_COLOUR, width=2)
    d.line([x0, 18, x0 + 10, 8], fill=PRUNED_COLOUR, width=2)
    d.text((x0 + 16, 6), "pruned", fill=(240, 240, 240), font=f)
    return img


def colorbar(width: int, vmin: float = 0.0, vmax: float = 1.0, height: int | None = None,
             name: str = "viridis") -> Image.Image:
    """A horizontal colour bar ``width`` pixels wide: the colour map from ``vmin`` (left) to
    ``vmax`` (right) with both values written under it (height: 22 pixels per 256 of width).
    ``vmin == vmax`` (a constant map): one block of that value's colour on the 0..1 scale,
    labelled "constant" and the value."""
    k = max(1.0, width / 256.0)
    height = height if height is not None else round(22 * k)
    bar_h = max(4, height // 2 - 1)
    if vmin == vmax:
        ramp = np.full((bar_h, width), vmin, np.float32)
    else:
        ramp = np.repeat(np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :], bar_h, axis=0)
    out = Image.new("RGB", (width, height), (255, 255, 255))
    out.paste(Image.fromarray(colormap(ramp, 0.0, 1.0, name)), (0, 0))
    d = ImageDraw.Draw(out)
    font = _font(max(9, height - bar_h - 2))
    lo, hi = f"{vmin:.2f}", f"{vmax:.2f}"
    if vmin == vmax:
        lo, hi = "constant", lo
    d.text((2, bar_h + 1), lo, fill=(30, 30, 30), font=font)
    tw = d.textlength(hi, font=font)
    d.text((width - tw - 2, bar_h + 1), hi, fill=(30, 30, 30), font=font)
    return out


def with_colorbar(img: np.ndarray, vmin: float, vmax: float) -> Image.Image:
    """``img`` (H, W, 3) uint8 with a :func:`colorbar` of its range appended below."""
    top = Image.fromarray(img)
    bar = colorbar(top.width, vmin, vmax)
    out = Image.new("RGB", (top.width, top.height + bar.height), (255, 255, 255))
    out.paste(top, (0, 0))
    out.paste(bar, (0, top.height))
    return out


def grid(images: Sequence[Image.Image], columns: int = 4, pad: int = 4,
         background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Tile images (of possibly different sizes) into one image, row by row."""
    if not images:
        raise ValueError("no images to tile")
    columns = max(1, min(columns, len(images)))
    rows = (len(images) + columns - 1) // columns
    cw = max(im.width for im in images)
    ch = max(im.height for im in images)
    out = Image.new("RGB", (columns * cw + (columns + 1) * pad, rows * ch + (rows + 1) * pad),
                    background)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        out.paste(im.convert("RGB"), (pad + c * (cw + pad), pad + r * (ch + pad)))
    return out


def block_captions(blocks: Sequence[Any]) -> list[str]:
    """One caption per block (``BlockInfo``: level, kind, height, width, stride): index,
    level, scale, grid and kind, the dense blocks numbered ("dense 1 of 2")."""
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


def warp_panels(warp_maps: Sequence[np.ndarray], no_match: Sequence[np.ndarray],
                blocks: Sequence[Any], canvas: tuple[int, int],
                crop: Callable[[np.ndarray], np.ndarray]) -> list[Panel]:
    """(image, caption) per block: its warp ``(h, w, 3)`` uint8 drawn at the canvas ``(H, W)``
    with a checkerboard where ``no_match`` ``(h, w)``, cropped by ``crop`` to the target."""
    height, width = canvas
    panels = []
    for warp, pruned, caption in zip(warp_maps, no_match, block_captions(blocks)):
        img = mark_pruned(upscale_nearest(warp, height, width),
                          upscale_nearest(pruned.astype(np.uint8), height, width) > 0)
        panels.append((Image.fromarray(np.ascontiguousarray(crop(img))), caption))
    return panels


def confidence_panels(confidence_maps: Sequence[np.ndarray], no_match: Sequence[np.ndarray],
                      blocks: Sequence[Any], canvas: tuple[int, int],
                      crop: Callable[[np.ndarray], np.ndarray],
                      per_block: bool = False) -> list[Panel]:
    """(image, caption) per block: the confidence ``(h, w)`` drawn at the canvas, cropped,
    with a colour bar of its scale below: 0..1 for every block, or (``per_block``) each
    block's own range of its matched pixels. A block whose range is under
    ``CONSTANT_SPREAD`` is drawn as one colour with its value (stretching rounding noise to
    the whole colour map would draw speckle)."""
    height, width = canvas
    panels = []
    for conf, pruned, caption in zip(confidence_maps, no_match, block_captions(blocks)):
        conf = np.asarray(conf, np.float32)
        matched = conf[~pruned] if (~pruned).any() else conf.reshape(-1)
        lo, hi = (float(matched.min()), float(matched.max())) if per_block else (0.0, 1.0)
        constant = hi - lo < CONSTANT_SPREAD
        if constant:
            lo = hi = round(float(matched.mean()), 2)
            img = confidence_image(np.full_like(conf, lo), pruned, height, width)
        else:
            img = confidence_image(conf, pruned, height, width, vmin=lo, vmax=hi)
        colours = f"constant {lo:.2f}" if constant else f"colours {lo:.2f}–{hi:.2f}"
        panels.append((with_colorbar(np.ascontiguousarray(crop(img)), lo, hi),
                       f"{caption} · {colours} · mean {float(conf.mean()):.2f}"
                       f" · {100.0 * float(pruned.mean()):.0f}% no match"))
    return panels
