#!/usr/bin/env bash
# The main job: set up if needed, then run `gst-flows demo` on the embedded database.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/gst-flows demo "$@"
