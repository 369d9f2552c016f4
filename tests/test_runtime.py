"""Device and precision choice (dynast.inference.runtime), with injected capabilities."""

from __future__ import annotations

import pytest
import torch

from dynast.inference.runtime import (
    PRECISIONS,
    Capability,
    UnknownPrecision,
    cpu_flags,
    default_device,
    default_precision,
    precision_context,
)


@pytest.mark.parametrize(
    "device, capability, expected",
    [
        ("cuda", Capability(cuda=(9, 0)), "bf16"),  # H100/H200
        ("cuda", Capability(cuda=(8, 0)), "bf16"),  # A100
        ("cuda", Capability(cuda=(8, 6)), "bf16"),  # A10G
        ("cuda", Capability(cuda=(7, 5)), "fp16"),  # T4: bf16 emulated there
        ("cuda", Capability(cuda=(6, 0)), "fp16"),
        ("cpu", Capability(cpu_flags=frozenset({"avx2", "avx512f", "avx512_bf16"})), "bf16"),
        ("cpu", Capability(cpu_flags=frozenset({"avx2", "amx_bf16", "amx_tile"})), "bf16"),
        ("cpu", Capability(cpu_flags=frozenset({"avx2", "avx512f"})), "fp32"),  # bf16 emulated
        ("cpu", Capability(), "fp32"),  # unknown CPU (no /proc/cpuinfo)
    ],
)
def test_precision_follows_the_hardware(device, capability, expected):
    assert default_precision(device, capability) == expected


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_bf16\n\n")
    flags = cpu_flags(info)
    assert flags == {"fpu", "avx2", "avx512_bf16"}
    assert default_precision("cpu", Capability(cpu_flags=flags)) == "bf16"
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_default_device_and_precision_on_this_machine():
    device = default_device()
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert default_precision(device) in PRECISIONS


@pytest.mark.parametrize(
    "precision, dtype", [("fp32", None), ("bf16", torch.bfloat16), ("fp16", torch.float16)]
)
def test_precision_context_sets_autocast(precision, dtype):
    with precision_context("cpu", precision):
        assert torch.is_autocast_enabled("cpu") == (dtype is not None)
        if dtype is not None:
            assert torch.get_autocast_dtype("cpu") == dtype
    assert not torch.is_autocast_enabled("cpu")


def test_precision_context_turns_autocast_off_for_fp32_and_refuses_unknown_names():
    with torch.autocast("cpu", dtype=torch.bfloat16), precision_context("cpu", "fp32"):
        assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(UnknownPrecision, match="fp32, bf16, fp16"):
        with precision_context("cpu", "int8"):
            pass
