#!/usr/bin/env bash
# The README's main command: set up from nothing and run the whole flow on the shipped default model.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh ""
hwsim demo "$@"
