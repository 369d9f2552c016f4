"""The benchmark entry point and its naive reference attention."""

from __future__ import annotations

import json

import torch

from conftest import random_inputs, tiny_config
from dynast import bench
from dynast.attention import inner_scale_candidates, inter_scale_candidates, sparse_attention


def _grid_inputs(b: int, h: int, w: int, c: int, p: int, seed: int) -> tuple[torch.Tensor, ...]:
    """q, k (B, hw, c), v (B, hw, c + 3), q_prune, k_prune (B, hw, p), warp source (B, hw, 3)."""
    g = torch.Generator().manual_seed(seed)
    n = h * w
    return (
        torch.randn(b, n, c, generator=g) * 0.1,
        torch.randn(b, n, c, generator=g) * 0.1,
        torch.randn(b, n, c + 3, generator=g),
        torch.randn(b, n, p, generator=g),
        torch.randn(b, n, p, generator=g),
        torch.randn(b, n, 3, generator=g),
    )


def test_naive_sparse_attention_agrees_with_the_chunked_one():
    b, h, w, k = 2, 6, 8, 4
    q, key, v, qp, kp, source = _grid_inputs(b, h, w, c=5, p=3, seed=1)
    g = torch.Generator().manual_seed(2)
    coarse = torch.randint(0, (h // 2) * (w // 2), (b, (h // 2) * (w // 2), k), generator=g)
    fine = torch.randint(0, h * w, (b, h * w, k), generator=g)
    for candidates in (inter_scale_candidates(coarse, h, w), inner_scale_candidates(fine, h, w)):
        kwargs = dict(temperature=0.01, warp_source=source, top_k=k, return_matches=True)
        ours = sparse_attention(q, key, v, qp, kp, candidates, chunk_elems=64, **kwargs)
        naive = bench.naive_sparse_attention(q, key, v, qp, kp, candidates, **kwargs)
        for name in ("output", "confidence", "warp"):
            torch.testing.assert_close(
                getattr(naive, name), getattr(ours, name), rtol=1e-5, atol=1e-5
            )
        assert torch.equal(naive.top_k, ours.top_k)
        assert torch.equal(naive.matches.indices, ours.matches.indices)
        assert torch.equal(naive.matches.kept, ours.matches.kept)


def test_the_model_gives_the_same_image_with_the_naive_attention():
    cfg = tiny_config()
    torch.manual_seed(0)
    from dynast import DynaST

    model = DynaST(cfg).eval()
    naive_model = DynaST(cfg, kernels=bench.NAIVE_KERNELS).eval()
    naive_model.load_state_dict(model.state_dict())
    inputs = random_inputs(cfg)
    with torch.no_grad():
        ours = model(*inputs).image
        naive = naive_model(*inputs).image
    torch.testing.assert_close(naive, ours, rtol=1e-4, atol=1e-4)


def test_bench_entry_point_prints_json_for_a_tiny_run(capsys, tmp_path):
    plot_path = tmp_path / "plot.png"
    argv = [
        "--ngf",
        "8",
        "--sizes",
        "32",
        "--precisions",
        "fp32",
        "--repeats",
        "1",
        "--device",
        "cpu",
    ]
    assert bench.main([*argv, "--compare-naive", "--json", "--plot", str(plot_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {
        "torch",
        "threads",
        "cpu_capability",
        "gemm_tflops",
        "results",
        "naive_over_ours",
    }
    assert report["gemm_tflops"]["cpu/fp32"] > 0
    rows = report["results"]
    assert [(r["size"], r["dtype"], r["attention"]) for r in rows] == [
        (32, "fp32", "ours"),
        (32, "fp32", "naive"),
    ]
    for row in rows:
        assert "error" not in row, row
        assert (
            row["device"] == "cpu"
            and row["ngf"] == 8
            and row["batch"] == 1
            and len(row["latencies_s"]) == 1
        )
        assert row["latency_s"] > 0 and row["min_latency_s"] > 0
        assert row["gflops"] > 0 and row["tflops_per_s"] > 0 and row["peak_memory_bytes"] >= 0
    assert report["naive_over_ours"][0]["size"] == 32
    assert plot_path.stat().st_size > 0


def test_bench_batches_precisions_and_json_file(tmp_path):
    out = tmp_path / "out.json"
    argv = [
        "--ngf",
        "8",
        "--sizes",
        "32",
        "--precisions",
        "bf16",
        "fp16",
        "--batch",
        "1",
        "2",
        "--repeats",
        "1",
        "--device",
        "cpu",
        "--json",
        str(out),
    ]
    assert bench.main(argv) == 0
    rows = json.loads(out.read_text())["results"]
    assert [(r["dtype"], r["batch"]) for r in rows] == [
        ("bf16", 1),
        ("bf16", 2),
        ("fp16", 1),
        ("fp16", 2),
    ]
    for row in rows:
        assert "error" not in row, row
        assert row["images_per_s"] > 0
