"""Where and in which precision the generator runs.

``default_device()`` is CUDA when present, else the CPU. ``default_precision(device)`` picks
the fastest precision that the hardware computes natively:

- CUDA with compute capability >= 8.0 (Ampere, Hopper, ...): bf16;
- older CUDA (e.g. a T4, sm_75, where bf16 is emulated and slower than fp32): fp16;
- a CPU with native bf16 (the ``avx512_bf16`` or ``amx_bf16`` flag in /proc/cpuinfo): bf16;
- anything else: fp32 (bf16 would be emulated and slower).

``precision_context(device, precision)`` is what callers wrap the model call in: autocast
for bf16/fp16 (the generator then runs on a copy of its weights cast once, see
``DynaST.forward``), nothing for fp32; on CUDA it also turns on ``cudnn.benchmark``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from dynast.errors import PipelineError
from dynast.precision import PRECISIONS, Precision, autocast

NATIVE_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


class UnknownPrecision(ValueError):
    """A precision name other than fp32, bf16, fp16."""


@dataclass(frozen=True)
class Capability:
    """What the hardware computes natively.

    cuda: (major, minor) compute capability of the CUDA device, or None on a CPU.
    cpu_flags: the CPU's feature flags (as in /proc/cpuinfo), empty where unknown.
    """

    cuda: tuple[int, int] | None = None
    cpu_flags: frozenset[str] = field(default_factory=frozenset)


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags listed in ``cpuinfo`` (empty if it cannot be read, e.g. macOS)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def detect_capability(device: torch.device | str) -> Capability:
    """The capability of ``device`` on this machine."""
    device = torch.device(device)
    if device.type == "cuda":
        return Capability(cuda=tuple(torch.cuda.get_device_capability(device)))
    return Capability(cpu_flags=cpu_flags())


class UnknownDevice(PipelineError):
    """A device name that is malformed or names no device of this machine."""


def available_devices() -> list[str]:
    """The devices the generator can run on here: "cpu", then "cuda:0" ... and "mps"."""
    found = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())
                       if torch.cuda.is_available()]
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def check_device(device: object) -> torch.device:
    """``device`` (a name like "cpu", "cuda", "cuda:1" or a torch.device) if this machine has
    it; :class:`UnknownDevice` naming the devices that exist otherwise."""
    here = available_devices()
    try:
        dev = device if isinstance(device, torch.device) else torch.device(str(device))
    except (RuntimeError, ValueError):
        dev = None
    if dev is not None:
        name = f"{dev.type}:{0 if dev.index is None else dev.index}"
        if dev.type == "cpu" or name in here or (dev.type == "mps" and "mps" in here):
            return dev
    raise UnknownDevice(f"device {str(device)[:40]!r} is not available on this machine; "
                        f"use one of: {', '.join(here)}")


def default_device() -> torch.device:
    """CUDA when a GPU is usable, else the CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def default_precision(
    device: torch.device | str, capability: Capability | None = None
) -> Precision:
    """The fastest native precision of ``device`` (see the module docstring).

    ``capability``: injected for tests; None detects it.
    """
    device = torch.device(device)
    cap = detect_capability(device) if capability is None else capability
    if device.type == "cuda":
        if cap.cuda is None:
            return "fp32"
        return "bf16" if cap.cuda >= (8, 0) else "fp16"
    if device.type == "cpu" and cap.cpu_flags & NATIVE_BF16_CPU_FLAGS:
        return "bf16"
    return "fp32"


def check_precision(precision: str) -> Precision:
    """``precision`` if it is one of PRECISIONS, else ``UnknownPrecision``."""
    if precision not in PRECISIONS:
        raise UnknownPrecision(
            f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}"
        )
    return precision  # type: ignore[return-value]


@contextlib.contextmanager
def precision_context(device: torch.device | str, precision: str) -> Iterator[None]:
    """Run the enclosed model call on ``device`` in ``precision``.

    :func:`dynast.precision.autocast` (the precision policy), with ``cudnn.benchmark`` on
    inside on CUDA.
    """
    device = torch.device(device)
    precision = check_precision(precision)
    with contextlib.ExitStack() as stack:
        if device.type == "cuda":
            stack.enter_context(_cudnn_benchmark())
        stack.enter_context(autocast(device, precision))
        yield


@contextlib.contextmanager
def _cudnn_benchmark() -> Iterator[None]:
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous
