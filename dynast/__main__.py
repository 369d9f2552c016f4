"""``python -m dynast generate ...`` / ``python -m dynast fetch ...`` (see dynast.inference.cli).

The semantics and the converter keep their own commands: ``python -m dynast.semantics``,
``python -m dynast.convert``.
"""
from __future__ import annotations

from dynast.inference.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
