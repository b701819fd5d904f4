"""cocotb test module run by ``hwsim._cosim``: wait for the Verilog harness to finish.

The harness (``export/templates/tb_stream.v.j2``) drives and records the stream itself, so this
test does no Python work per clock; ``hwsim._cosim`` parses the record and compares it with the
simulator. HWSIM_COSIM_TIMEOUT_NS bounds the wait.
"""

from __future__ import annotations

import os

import cocotb
from cocotb.triggers import RisingEdge, with_timeout


@cocotb.test()
async def stream(dut) -> None:
    """Wait until the harness has seen every output beat (or its cycle limit)."""
    timeout = int(os.environ.get("HWSIM_COSIM_TIMEOUT_NS", "0"))
    if timeout > 0:
        await with_timeout(RisingEdge(dut.finished), timeout, "ns")
    else:
        await RisingEdge(dut.finished)
