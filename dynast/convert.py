"""Convert the authors' released generator (``latest_net_G.pth``) into a DynaST directory.

    python -m dynast.convert latest_net_G.pth checkpoints/pose-deepfashion [--task pose|face]

The file is read with ``torch.load(weights_only=True)`` (no code is unpickled). The config
is inferred from tensor shapes; every key is mapped (spectral norm, the duplicated PReLU
keys, the unused ``embed_1``) and the result loads strictly or the command fails with the
unknown, missing and mis-shaped keys listed.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch

from dynast.config import DynaSTConfig, InvalidConfigError
from dynast.files import check_output_folder, check_regular_file
from dynast.model import DynaST


class ConversionError(ValueError):
    """The state dict does not look like the authors' DynaST generator."""


# Authors' module prefix -> ours (level-specific names are handled in _map_key).
_ENCODERS = {"encoder_q": "target_encoder", "encoder_kv": "reference_encoder"}
_BLOCK_PARTS = {"f": "to_q", "g": "to_k", "h": "to_v", "f_prune": "prune_q", "g_prune": "prune_k"}
_SPADE_PARTS = {"mlp_shared.0": "shared", "mlp_gamma": "gamma", "mlp_beta": "beta"}


def _spectral(prefix: str, suffix: str) -> str | None:
    """Map a (possibly spectral-normed) conv parameter name."""
    return {
        "weight_orig": f"{prefix}.parametrizations.weight.original",
        "weight_u": f"{prefix}.parametrizations.weight.0._u",
        "weight_v": f"{prefix}.parametrizations.weight.0._v",
        "bias": f"{prefix}.bias",
    }.get(suffix)


def _residual(prefix: str, rest: str) -> str | None:
    """The authors' ResidualBlock: relu, model.{0 conv,1 BN,2 PReLU (duplicate),3 conv,4 BN}."""
    if rest == "relu.weight":
        return f"{prefix}.act.weight"
    m = re.fullmatch(r"model\.(\d)\.(.+)", rest)
    if not m:
        return None
    index, param = m.groups()
    names = {"0": "conv1", "1": "norm1", "3": "conv2", "4": "norm2"}
    if index == "2":
        return ""  # the same PReLU registered twice: checked equal, then dropped
    return f"{prefix}.{names[index]}.{param}" if index in names else None


def _spade(prefix: str, rest: str) -> str | None:
    for theirs, ours in _SPADE_PARTS.items():
        if rest.startswith(theirs + "."):
            return f"{prefix}.{ours}.{rest[len(theirs) + 1:]}"
    return None


def _spade_resblock(prefix: str, rest: str) -> str | None:
    """The authors' SPADEResnetBlock: conv_0/conv_1 (spectral), norm_0/norm_1 (SPADE), relu."""
    if rest == "relu.weight":
        return f"{prefix}.act.weight"
    m = re.fullmatch(r"conv_([01])\.(.+)", rest)
    if m:
        return _spectral(f"{prefix}.conv{int(m.group(1)) + 1}", m.group(2))
    m = re.fullmatch(r"norm_([01])\.(.+)", rest)
    if m:
        return _spade(f"{prefix}.norm{int(m.group(1)) + 1}", m.group(2))
    return None


def _map_key(key: str) -> str | None:
    """Our name for one of the authors' keys; "" for keys that are dropped; None if unknown."""
    if key == "pos_embed":
        return key
    m = re.fullmatch(r"(encoder_q|encoder_kv)\.layer([1-4])\.(\d)\.(.+)", key)
    if m:
        enc, layer, index, rest = m.groups()
        prefix = f"{_ENCODERS[enc]}.stages.{int(layer) - 1}"
        if index == "0":
            return _spectral(f"{prefix}.conv", rest)
        if index == "2":
            return _residual(f"{prefix}.res", rest)
        return None
    m = re.fullmatch(r"embed_(q|kv|)([1-4])\.(.+)", key)
    if m:
        which, level, rest = m.groups()
        if which == "" and level == "1":
            return ""  # built by the release, never used: embed_q1 fuses the last level
        part = {"q": "target_embed", "kv": "reference_embed", "": "fuse"}[which]
        return _spade_resblock(f"levels.level{level}.{part}", rest)
    m = re.fullmatch(r"transformer_([1-4])\.(\d+)\.(.+)", key)
    if m:
        level, index, rest = m.groups()
        prefix = f"levels.level{level}.blocks.{index}"
        head, _, param = rest.partition(".")
        if head in _BLOCK_PARTS:
            return f"{prefix}.{_BLOCK_PARTS[head]}.{param}"
        if head == "spade":
            return _spade(f"{prefix}.spade", param)
        if head == "res_block":
            return _residual(f"{prefix}.res_block", param)
        return None
    m = re.fullmatch(r"(decoder_|decoder_q|decoder_kv|pos_)([1-4])([0-3])\.1\.(weight|bias)", key)
    if m:
        kind, coarse, fine, param = m.groups()
        if int(coarse) != int(fine) + 1 or fine == "0":
            return None
        part = {"decoder_": "decoder_up", "decoder_q": "target_up", "decoder_kv": "reference_up",
                "pos_": "pos_up"}[kind]
        return f"levels.level{fine}.{part}.1.{param}"
    m = re.fullmatch(r"decoder_10\.0\.(weight|bias)", key)
    if m:
        return f"to_image.{m.group(1)}"
    return None


# The target semantics' width of each of the authors' released generators.
AUTHORS_SEMANTIC_NC: dict[str, int] = {"pose": 20, "face": 15}


