#!/usr/bin/env bash
# One GPU smoke check of the whole project (under 10 minutes on one GPU); details in
# scripts/gpu_check.py. Writes OUT/gpu_check.json and OUT/gpu_check.md.
#
#   bash scripts/gpu_check.sh --out gpu_check_out          # on a machine with CUDA
#   bash scripts/gpu_check.sh --out /tmp/gc --cpu          # dry run of every step on the CPU
#   bash scripts/gpu_check.sh --out /tmp/gc --steps parity,bench
#
# Uses .venv (make setup) when present, else python3 (PYTHON=... overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
exec "$PYTHON" scripts/gpu_check.py "$@"
