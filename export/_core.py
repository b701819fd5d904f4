"""The FuseSoC CAPI2 core of an export (``DIR/<top>.core``): the RTL, the ROM files and the
exported testbench as filesets, with sim (Icarus, the golden vectors), lint (Verilator) and synth
(yosys) targets, so that an HDL build system can pull the design in as it is."""

from __future__ import annotations

import json

from ._rtl import environment


def _yaml(v) -> str:
    """A YAML scalar: a JSON string is a valid YAML flow scalar (quotes and escapes included)."""
    return json.dumps(str(v))


def core_file(top: str, version: str, rtl: list[str], roms: list[str], tb: dict | None) -> bytes:
    """The ``.core`` text; ``rtl`` and ``roms`` are paths relative to the export, ``tb`` the
    testbench's golden.json (its beat counts and cycle limit) or None without a testbench."""
    env = environment()
    env.filters["yaml"] = _yaml
    text = env.get_template("core.j2").render(
        vlnv=f"hwsim:export:{top}:{version}",
        description=f"hwsim export {top}: multiplier-free RNN datapath (RTL, ROMs, testbench)",
        version=version, top=top, rtl=rtl, roms=roms, tb=tb,
    )
    return text.encode()
