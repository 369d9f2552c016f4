"""The generator's configuration: one typed dataclass, saved as ``config.json``."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dynast.files import read_regular_file

# Downsampling factor of each matching level (level 4 is the coarsest, H/8).
LEVEL_STRIDES: dict[int, int] = {4: 8, 3: 4, 2: 2, 1: 1}
# config.json keys that describe the checkpoint rather than the network
METADATA_KEYS: tuple[str, ...] = ("task",)
# Upper bounds on what a config may ask for: far above any trained DynaST (the authors' is
# ngf 64, 512 channels at level 4, 2 layers), low enough that a crafted config.json cannot
# make the model allocate gigabytes.
LIMITS: dict[str, int] = {"semantic_nc": 256, "ref_semantic_nc": 256, "ngf": 256,
                          "max_multi": 16, "n_layers": 16, "top_k": 64, "pos_dim": 256,
                          "prune_dim": 256}
MAX_CHANNELS = 2048  # widest level (ngf * multiplier)
MAX_TRAIN_SIDE = 4096
MAX_CONFIG_BYTES = 64 * 1024


class InvalidConfigError(ValueError):
    """A generator configuration that cannot be built: a field of the wrong type or out of
    range, an unknown field, or a config.json that is not a JSON object."""


@dataclass(frozen=True)
class DynaSTConfig:
    """Hyper-parameters of the DynaST generator (SPEC section 2, paper section 3).

    Attributes:
        semantic_nc: channels of the target semantics S_tgt (pose 20, CelebA-HQ edges 15,
            style transfer 3: the content image).
        ref_semantic_nc: channels of the reference semantics S_ref fed to the reference
            encoder beside the reference image; 0 for style transfer (no S_ref).
        ngf: base width; level l has ``ngf * min(max_multi, 2**(l-1))`` channels.
        max_multi: cap on the width multiplier.
        n_layers: transformer blocks per level.
        top_k: matches kept per query between blocks (k).
        pos_dim: position-embedding width at level 1 (x8 at level 4).
        prune_dim: pruning-feature width at level 1 (x multiplier at coarser levels).
        sparse_temperature: t of the sparse blocks (logits are q.k / t); dense blocks use
            sqrt(channels).
        train_size: (H, W) the learned position grid was trained at; the grid is
            (H/8, W/8) and is resized for other input sizes.
        prune: ablation switch: False keeps every link (D = 1).
        inner_scale: ablation switch: False makes every sparse block inter-scale
            (the paper's "wo Inner").
        finest_match_stride: finest level that matches, as its stride: 1 = full
            resolution, 2/4/8 = the paper's "Ours-128/64/32" at 256x256. Coarser-only
            matching leaves finer levels with their target features alone.
    """

    semantic_nc: int = 20
    ref_semantic_nc: int = 20
    ngf: int = 64
    max_multi: int = 8
    n_layers: int = 2
    top_k: int = 4
    pos_dim: int = 16
    prune_dim: int = 16
    sparse_temperature: float = 0.01
    train_size: tuple[int, int] = (256, 256)
    prune: bool = True
    inner_scale: bool = True
    finest_match_stride: int = 1

    def __post_init__(self) -> None:
        problems = self._type_problems()
        if problems:
            raise InvalidConfigError("invalid DynaSTConfig: " + "; ".join(problems))
        object.__setattr__(self, "train_size", tuple(int(s) for s in self.train_size))
        problems += [f"{name} must be at most {top}, got {getattr(self, name)}"
                     for name, top in LIMITS.items() if getattr(self, name) > top]
        if self.channels(4) > MAX_CHANNELS:
            problems.append(f"ngf * max_multi caps at {MAX_CHANNELS} channels, got "
                            f"{self.channels(4)}")
        if any(s > MAX_TRAIN_SIDE for s in self.train_size):
            problems.append(f"train_size sides must be at most {MAX_TRAIN_SIDE}, got "
                            f"{self.train_size}")
        if self.semantic_nc < 1:
            problems.append(f"semantic_nc must be >= 1, got {self.semantic_nc}")
        if self.ref_semantic_nc < 0:
            problems.append(f"ref_semantic_nc must be >= 0, got {self.ref_semantic_nc}")
        for name in ("ngf", "max_multi", "n_layers", "top_k", "pos_dim", "prune_dim"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.sparse_temperature <= 0:
            problems.append(f"sparse_temperature must be > 0, got {self.sparse_temperature}")
        if len(self.train_size) != 2 or any(s <= 0 or s % 8 for s in self.train_size):
            problems.append(
                f"train_size must be two positive multiples of 8, got {self.train_size}"
            )
        if self.finest_match_stride not in LEVEL_STRIDES.values():
            problems.append(
                f"finest_match_stride must be one of 1, 2, 4, 8, got {self.finest_match_stride}"
            )
        if problems:
            raise InvalidConfigError("invalid DynaSTConfig: " + "; ".join(problems))

    def _type_problems(self) -> list[str]:
        """Fields of the wrong type (e.g. top_k 2.5, ngf "64", a train_size of three)."""
        problems = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                problems.append(f"{f.name} must be a whole number, got {value!r}")
            elif f.type == "bool" and not isinstance(value, bool):
                problems.append(f"{f.name} must be true or false, got {value!r}")
            elif f.type == "float" and (isinstance(value, bool)
                                        or not isinstance(value, (int, float))
                                        or not math.isfinite(value)):
                problems.append(f"{f.name} must be a finite number, got {value!r}")
        size = self.train_size
        if (not isinstance(size, (tuple, list)) or len(size) != 2
                or any(isinstance(s, bool) or not isinstance(s, int) for s in size)):
            problems.append(f"train_size must be two whole numbers, got {size!r}")
        return problems

    def channels(self, level: int) -> int:
        """Feature channels at ``level`` (1 = full resolution ... 4 = H/8)."""
        return self.ngf * min(self.max_multi, 2 ** (level - 1))

    def multiplier(self, level: int) -> int:
        """Width multiplier of the position and pruning features at ``level``."""
        return min(self.max_multi, 2 ** (level - 1))

    def matches_at(self, level: int) -> bool:
        """Whether ``level`` runs transformer blocks under ``finest_match_stride``."""
        return LEVEL_STRIDES[level] >= self.finest_match_stride

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["train_size"] = list(self.train_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DynaSTConfig":
        """The config of a mapping of fields (config.json); ``InvalidConfigError`` otherwise."""
        if not isinstance(data, dict):
            raise InvalidConfigError(
                f"a DynaST config must be a JSON object of fields, got {type(data).__name__}")
        # "task" is checkpoint metadata (which dynast.tasks entry it serves), not architecture
        data = {k: v for k, v in data.items() if k not in METADATA_KEYS}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidConfigError(
                f"unknown DynaSTConfig fields {unknown}; known fields: {sorted(known)}"
            )
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> "DynaSTConfig":
        """Read ``config.json`` (a regular file of at most ``MAX_CONFIG_BYTES``)."""
        data = read_regular_file(path, MAX_CONFIG_BYTES, InvalidConfigError, InvalidConfigError)
        try:
            fields = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise InvalidConfigError(f"{path} is not a JSON text ({err})") from None
        return cls.from_dict(fields)
