"""DynaST: Dynamic Sparse Transformer for exemplar-guided image generation (ECCV 2022).

The heavy model modules are imported lazily so that ``import dynast.semantics`` stays light.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["DynaST", "DynaSTConfig", "DynaSTOutput", "DynaSTPipeline"]

if TYPE_CHECKING:  # pragma: no cover
    from dynast.config import DynaSTConfig
    from dynast.inference.pipeline import DynaSTPipeline
    from dynast.model import DynaST, DynaSTOutput


def __getattr__(name: str) -> Any:
    if name == "DynaSTConfig":
        from dynast.config import DynaSTConfig

        return DynaSTConfig
    if name in ("DynaST", "DynaSTOutput"):
        from dynast import model

        return getattr(model, name)
    if name == "DynaSTPipeline":
        from dynast.inference.pipeline import DynaSTPipeline

        return DynaSTPipeline
    raise AttributeError(f"module 'dynast' has no attribute {name!r}")
