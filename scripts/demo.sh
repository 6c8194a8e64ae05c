#!/usr/bin/env bash
# The main job: set up if needed, then run `gst-flows demo` on the embedded database.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# OpenMPI refuses to run as root unless told; a user's own configuration wins.
if [ "$(id -u)" -eq 0 ] && [ -z "${GST_FLOWS_CP2K_CMD:-}" ]; then
  export GST_FLOWS_CP2K_CMD="mpirun --allow-run-as-root -np 2 cp2k.psmp"
fi
exec .venv/bin/gst-flows demo "$@"