def authors_task(config: DynaSTConfig) -> str | None:
    """The task of the authors' release whose semantics width ``config`` has (None: neither)."""
    hits = [t for t, nc in AUTHORS_SEMANTIC_NC.items() if nc == config.semantic_nc]
    return hits[0] if len(hits) == 1 else None


def infer_config(state: dict[str, torch.Tensor], task: str | None = None) -> DynaSTConfig:
    """Read the architecture off the tensor shapes of the authors' state dict."""
    required = ["pos_embed", "encoder_q.layer1.0.weight_orig", "encoder_kv.layer1.0.weight_orig",
                "encoder_q.layer4.0.weight_orig", "transformer_4.0.f.weight",
                "transformer_1.0.f_prune.weight"]
    absent = [k for k in required if k not in state]
    if absent:
        raise ConversionError(f"not a DynaST generator state dict: missing {absent}")
    for key in required:
        dims = 4  # pos_embed is (1, C, H/8, W/8); the convolutions (out, in, kh, kw)
        shape = tuple(state[key].shape)
        if len(shape) != dims or 0 in shape:
            raise ConversionError(
                f"not a DynaST generator state dict: {key} is {shape}, expected {dims} "
                "non-zero dimensions")
    ngf, semantic_nc = state["encoder_q.layer1.0.weight_orig"].shape[:2]
    ref_in = state["encoder_kv.layer1.0.weight_orig"].shape[1]
    c4 = state["encoder_q.layer4.0.weight_orig"].shape[0]
    pos_channels, gh, gw = state["pos_embed"].shape[1:]
    max_multi = max(1, c4 // ngf)
    pos_dim = pos_channels // max_multi
    n_layers = len({k.split(".")[1] for k in state if k.startswith("transformer_4.")})
    prune_dim = state["transformer_1.0.f_prune.weight"].shape[0]
    expected = AUTHORS_SEMANTIC_NC.get(task or "")
    if expected is not None and semantic_nc != expected:
        raise ConversionError(f"--task {task} expects {expected} semantic channels, the "
                              f"checkpoint has {semantic_nc}")
    try:
        return DynaSTConfig(
            semantic_nc=int(semantic_nc),
            ref_semantic_nc=int(ref_in - 3),
            ngf=int(ngf),
            max_multi=int(max_multi),
            n_layers=int(n_layers),
            top_k=4,
            pos_dim=int(pos_dim),
            prune_dim=int(prune_dim),
            sparse_temperature=0.01,
            train_size=(int(gh) * 8, int(gw) * 8),
        )
    except InvalidConfigError as err:
        raise ConversionError(f"the tensor shapes give no usable architecture: {err}") from None


def convert_state_dict(state: dict[str, torch.Tensor], task: str | None = None) -> DynaST:
    """Build a DynaST holding the authors' weights; raises ConversionError listing every problem."""
    config = infer_config(state, task)
    model = DynaST(config)
    ours = model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    unknown, misshaped, inconsistent = [], [], []
    non_finite = [k for k, v in state.items()
                  if v.is_floating_point() and v.numel() and not bool(torch.isfinite(v).all())]
    if non_finite:
        raise ConversionError(
            f"{len(non_finite)} tensor(s) hold NaN or infinite values ({non_finite[:5]}): the "
            "checkpoint is damaged; download it again")
    for key, tensor in state.items():
        target = _map_key(key)
        if target is None or (target and target not in ours):
            unknown.append(key)
            continue
        if target == "":
            twin = key.replace("model.2.weight", "relu.weight")
            if twin != key and not torch.equal(state.get(twin, tensor), tensor):
                inconsistent.append(key)
            continue
        if ours[target].shape != tensor.shape:
            misshaped.append(
                f"{key}: {tuple(tensor.shape)} vs expected {tuple(ours[target].shape)}")
            continue
        mapped[target] = tensor.to(ours[target].dtype)
    missing = sorted(set(ours) - set(mapped))
    problems = []
    if unknown:
        problems.append(f"unknown keys ({len(unknown)}): {unknown[:20]}")
    if missing:
        problems.append(f"missing keys ({len(missing)}): {missing[:20]}")
    if misshaped:
        problems.append(f"mis-shaped keys ({len(misshaped)}): {misshaped[:20]}")
    if inconsistent:
        problems.append(f"PReLU duplicates that disagree: {inconsistent}")
    if problems:
        raise ConversionError("cannot convert this checkpoint: " + "; ".join(problems))
    model.load_state_dict(mapped, strict=True)
    return model.eval()


def load_authors_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Read ``latest_net_G.pth`` safely (tensors only)."""
    check_regular_file(path, ConversionError)  # a FIFO or device would block torch.load
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is the file's fault
        raise ConversionError(
            f"{path} is not a plain PyTorch state dict of tensors ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConversionError(f"{path} does not hold a state dict of tensors")
    names = [k for k in state if not isinstance(k, str)]
    if names:
        raise ConversionError(f"{path}: tensor names must be text, got {names[:5]}")
    return {k.removeprefix("module."): v for k, v in state.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dynast.convert",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="the authors' latest_net_G.pth")
    parser.add_argument("out_dir", help="directory to write config.json and model.safetensors into")
    parser.add_argument("--task", choices=list(AUTHORS_SEMANTIC_NC),
                        help="check the semantics width against the task")
    args = parser.parse_args(argv)
    try:
        check_output_folder(Path(args.out_dir), ConversionError)
        model = convert_state_dict(load_authors_checkpoint(args.checkpoint), args.task)
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # config.json names the task (without --task: the release whose semantics width it has)
    model.save_pretrained(args.out_dir, task=args.task or authors_task(model.config))
    cfg = model.config
    print(f"wrote {args.out_dir}: ngf={cfg.ngf} semantic_nc={cfg.semantic_nc} "
          f"train_size={cfg.train_size}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
