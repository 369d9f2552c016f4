"""One dynamic (sparse) transformer block of the generator (paper Eq. 2-9, SPEC section 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dynast.attention import (
    AttentionKernels,
    AttentionResult,
    inner_scale_candidates,
    inter_scale_candidates,
)
from dynast.config import DynaSTConfig
from dynast.layers import SPADE, ResidualBlock, l2_normalize, positional_norm
from dynast.precision import autocast_off, tf32_disabled

DENSE_MATCHES_KEPT = 16  # candidates per query kept for inspection in dense blocks


def _tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H*W, C)."""
    return x.flatten(2).transpose(1, 2).contiguous()


class TransformerBlock(nn.Module):
    """One dynamic (sparse) transformer block (Eq. 2-9).

    query = [l2norm(x), pos], key = [l2norm(kv), pos]; q = alpha(query), k = beta(key),
    v = eta(kv); pruning features Omega(query), Phi(key). The attention output joins a
    SPADE fallback weighted by the missing confidence:
        y = PN(Ã v + (1 - conf) * SPADE(x, S_tgt) + x);  out = ResidualBlock(y).
    """

    def __init__(self, cfg: DynaSTConfig, level: int, kind: str, kernels: AttentionKernels) -> None:
        super().__init__()
        c = cfg.channels(level)
        qk = c + cfg.pos_dim * cfg.multiplier(level)
        prune = cfg.prune_dim * cfg.multiplier(level)
        self.kind = kind
        self.level = level
        self.kernels = kernels
        self.temperature = None if kind == "dense" else cfg.sparse_temperature
        self.prune = cfg.prune
        self.to_q = nn.Conv2d(qk, qk, 1)  # alpha
        self.to_k = nn.Conv2d(qk, qk, 1)  # beta
        self.to_v = nn.Conv2d(c, c, 1)  # eta
        self.prune_q = nn.Conv2d(qk, prune, 1)  # Omega
        self.prune_k = nn.Conv2d(qk, prune, 1)  # Phi
        self.spade = SPADE(c, cfg.semantic_nc)
        self.res_block = ResidualBlock(c)

    def _project(
        self, x: torch.Tensor, kv: torch.Tensor, pos: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """x, kv: (B, C, h, w); pos: (B, P, h, w) -> tokens q, k (B, hw, C+P), v (B, hw, C),
        q_prune, k_prune (B, hw, prune), in the projections' dtype. The 1x1 convolutions
        run as matrix products on the tokens (free views of channels-last maps)."""
        dtype = self.to_q.weight.dtype
        pos = _tokens(pos).to(dtype)

        def features(t: torch.Tensor) -> torch.Tensor:  # [l2norm(t), pos] tokens
            return torch.cat([l2_normalize(_tokens(t).to(dtype), dim=-1), pos], dim=-1)

        def project(conv: nn.Conv2d, tokens: torch.Tensor) -> torch.Tensor:
            return F.linear(tokens, conv.weight.flatten(1), conv.bias)

        # One input at a time, so that at most one float32 copy of the features is alive.
        query = features(x)
        q, q_prune = project(self.to_q, query), project(self.prune_q, query)
        del query
        key = features(kv)
        k, k_prune = project(self.to_k, key), project(self.prune_k, key)
        del key
        return q, k, project(self.to_v, _tokens(kv).to(dtype)), q_prune, k_prune

    def forward(
        self,
        x: torch.Tensor,
        kv: torch.Tensor,
        pos: torch.Tensor,
        target_semantics: torch.Tensor,
        links: torch.Tensor | None,
        *,
        top_k: int,
        warp_source: torch.Tensor | None,
        return_matches: bool,
    ) -> tuple[torch.Tensor, AttentionResult]:
        """x, kv: (B, C, h, w); pos: (1, P, h, w); links: previous matches (B, N', k) or None.

        Returns (out (B, C, h, w), AttentionResult with top_k (B, h*w, k) when top_k > 0).
        """
        b, _, h, w = x.shape
        with tf32_disabled():
            result = self._attend(
                x, kv, pos.expand(b, -1, -1, -1), links, top_k, warp_source, return_matches
            )
        attended = result.output.to(x.dtype).transpose(1, 2).reshape(b, -1, h, w)
        conf = result.confidence.to(x.dtype).view(b, 1, h, w)
        y = positional_norm(attended + (1 - conf) * self.spade(x, target_semantics) + x)
        return self.res_block(y), result

    def _attend(
        self,
        x: torch.Tensor,
        kv: torch.Tensor,
        pos: torch.Tensor,
        links: torch.Tensor | None,
        top_k: int,
        warp_source: torch.Tensor | None,
        return_matches: bool,
    ) -> AttentionResult:
        """Project and attend (TF32 off: see :mod:`dynast.precision`)."""
        h, w = x.shape[-2:]
        with autocast_off(x.device):  # float32 projections: see dynast.precision
            args = self._project(x, kv, pos)
        source = None if warp_source is None else _tokens(warp_source)
        chunk = self.kernels.chunk_for(x.device)
        if self.kind == "dense":
            return self.kernels.dense(
                *args,
                prune=self.prune,
                warp_source=source,
                top_k=top_k,
                keep_matches=DENSE_MATCHES_KEPT if return_matches else 0,
                chunk_elems=chunk,
            )
        candidates_of = (
            inter_scale_candidates if self.kind == "inter" else inner_scale_candidates
        )
        return self.kernels.sparse(
            *args,
            candidates_of(links, h, w),
            temperature=self.temperature,
            prune=self.prune,
            warp_source=source,
            top_k=top_k,
            return_matches=return_matches,
            chunk_elems=chunk,
        )
