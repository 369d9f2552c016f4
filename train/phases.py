"""Phases of a run's schedule: matching first (``schedule.matching_only_steps``) and the pruning
gate held open (``schedule.gate_open_steps``), then the full objective with the learned gate.

A random pruning gate cuts most links early, so the warps get little gradient; holding it open
and training the matching path alone first lets the correspondence be learned before the decoder,
discriminator and VGG terms join in.
"""

from __future__ import annotations

import torch
from torch import nn

from dynast import DynaST, DynaSTConfig
from dynast.transformer import TransformerBlock
from train.config import TrainConfig
from train.losses.objectives import LossTerms, matching_loss, teacher_guide


def matching_phase(cfg: TrainConfig, step: int) -> bool:
    """True while step ``step`` (0-based) trains on the matching loss alone."""
    return step < cfg.schedule.matching_only_steps


def set_gate(model: nn.Module, step: int, cfg: TrainConfig) -> None:
    """Hold every block's pruning gate open during the first ``gate_open_steps`` steps; afterwards
    the gate is what the model's config says (``prune``)."""
    pruning = bool(model.config.prune) and step >= cfg.schedule.gate_open_steps
    for module in model.modules():
        if isinstance(module, TransformerBlock):
            module.prune = pruning


def matching_terms(warps: list[torch.Tensor], batch: dict, weight: float) -> LossTerms:
    """The matching-only objective: weight x sum over blocks of L1(warp, pooled target), or of
    the landmark teacher inside its mask where the batch carries one."""
    guide, mask = teacher_guide(batch)
    loss = matching_loss(warps, guide, mask) * weight
    return LossTerms(loss, {"matching": loss})


def initial_generator(cfg: TrainConfig, model_cfg: DynaSTConfig) -> DynaST:
    """A new generator of ``model_cfg``, or the weights in ``model.init`` (their architecture and
    train_size kept; the channel counts and ngf must match the run's)."""
    if not cfg.model.init:
        return DynaST(model_cfg)
    model = DynaST.from_pretrained(cfg.model.init).train()
    got, want = model.config, model_cfg
    if (got.ngf, got.semantic_nc, got.ref_semantic_nc) != (
        want.ngf,
        want.semantic_nc,
        want.ref_semantic_nc,
    ):
        raise ValueError(
            f"model.init {cfg.model.init}: ngf {got.ngf}, {got.semantic_nc}/"
            f"{got.ref_semantic_nc} semantic channels; this run needs ngf {want.ngf}, "
            f"{want.semantic_nc}/{want.ref_semantic_nc}"
        )
    return model


def check_schedule(cfg: TrainConfig, supervised: bool) -> None:
    """The matching-first phase needs a supervised task and a matching weight."""
    if cfg.schedule.matching_only_steps > 0 and not (supervised and cfg.loss.matching > 0):
        raise ValueError(
            "schedule.matching_only_steps needs a supervised task (pose, face) and "
            "loss.matching > 0"
        )
