#!/usr/bin/env bash
# Set up gst-flows on this machine, idempotently: Debian packages (CP2K with OpenMP BLAS, SLURM,
# munge), a virtual environment at .venv with the package and its test extras, and the LAMMPS
# pair-style plugin for QUIP. A second run skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

APT_PACKAGES=(cp2k libopenblas0-openmp slurm-wlm munge g++ make)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "gst-flows setup: Debian packages missing: ${missing[*]}" >&2
    echo "  install them as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.gst-flows-installed
want=$(cat pyproject.toml | sha1sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing gst-flows and its dependencies into .venv (log: .venv/pip-install.log)"
  if ! { .venv/bin/python -m pip install --upgrade pip \
         && .venv/bin/python -m pip install -e ".[test]"; } > .venv/pip-install.log 2>&1; then
    tail -n 30 .venv/pip-install.log >&2
    echo "gst-flows setup: pip install failed (full log: .venv/pip-install.log)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

if [ -x scripts/build_quip_plugin.sh ] || [ -f scripts/build_quip_plugin.sh ]; then
  PATH="$ROOT/.venv/bin:$PATH" bash scripts/build_quip_plugin.sh >/dev/null
fi
echo "setup: ready (.venv, CP2K $(dpkg-query -W -f='${Version}' cp2k), SLURM $(dpkg-query -W -f='${Version}' slurm-wlm))"
