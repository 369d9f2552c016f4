"""DynaST's attention as pure functions (paper section 3.2-3.3, SPEC section 3).

Tokens are laid out as (B, N, C): N = h * w positions in row-major order. Every function
processes queries in chunks, so the gathered candidate keys of all queries never exist at
once: peak memory grows linearly in N with a small constant (``chunk_elems``).

Notation (per query i and candidate j):
    C_ij = q_i . k_j / t                         logits ("correlation")
    A_ij = softmax_j(C_ij)                       attention over the candidates
    D_ij = 1[q'_i . k'_j > 0]                    the pruning gate on the pruning features
    Ã_ij = D_ij A_ij                             pruned attention (not renormalised)
    conf_i = sum_j Ã_ij                          confidence
    W_ij = D_ij exp(C_ij) / (sum_j D_ij exp(C_ij) + eps)   the warp weights (Eq. 12-13)

Candidate sets: dense blocks attend to every reference position; sparse blocks to a
gathered set given by a ``CandidateFn`` (``inter_scale_candidates``: 4k per query,
``inner_scale_candidates``: 5k per query).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from dynast.links import links_for
from dynast.precision import float32

# candidates(start, end) -> (B, end - start, n) long indices into the reference tokens.
CandidateFn = Callable[[int, int], torch.Tensor]

DEFAULT_CHUNK_ELEMS = 1 << 22  # ~4M elements (16 MB in float32) per gathered tensor: CPU caches
CUDA_CHUNK_ELEMS = 1 << 26  # ~64M elements (256 MB): few, large launches on a GPU
WARP_EPS = 1e-8


def chunk_elems_for(device: torch.device) -> int:
    """Elements per gathered tensor in one chunk: small on CPU (cache), large on CUDA (launches)."""
    return CUDA_CHUNK_ELEMS if device.type == "cuda" else DEFAULT_CHUNK_ELEMS


class _SignWithSigmoidGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return grad * s * (1 - s)


def prune_gate(x: torch.Tensor) -> torch.Tensor:
    """D = 1[x > 0] with the straight-through gradient dD/dx = sigmoid(x)(1 - sigmoid(x)).

    x: any shape -> same shape, values in {0, 1}, x's dtype.
    """
    return _SignWithSigmoidGrad.apply(x)


@dataclass
class Matches:
    """Candidates of each query kept for inspection. All (B, Nq, n)."""

    indices: torch.Tensor  # long, into the reference tokens
    attention: torch.Tensor  # A
    kept: torch.Tensor  # bool, D
    weights: torch.Tensor  # W


@dataclass
class AttentionResult:
    """What an attention call returns.

    output: (B, Nq, Cv) = Ã v; confidence: (B, Nq); warp: (B, Nq, Cw) = W warp_source or
    None; top_k: (B, Nq, k) reference indices of each query's best candidates (by C for
    dense, by A for sparse) or None; matches: per-query candidates or None.
    """

    output: torch.Tensor
    confidence: torch.Tensor
    warp: torch.Tensor | None = None
    top_k: torch.Tensor | None = None
    matches: Matches | None = None


def warp_weights(logits: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """W = D exp(C) / (sum D exp(C) + eps) along the last dim; 0 where every link is pruned.

    The max over kept logits is subtracted first (it cancels), so the denominator is >= 1
    wherever a link is kept. logits, kept (float 0/1): (..., n) -> (..., n).
    """
    floor = torch.finfo(logits.dtype).min
    peak = torch.where(kept > 0, logits, torch.full_like(logits, floor)).amax(-1, keepdim=True)
    e = kept * torch.exp((logits - peak.detach()).clamp(max=0.0))
    return e / (e.sum(-1, keepdim=True) + WARP_EPS)


def _rows_per_chunk(total: int, per_row: int, chunk_elems: int) -> int:
    return max(1, min(total, chunk_elems // max(1, per_row)))


class _ChunkedRows:
    """Per-chunk results (B, m, ...) gathered along dim 1 into one (B, total, ...) tensor in
    ``dtype`` (None: the chunks' own).

    Without autograd each chunk is written into one tensor allocated on first use, so the
    result never exists twice (a list then ``torch.cat`` holds it twice at the end: at
    512x512 that is 64 MB more peak memory in each finest block). With autograd the chunks
    are concatenated: slice writes would make the backward pass copy the whole gradient once
    per chunk.
    """

    def __init__(self, total: int, dtype: torch.dtype | None = None) -> None:
        self.total, self.dtype = total, dtype
        self.direct = not torch.is_grad_enabled()
        self.parts: list[torch.Tensor] = []
        self.filled = 0
        self.buffer: torch.Tensor | None = None

    def add(self, chunk: torch.Tensor) -> None:
        end = self.filled + chunk.shape[1]
        if not self.direct:
            self.parts.append(chunk)
        else:
            if self.buffer is None:
                shape = (chunk.shape[0], self.total, *chunk.shape[2:])
                self.buffer = chunk.new_empty(shape, dtype=self.dtype or chunk.dtype)
            self.buffer[:, self.filled : end] = chunk
        self.filled = end

    def result(self) -> torch.Tensor | None:
        if self.direct or not self.parts:
            return self.buffer
        out = torch.cat(self.parts, 1)
        return out if self.dtype is None else out.to(self.dtype)


class _AttentionChunks:
    """What an attention call gathers chunk by chunk: output, confidence and warp in the
    caller's dtype; top-k indices and the matches' four fields as they come."""

    def __init__(self, total: int, dtype: torch.dtype) -> None:
        self.outputs, self.confs, self.warps = (_ChunkedRows(total, dtype) for _ in range(3))
        self.topks = _ChunkedRows(total)
        self.matches = [_ChunkedRows(total) for _ in Matches.__dataclass_fields__]

    def add_matches(self, found: Matches) -> None:
        for rows, field in zip(self.matches, Matches.__dataclass_fields__):
            rows.add(getattr(found, field))

    def result(self) -> AttentionResult:
        output, confidence = self.outputs.result(), self.confs.result()
        assert output is not None and confidence is not None
        return AttentionResult(
            output=output,
            confidence=confidence,
            warp=self.warps.result(),
            top_k=self.topks.result(),
            matches=Matches(*(rows.result() for rows in self.matches))
            if self.matches[0].filled
            else None,
        )


def dense_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    q_prune: torch.Tensor,
    k_prune: torch.Tensor,
    *,
    temperature: float | None = None,
    prune: bool = True,
    warp_source: torch.Tensor | None = None,
    top_k: int = 0,
    keep_matches: int = 0,
    chunk_elems: int = DEFAULT_CHUNK_ELEMS,
) -> AttentionResult:
    """Full attention from every query to every reference position, with pruning.

    Args:
        q: (B, Nq, C) queries; k: (B, Nk, C) keys; v: (B, Nk, Cv) values.
        q_prune: (B, Nq, P), k_prune: (B, Nk, P) pruning features; the gate is
            D = 1[q_prune . k_prune / P > 0].
        temperature: t in C = q.k / t; None means sqrt(C).
        prune: False keeps every link (D = 1).
        warp_source: (B, Nk, Cw) values to warp with W (e.g. the pooled reference image).
        top_k: if > 0, also return each query's k reference indices with the largest C.
        keep_matches: if > 0, return each query's ``keep_matches`` candidates with the
            largest A for inspection.
    """
    dtype = q.dtype
    b, nq, c = q.shape
    nk = k.shape[1]
    t = c**0.5 if temperature is None else temperature
    out = _AttentionChunks(nq, dtype)
    rows = _rows_per_chunk(nq, b * nk * 2, chunk_elems)
    with float32(q, k, v, q_prune, k_prune) as (q, k, v, q_prune, k_prune):
        warp_source = None if warp_source is None else warp_source.to(q.dtype)
        for s in range(0, nq, rows):
            e = min(nq, s + rows)
            logits = torch.bmm(q[:, s:e], k.transpose(1, 2)) / t  # (B, m, Nk)
            attn = torch.softmax(logits, dim=-1)
            if prune:
                kept = prune_gate(
                    torch.bmm(q_prune[:, s:e], k_prune.transpose(1, 2)) / k_prune.shape[-1]
                )
            else:
                kept = torch.ones_like(attn)
            pruned_attn = attn * kept
            out.outputs.add(torch.bmm(pruned_attn, v))
            out.confs.add(pruned_attn.sum(-1))
            weights = (
                warp_weights(logits, kept) if (warp_source is not None or keep_matches) else None
            )
            if warp_source is not None:
                out.warps.add(torch.bmm(weights, warp_source))
            if top_k:
                out.topks.add(logits.topk(top_k, dim=-1).indices)
            if keep_matches:
                n = min(keep_matches, nk)
                best = attn.topk(n, dim=-1).indices
                out.add_matches(
                    Matches(
                        best,
                        attn.gather(-1, best).detach(),
                        kept.gather(-1, best).detach() > 0,
                        weights.gather(-1, best).detach(),
                    )
                )
    return out.result()


def sparse_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    q_prune: torch.Tensor,
    k_prune: torch.Tensor,
    candidates: CandidateFn,
    *,
    temperature: float,
    prune: bool = True,
    warp_source: torch.Tensor | None = None,
    top_k: int = 0,
    return_matches: bool = False,
    chunk_elems: int = DEFAULT_CHUNK_ELEMS,
) -> AttentionResult:
    """Attention from each query to its own gathered candidate set.

    Args:
        q: (B, Nq, C); k: (B, Nk, C); v: (B, Nk, Cv); q_prune: (B, Nq, P); k_prune: (B, Nk, P).
        candidates: ``candidates(start, end)`` -> (B, end - start, n) reference indices of
            queries start..end-1 (see ``inter_scale_candidates``, ``inner_scale_candidates``).
        temperature: t in C = q.k / t (the release uses 0.01).
        prune: False keeps every link. The sparse gate is D = 1[q_prune . k_prune > 0].
        warp_source: (B, Nk, Cw) values to warp with W, or None.
        top_k: if > 0, also return each query's k candidates with the largest A, as
            reference indices (B, Nq, k): the next block's matches.
        return_matches: also return every candidate's index, A, D and W.

    Runs in float32 with autocast off whatever the inputs' dtype (why: :mod:`dynast.precision`);
    output, confidence and warp come back in q's dtype, matches in float32.
    """
    dtype = q.dtype
    b, nq, c = q.shape
    n = candidates(0, 1).shape[-1]
    width = max(c, v.shape[-1], q_prune.shape[-1])
    out = _AttentionChunks(nq, dtype)
    rows = _rows_per_chunk(nq, b * n * width, chunk_elems)
    with float32(q, k, v, q_prune, k_prune) as (q, k, v, q_prune, k_prune):
        warp_source = None if warp_source is None else warp_source.to(q.dtype)
        for s in range(0, nq, rows):
            e = min(nq, s + rows)
            idx = candidates(s, e)  # (B, m, n)
            links = links_for(idx, k.shape[1])  # see dynast.links
            dots, weighted_sum = links.dots, links.weighted_sum
            logits = dots(q[:, s:e], k) / temperature
            attn = torch.softmax(logits, dim=-1)
            kept = prune_gate(dots(q_prune[:, s:e], k_prune)) if prune else torch.ones_like(attn)
            pruned_attn = attn * kept
            out.outputs.add(weighted_sum(pruned_attn, v))
            out.confs.add(pruned_attn.sum(-1))
            weights = (
                warp_weights(logits, kept) if (warp_source is not None or return_matches) else None
            )
            if warp_source is not None:
                out.warps.add(weighted_sum(weights, warp_source))
            if top_k:
                out.topks.add(idx.gather(-1, attn.topk(top_k, dim=-1).indices))
            if return_matches:
                out.add_matches(Matches(idx, attn.detach(), kept.detach() > 0, weights.detach()))
    return out.result()


def _rows_cols(
    start: int, end: int, width: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    r = torch.arange(start, end, device=device)
    return r // width, r % width


def inter_scale_candidates(coarse_top_k: torch.Tensor, height: int, width: int) -> CandidateFn:
    """Candidates inherited from the coarser scale (4k per query).

    coarse_top_k: (B, (height/2) * (width/2), k) indices into the coarse reference grid.
    A query at (y, x) inherits the k matches of its parent (y//2, x//2); each coarse match
    (py, px) becomes its four children (2py+dy, 2px+dx) in the order (0,0) (0,1) (1,0) (1,1),
    so the 2x2 window of queries shares 4k candidates, ordered match-major.
    Returns candidates(start, end) -> (B, end - start, 4k) indices into the (height, width) grid.
    """
    if height % 2 or width % 2:
        raise ValueError(f"inter-scale attention needs an even grid, got {height}x{width}")
    cw = width // 2
    if coarse_top_k.shape[1] != (height // 2) * cw:
        raise ValueError(
            f"coarse matches cover {coarse_top_k.shape[1]} positions, expected {(height // 2) * cw}"
        )

    def candidates(start: int, end: int) -> torch.Tensor:
        y, x = _rows_cols(start, end, width, coarse_top_k.device)
        parent = coarse_top_k.index_select(1, (y // 2) * cw + x // 2)  # (B, m, k)
        top = (parent // cw) * 2 * width + (parent % cw) * 2  # top-left child
        children = torch.stack([top, top + 1, top + width, top + width + 1], dim=-1)  # (B, m, k, 4)
        return children.flatten(-2)

    return candidates


def inner_scale_candidates(top_k: torch.Tensor, height: int, width: int) -> CandidateFn:
    """Candidates from the query's own matches and its 4 neighbours' (5k per query).

    top_k: (B, height * width, k) indices into the (height, width) reference grid.
    For a query at (y, x): its own k matches, then the matches of the pixel above moved down
    one row, of the pixel below moved up, of the left pixel moved right, of the right pixel
    moved left. At the border the neighbour is the pixel itself (replicate padding); moved
    coordinates are clipped into the reference grid; no de-duplication.
    Returns candidates(start, end) -> (B, end - start, 5k).
    """
    if top_k.shape[1] != height * width:
        raise ValueError(f"matches cover {top_k.shape[1]} positions, expected {height * width}")

    def neighbour(y: torch.Tensor, x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
        ny = (y + dy).clamp(0, height - 1)
        nx = (x + dx).clamp(0, width - 1)
        m = top_k.index_select(1, ny * width + nx)  # (B, m, k)
        my = (m // width - dy).clamp(0, height - 1)
        mx = (m % width - dx).clamp(0, width - 1)
        return my * width + mx

    def candidates(start: int, end: int) -> torch.Tensor:
        y, x = _rows_cols(start, end, width, top_k.device)
        own = top_k[:, start:end]
        return torch.cat(
            [
                own,
                neighbour(y, x, -1, 0),
                neighbour(y, x, 1, 0),
                neighbour(y, x, 0, -1),
                neighbour(y, x, 0, 1),
            ],
            dim=-1,
        )

    return candidates


@dataclass(frozen=True)
class AttentionKernels:
    """The attention functions a generator's transformer blocks call: the public seam for
    other implementations (e.g. ``dynast.bench.naive_sparse_attention``, a fused GPU kernel).

    dense: called like ``dense_attention``; sparse: called like ``sparse_attention``;
    chunk_elems: elements per gathered tensor in one chunk, or None for
    ``chunk_elems_for(device)``.
    """

    dense: Callable[..., AttentionResult] = dense_attention
    sparse: Callable[..., AttentionResult] = sparse_attention
    chunk_elems: int | None = None

    def chunk_for(self, device: torch.device) -> int:
        return self.chunk_elems if self.chunk_elems is not None else chunk_elems_for(device)
