#!/usr/bin/env bash
# The README's main command: set up from nothing and run the whole flow on the shipped default model.
# Extra arguments go to `hwsim demo` (default output: out/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh ""
if [ "$#" -eq 0 ]; then set -- -o out/demo; fi
echo "hwsim demo: check, export, co-simulation, synthesis and report (a few minutes)" >&2
hwsim demo "$@"
