#!/usr/bin/env bash
# Separate venv with mace-torch (CPU torch) + ase, for benchmarks/fastpot_mace.py.
#
# mace-torch cannot go into the project venv (it pulls torch, e3nn, opt_einsum, ...); this
# venv does not contain gst-flows: the benchmark reads plain extxyz files, and the 8,000-atom
# timing cell is either written beforehand with the project venv or rebuilt with ASE.
#
# Usage:
#     bash benchmarks/mace_env.sh                 # venv at $MACE_VENV or /opt/venvs/mace
#     /opt/venvs/mace/bin/python benchmarks/fastpot_mace.py --help
#
# Environment:
#     MACE_VENV      venv path (default /opt/venvs/mace)
#     MACE_SPEC      pip requirement for mace-torch (default "mace-torch>=0.3,<0.4")
#     TORCH_WHEEL    local CPU torch wheel (installed first, so no CUDA torch is downloaded)
#
# What worked (2026-12-04, Python 3.11, this machine; ~2 min): torch 2.13.0+cpu (local wheel),
# mace-torch 0.3.16, e3nn 0.4.4, ase 3.29.0, numpy 2.4.6; `pip check` clean.
#
# Idempotent: re-running it re-checks the installed packages and changes nothing if they fit.
set -euo pipefail

VENV="${MACE_VENV:-/opt/venvs/mace}"
SPEC="${MACE_SPEC:-mace-torch>=0.3,<0.4}"
TORCH_WHEEL="${TORCH_WHEEL:-/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl}"

if [[ ! -x "$VENV/bin/python" ]]; then
    python3.11 -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip wheel setuptools

# CPU torch from the local wheel first; the pin below keeps the resolver from replacing it.
"$PY" -m pip install --quiet "$TORCH_WHEEL"
TORCH_VERSION="$("$PY" -c 'import torch; print(torch.__version__)')"
"$PY" -m pip install --quiet "$SPEC" ase psutil "torch==$TORCH_VERSION"

"$PY" -m pip check || true
"$PY" - <<'PYEOF'
import importlib.metadata as md

for name in ("mace-torch", "torch", "e3nn", "ase", "numpy", "psutil"):
    try:
        print(f"{name:12s} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name:12s} (not installed)")
import torch

assert not torch.cuda.is_available() and "+cpu" in torch.__version__, torch.__version__
from mace.calculators import MACECalculator  # noqa: F401  import check

print("imports ok")
PYEOF
