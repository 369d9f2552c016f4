"""The generator's inference copy in a lower precision, built once instead of autocasting
every call.

Under ``torch.autocast`` an eval-mode generator with gradients off runs on this copy (see
``DynaST.forward``): spectral norms evaluated and baked into the weights, each residual
block's BatchNorm folded into its convolution, every weight cast once to the autocast
dtype, except the modules the model lists in ``_keep_in_fp32_modules``, which stay in float32
with the attention itself (why: :mod:`dynast.precision`).
The copy is built on the meta device and filled with the cast tensors, so the float32
weights are never duplicated.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.fusion import fuse_conv_bn_weights

from dynast.layers import ResidualBlock


def _keeps_float32(name: str, keep: tuple[str, ...]) -> bool:
    """Whether the tensor ``name`` (a state-dict key) stays in float32: it, or a module it
    belongs to, is named in ``keep`` (names of tensors or modules, matched on whole parts)."""
    parts = name.split(".")
    return any(part in keep for part in parts)


def _effective_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's tensors as its forward uses them: spectral norms evaluated (eval mode),
    residual blocks' BatchNorms folded into the preceding convolution. Keys as in a model
    without parametrizations and with those BatchNorms replaced by ``nn.Identity``."""
    state: dict[str, torch.Tensor] = {}
    folded: set[str] = set()
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(module, ResidualBlock):
            for conv, norm in (("conv1", "norm1"), ("conv2", "norm2")):
                c, n = getattr(module, conv), getattr(module, norm)
                w, b = fuse_conv_bn_weights(
                    c.weight, c.bias, n.running_mean, n.running_var, n.eps, n.weight, n.bias
                )
                state[f"{prefix}{conv}.weight"], state[f"{prefix}{conv}.bias"] = (
                    w.detach(),
                    b.detach(),
                )
                folded.update({f"{prefix}{conv}", f"{prefix}{norm}"})
        if ".parametrizations" in f".{name}" or name in folded:
            continue
        if parametrize.is_parametrized(module):
            for tensor_name in module.parametrizations:
                state[prefix + tensor_name] = getattr(module, tensor_name).detach()
        for tensor_name, tensor in [
            *module.named_parameters(recurse=False),
            *module.named_buffers(recurse=False),
        ]:
            state[prefix + tensor_name] = tensor.detach()
    return state


def _skeleton(model: nn.Module) -> nn.Module:
    """An empty (meta) generator of the same architecture without parametrizations and with
    the residual blocks' BatchNorms replaced by identities."""
    with torch.device("meta"):
        skeleton = type(model)(model.config, kernels=model.kernels)
    for module in list(skeleton.modules()):
        if parametrize.is_parametrized(module):
            for tensor_name in list(module.parametrizations):
                parametrize.remove_parametrizations(module, tensor_name, leave_parametrized=False)
        if isinstance(module, ResidualBlock):
            module.norm1, module.norm2 = nn.Identity(), nn.Identity()
    return skeleton


@torch.no_grad()
def cast_copy(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """An eval-mode inference copy of ``model`` (a DynaST) in ``dtype`` (see the module
    docstring)."""
    if model.training:
        raise ValueError("cast_copy needs a model in eval mode (BatchNorm statistics are folded)")
    keep = tuple(model._keep_in_fp32_modules)
    with parametrize.cached():
        state = _effective_state(model)
    state = {
        name: t.to(memory_format=torch.channels_last) if t.dim() == 4 else t
        for name, t in state.items()
    }
    state = {
        name: t if not t.is_floating_point() or _keeps_float32(name, keep) else t.to(dtype)
        for name, t in state.items()
    }
    copy = _skeleton(model)
    copy.load_state_dict(state, strict=True, assign=True)
    return copy.eval().requires_grad_(False)


def state_version(model: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer of ``model`` is replaced or changed in place."""
    return tuple(
        (t.data_ptr(), t._version, t.device, t.dtype)
        for t in [*model.parameters(), *model.buffers()]
    )


class InferenceCopies:
    """A model's one cast copy (:func:`cast_copy`), kept beside it and rebuilt when the
    weights or the dtype change. A plain object, so the copy is not a submodule of the
    model (not in its state dict, not moved by ``.to``)."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._copy: nn.Module | None = None

    def get(self, model: nn.Module, dtype: torch.dtype) -> nn.Module:
        """``model``'s copy in ``dtype`` (built on first use, reused while unchanged)."""
        key = (dtype, state_version(model))
        if self._copy is None or self._key != key:
            self._copy = None  # free the old copy before building the new one
            self._copy, self._key = cast_copy(model, dtype), key
        return self._copy
