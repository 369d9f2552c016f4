"""The attention functions against plain dense versions on tiny inputs."""

from __future__ import annotations

import torch

from dynast.attention import (
    dense_attention,
    inner_scale_candidates,
    inter_scale_candidates,
    prune_gate,
    sparse_attention,
)


def _tokens(b, n, c, seed):
    return torch.randn(b, n, c, generator=torch.Generator().manual_seed(seed))


def _reference_on_candidates(q, k, v, qp, kp, idx, t, warp_source):
    """Plain loops: softmax over each query's candidates, gate, weighted sums."""
    b, nq, _ = q.shape
    out = torch.zeros(b, nq, v.shape[-1])
    conf = torch.zeros(b, nq)
    warp = torch.zeros(b, nq, warp_source.shape[-1])
    for bi in range(b):
        for i in range(nq):
            cand = idx[bi, i]
            logits = k[bi, cand] @ q[bi, i] / t
            attn = torch.softmax(logits, 0)
            kept = (kp[bi, cand] @ qp[bi, i] > 0).float()
            out[bi, i] = (attn * kept) @ v[bi, cand]
            conf[bi, i] = (attn * kept).sum()
            e = kept * torch.exp(logits - logits.max())
            warp[bi, i] = (e / e.sum() if e.sum() > 0 else e) @ warp_source[bi, cand]
    return out, conf, warp


def test_dense_attention_matches_plain_softmax_and_chunking_is_exact():
    q, k, v = _tokens(2, 12, 6, 0), _tokens(2, 12, 6, 1), _tokens(2, 12, 5, 2)
    qp, kp = _tokens(2, 12, 4, 3), _tokens(2, 12, 4, 4)
    src = _tokens(2, 12, 3, 5)
    full = dense_attention(q, k, v, qp, kp, warp_source=src, top_k=3)
    chunked = dense_attention(
        q, k, v, qp, kp, warp_source=src, top_k=3, chunk_elems=24
    )  # one query per chunk
    all_idx = torch.arange(12).expand(2, 12, 12)
    out, conf, warp = _reference_on_candidates(q, k, v, qp, kp, all_idx, 6**0.5, src)
    torch.testing.assert_close(full.output, out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(full.confidence, conf, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(full.warp, warp, rtol=1e-5, atol=1e-5)
    # BLAS may block a (1 x n) product differently from a (12 x n) one: equal to rounding
    for a, b in [
        (full.output, chunked.output),
        (full.confidence, chunked.confidence),
        (full.warp, chunked.warp),
    ]:
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    assert torch.equal(full.top_k, chunked.top_k)
    logits = torch.bmm(q, k.transpose(1, 2)) / 6**0.5
    assert torch.equal(full.top_k, logits.topk(3, -1).indices)


def _grid_tokens(b, h, w, c, seed):
    return _tokens(b, h * w, c, seed)


def test_inter_scale_candidates_are_the_children_of_the_parents_matches():
    h, w, k = 4, 6, 2
    coarse = torch.tensor([[[0, 5], [1, 2], [3, 4], [5, 0], [2, 2], [4, 1]]])  # (1, 2*3, k)
    cands = inter_scale_candidates(coarse, h, w)(0, h * w)
    assert cands.shape == (1, h * w, 4 * k)
    # query (3, 5) has parent (1, 2) -> coarse matches [4, 1] = (1, 1) and (0, 1)
    q = 3 * w + 5
    expected = []
    for py, px in [(1, 1), (0, 1)]:
        for dy, dx in [(0, 0), (0, 1), (1, 0), (1, 1)]:
            expected.append((2 * py + dy) * w + 2 * px + dx)
    assert cands[0, q].tolist() == expected
    # the 2x2 window of queries shares its candidates
    assert torch.equal(cands[0, 2 * w + 4], cands[0, q])


def test_inner_scale_candidates_shift_neighbour_matches_and_clip():
    h, w = 3, 4
    top = torch.arange(h * w).view(1, h * w, 1)  # every pixel matches itself
    cands = inner_scale_candidates(top, h, w)(0, h * w)
    assert cands.shape == (1, h * w, 5)
    # identity matches shifted back by the neighbour offset give the pixel itself
    # (or its clipped neighbour at the border)
    assert torch.equal(cands[0, 5], torch.full((5,), 5))
    # top-left corner: the "above" neighbour is itself (replicate) moved down one row
    assert cands[0, 0].tolist() == [0, 0 + w, 0, 1, 0]
    # chunks give the same rows
    fn = inner_scale_candidates(top, h, w)
    assert torch.equal(torch.cat([fn(0, 5), fn(5, 12)], 1), cands)


def test_sparse_attention_matches_loops_and_chunking_is_exact():
    b, h, w, k = 2, 4, 4, 2
    q, kk, v = _grid_tokens(b, h, w, 6, 0), _grid_tokens(b, h, w, 6, 1), _grid_tokens(b, h, w, 5, 2)
    qp, kp = _grid_tokens(b, h, w, 3, 3), _grid_tokens(b, h, w, 3, 4)
    src = _grid_tokens(b, h, w, 3, 5)
    top = torch.randint(0, h * w, (b, h * w, k), generator=torch.Generator().manual_seed(6))
    fn = inner_scale_candidates(top, h, w)
    full = sparse_attention(
        q, kk, v, qp, kp, fn, temperature=0.5, warp_source=src, top_k=k, return_matches=True
    )
    chunked = sparse_attention(
        q, kk, v, qp, kp, fn, temperature=0.5, warp_source=src, top_k=k, chunk_elems=1
    )
    out, conf, warp = _reference_on_candidates(q, kk, v, qp, kp, fn(0, h * w), 0.5, src)
    torch.testing.assert_close(full.output, out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(full.confidence, conf, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(full.warp, warp, rtol=1e-5, atol=1e-5)
    for a, c in [
        (full.output, chunked.output),
        (full.confidence, chunked.confidence),
        (full.warp, chunked.warp),
        (full.top_k, chunked.top_k),
    ]:
        assert torch.equal(a, c)
    # the next block's matches are the candidates with the largest unpruned attention
    best = full.matches.attention.topk(k, -1).indices
    assert torch.equal(full.top_k, full.matches.indices.gather(-1, best))


def test_dense_and_sparse_agree_when_candidates_are_everything():
    b, n = 1, 9
    q, k, v = _tokens(b, n, 4, 0), _tokens(b, n, 4, 1), _tokens(b, n, 4, 2)
    qp, kp = _tokens(b, n, 2, 3), _tokens(b, n, 2, 4)
    every = lambda s, e: torch.arange(n).expand(b, e - s, n)  # noqa: E731
    dense = dense_attention(
        q, k, v, qp * 2**0.5, kp * 2**0.5, temperature=0.3
    )  # /P rescales, sign kept
    sparse = sparse_attention(q, k, v, qp, kp, every, temperature=0.3)
    torch.testing.assert_close(dense.output, sparse.output)
    torch.testing.assert_close(dense.confidence, sparse.confidence)


def test_warp_rows_sum_to_one_where_kept_and_zero_where_all_pruned():
    b, n = 1, 10
    q, k, v = _tokens(b, n, 4, 0), _tokens(b, n, 4, 1), _tokens(b, n, 4, 2)
    qp, kp = _tokens(b, n, 3, 3), _tokens(b, n, 3, 4)
    qp[0, 0] = 0.0  # query 0: every gate input is 0 -> all links pruned
    ones = torch.ones(b, n, 1)
    res = dense_attention(q, k, v, qp, kp, warp_source=ones, keep_matches=n)
    sums = res.warp[0, :, 0]
    assert sums[0].item() == 0.0
    torch.testing.assert_close(sums[1:], torch.ones(n - 1))
    assert res.confidence[0, 0].item() == 0.0
    assert not res.matches.kept[0, 0].any()


def test_prune_gate_forward_is_a_step_and_backward_is_sigmoid_derivative():
    x = torch.tensor([-2.0, -0.1, 0.0, 0.3, 4.0], requires_grad=True)
    d = prune_gate(x)
    assert d.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    d.backward(torch.ones_like(d))
    s = torch.sigmoid(x.detach())
    torch.testing.assert_close(x.grad, s * (1 - s))


def test_gradients_flow_through_sparse_attention_into_the_gate_features():
    b, h, w = 1, 2, 2
    q = _grid_tokens(b, h, w, 4, 0).requires_grad_()
    kp = _grid_tokens(b, h, w, 2, 4).requires_grad_()
    top = torch.zeros(b, h * w, 1, dtype=torch.long)
    res = sparse_attention(
        q,
        _grid_tokens(b, h, w, 4, 1),
        _grid_tokens(b, h, w, 3, 2),
        _grid_tokens(b, h, w, 2, 3),
        kp,
        inner_scale_candidates(top, h, w),
        temperature=1.0,
        warp_source=_grid_tokens(b, h, w, 3, 5),
    )
    (res.output.sum() + res.warp.sum()).backward()
    assert q.grad.abs().sum() > 0 and kp.grad.abs().sum() > 0


def test_sparse_links_in_place_agree_with_gathered_candidates():
    """Without autograd on CPU the links are a sparse matrix; with it, candidates are gathered."""
    b, h, w, k = 2, 6, 6, 4
    q, kk, v = _grid_tokens(b, h, w, 6, 0), _grid_tokens(b, h, w, 6, 1), _grid_tokens(b, h, w, 5, 2)
    qp, kp = _grid_tokens(b, h, w, 3, 3), _grid_tokens(b, h, w, 3, 4)
    src = _grid_tokens(b, h, w, 3, 5)
    top = torch.randint(0, h * w, (b, h * w, k), generator=torch.Generator().manual_seed(6))
    top[:, :, 1] = top[:, :, 0]  # duplicated candidates count twice in both
    fn = inner_scale_candidates(top, h, w)
    kwargs = dict(temperature=0.5, warp_source=src, top_k=k, return_matches=True, chunk_elems=200)
    gathered = sparse_attention(q, kk, v, qp, kp, fn, **kwargs)
    with torch.no_grad():
        in_place = sparse_attention(q, kk, v, qp, kp, fn, **kwargs)
    for field in ("output", "confidence", "warp"):
        torch.testing.assert_close(
            getattr(in_place, field), getattr(gathered, field), rtol=1e-5, atol=1e-6
        )
    assert torch.equal(in_place.top_k, gathered.top_k)
    assert torch.equal(in_place.matches.kept, gathered.matches.kept)


def test_chunks_written_in_place_without_autograd_equal_one_chunk_in_callers_dtype():
    """Without autograd the per-chunk rows (matches too) go straight into one result tensor
    (no list and concatenation, which held the result twice); with many chunks it equals one
    chunk, and output, confidence and warp come back in the queries' dtype."""
    b, h, w, k = 1, 6, 6, 2
    q, kk, v = _grid_tokens(b, h, w, 6, 0), _grid_tokens(b, h, w, 6, 1), _grid_tokens(b, h, w, 5, 2)
    qp, kp = _grid_tokens(b, h, w, 3, 3), _grid_tokens(b, h, w, 3, 4)
    src = _grid_tokens(b, h, w, 3, 5)
    top = torch.randint(0, h * w, (b, h * w, k), generator=torch.Generator().manual_seed(6))
    fn = inner_scale_candidates(top, h, w)
    kwargs = dict(temperature=0.5, warp_source=src, top_k=k)
    with torch.no_grad():
        one = sparse_attention(q, kk, v, qp, kp, fn, return_matches=True, **kwargs)
        many = sparse_attention(  # 7 chunks
            q, kk, v, qp, kp, fn, return_matches=True, chunk_elems=70, **kwargs
        )
        dense_one = dense_attention(q, kk, v, qp, kp, keep_matches=3, **kwargs)
        dense_many = dense_attention(q, kk, v, qp, kp, keep_matches=3, chunk_elems=150, **kwargs)
        half = sparse_attention(
            *(t.bfloat16() for t in (q, kk, v, qp, kp)), fn, chunk_elems=70, **kwargs
        )
    for a, c in [(one, many), (dense_one, dense_many)]:
        for field in ("output", "confidence", "warp"):  # matrix products block by chunk size
            torch.testing.assert_close(getattr(a, field), getattr(c, field), rtol=1e-6, atol=1e-6)
        assert torch.equal(a.top_k, c.top_k)
        assert torch.equal(a.matches.indices, c.matches.indices)
        assert torch.equal(a.matches.kept, c.matches.kept)
        torch.testing.assert_close(a.matches.weights, c.matches.weights, rtol=1e-6, atol=1e-6)
        assert a.matches.indices.shape[:2] == (b, h * w)
    assert (half.output.dtype, half.confidence.dtype, half.warp.dtype) == (torch.bfloat16,) * 3
    assert half.top_k.dtype == torch.long and half.top_k.shape == (b, h * w, k)
