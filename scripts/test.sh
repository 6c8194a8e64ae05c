#!/usr/bin/env bash
# The test suite: set up if needed, then run every test (slow ones included) with real CP2K,
# gap_fit, the embedded database and a one-node SLURM cluster that the tests start and stop.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
