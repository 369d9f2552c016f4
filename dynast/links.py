"""Reading each query's candidate links: by gathering the candidates' tokens, or, on CPU
without autograd, as a sparse CSR matrix that reads the tokens in place.

Both give ``dots(x, y)`` (B, m, n) = x_i . y[idx_ij] and ``weighted_sum(w, y)`` (B, m, Cy) =
sum_j w_ij y[idx_ij] for a chunk's candidate indices idx (B, m, n) into y's Nk tokens.
"""

from __future__ import annotations

import warnings

import torch


class CsrLinks:
    """A chunk's candidate links as a sparse (B*m, B*Nk) CSR pattern, so dot products
    (``sampled_addmm``) and weighted sums (sparse @ dense) read the reference tokens in place
    instead of gathering (B, m, n, C) copies. idx: (B, m, n) indices into Nk tokens."""

    def __init__(self, idx: torch.Tensor, n_keys: int) -> None:
        b, m, n = idx.shape
        offsets = torch.arange(b, device=idx.device).view(b, 1, 1) * n_keys
        self.crow = torch.arange(0, b * m * n + 1, n, device=idx.device)
        self.col = (idx + offsets).reshape(-1)
        self.bmn = (b, m, n)
        self.size = (b * m, b * n_keys)

    def _matrix(self, values: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(self.crow, self.col, values.reshape(-1), size=self.size)

    def dots(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (B, m, C), y: (B, Nk, C) -> (B, m, n): x_i . y_idx[i, j]."""
        c = x.shape[-1]
        pattern = self._matrix(torch.zeros(self.col.shape[0], dtype=x.dtype, device=x.device))
        out = torch.sparse.sampled_addmm(pattern, x.reshape(-1, c), y.reshape(-1, c).T, beta=0.0)
        return out.values().view(self.bmn)

    def weighted_sum(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """weights: (B, m, n), y: (B, Nk, Cy) -> (B, m, Cy): sum_j weights_ij y_idx[i, j]."""
        b, m, _ = self.bmn
        return (self._matrix(weights) @ y.reshape(-1, y.shape[-1])).view(b, m, -1)


def gather_tokens(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x: (B, N, C), idx: (B, m, n) long -> (B, m, n, C) with out[b,i,j] = x[b, idx[b,i,j]]."""
    b, n_tok, c = x.shape
    offsets = torch.arange(b, device=idx.device).view(b, 1, 1) * n_tok
    flat = x.reshape(b * n_tok, c).index_select(0, (idx + offsets).reshape(-1))
    return flat.view(*idx.shape, c)


class GatheredLinks:
    """Candidate links read by gathering (B, m, n, C) copies: works with autograd and on GPUs."""

    def __init__(self, idx: torch.Tensor) -> None:
        self.idx = idx

    def dots(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (B, m, C), y: (B, Nk, C) -> (B, m, n)."""
        return torch.einsum("bmc,bmnc->bmn", x, gather_tokens(y, self.idx))

    def weighted_sum(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """weights: (B, m, n), y: (B, Nk, Cy) -> (B, m, Cy)."""
        return torch.einsum("bmn,bmnc->bmc", weights, gather_tokens(y, self.idx))


def links_for(idx: torch.Tensor, n_keys: int) -> CsrLinks | GatheredLinks:
    """CSR links on CPU without autograd (when the grid holds a candidate set), else gathered."""
    if idx.device.type == "cpu" and not torch.is_grad_enabled() and idx.shape[-1] <= n_keys:
        return CsrLinks(idx, n_keys)
    return GatheredLinks(idx)
