#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine (scripts/setup.sh) and run the one-command demo:
# emulator, broker, responder, web console and 8 cameras recording video, ended with Ctrl-C
# (or --duration SECONDS) by the integrity report. Arguments go to `ossmedia demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/ossmedia demo "$@"
