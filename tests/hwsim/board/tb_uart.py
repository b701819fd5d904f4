"""cocotb testbench: the host driver (``hwsim.board.Board``) talks to the board top through its UART
pins. ``SimSerial`` is the pyserial subset the driver uses (``read``, ``write``, ``timeout``,
``close``, ``name``) over the top's RX and TX pins: written bytes are driven onto RX bit by bit
(8N1, CLKS_PER_BIT clocks a bit), TX is sampled in the middle of each bit. The driver runs in a
thread (``cocotb.task.bridge``) and reaches the simulator through ``cocotb.task.resume``.

The case (HWSIM_BOARD_CASE, JSON) names the pins and an .npz with ``x`` and the simulator's
``h`` / ``y``; with ``load`` also a weight image and the second model's ``x2``, ``h2``, ``y2``, and
``bad``, an image the core must refuse.
"""

from __future__ import annotations

import json
import os
from collections import deque

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, Event, FallingEdge, First

from hwsim.board import Board, BoardError


class SimSerial:
    """pyserial's read / write over the simulated UART pins."""

    name = "simulated UART"

    def __init__(self, clk, rx, tx, cpb: int, limit: int):
        self.clk, self.rx, self.tx, self.cpb, self.limit = clk, rx, tx, cpb, limit
        self.timeout = 1.0  # the driver sets it; the simulated port waits `limit` clock cycles instead
        self.sent = bytearray()  # every byte written, in order (what the line carried)
        self._out: deque[int] = deque()
        self._in = bytearray()
        self._wrote, self._got = Event(), Event()
        cocotb.start_soon(self._drive())
        cocotb.start_soon(self._monitor())

    # pyserial's API, called from the driver's thread
    def write(self, data: bytes) -> int:
        resume(self._awrite)(bytes(data))
        return len(data)

    def read(self, n: int) -> bytes:
        return resume(self._aread)(n)

    def close(self) -> None:
        pass

    # the simulator side
    async def _awrite(self, data: bytes) -> None:
        self.sent += data
        self._out.extend(data)
        self._wrote.set()

    async def _aread(self, n: int) -> bytes:
        while len(self._in) < n:
            self._got.clear()
            timer = ClockCycles(self.clk, self.limit)
            if await First(self._got.wait(), timer) is timer:
                break  # timed out: pyserial returns what it has
        got, self._in[:] = bytes(self._in[:n]), self._in[n:]
        return got

    async def _drive(self) -> None:
        self.rx.value = 1
        while True:
            if not self._out:
                self._wrote.clear()
                await self._wrote.wait()
                continue
            byte = self._out.popleft()
            for bit in [0] + [(byte >> k) & 1 for k in range(8)] + [1]:
                self.rx.value = bit
                await ClockCycles(self.clk, self.cpb)

    async def _monitor(self) -> None:
        while True:
            await FallingEdge(self.tx)
            await ClockCycles(self.clk, self.cpb // 2)  # the middle of the start bit
            if int(self.tx.value):
                continue
            byte = 0
            for k in range(8):
                await ClockCycles(self.clk, self.cpb)
                byte |= int(self.tx.value) << k
            await ClockCycles(self.clk, self.cpb)
            assert int(self.tx.value) == 1, "the board's stop bit must be 1"
            self._in.append(byte)
            self._got.set()


def _session(port: SimSerial, case: dict, data: dict) -> dict:
    """What a user's script does with the driver (runs in a thread)."""
    out = {}
    b = Board(port, baud=case["baud"], timeout=1.0)
    ident = b.identify()
    out["identity"] = ident.__dict__
    r = b.run(data["x"])
    out["h"], out["y"] = r.h, r.y
    out["counters"] = b.counters()
    if case.get("load"):
        try:
            b.load_weights(open(case["bad"], "rb").read())
            out["bad"] = "accepted"
        except BoardError as e:
            out["bad"] = str(e)
        b.load_weights(open(case["load"], "rb").read())
        r2 = b.run(data["x2"])
        out["h2"], out["y2"] = r2.h, r2.y
    return out


@cocotb.test()
async def uart_driver(dut) -> None:
    case = json.loads(open(os.environ["HWSIM_BOARD_CASE"]).read())
    data = dict(np.load(case["npz"]))
    clk = getattr(dut, case["clock"])
    cocotb.start_soon(Clock(clk, 10, "ns").start())
    getattr(dut, case["reset"]).value = 1 if case["reset_active_low"] else 0
    port = SimSerial(clk, getattr(dut, case["rx"]), getattr(dut, case["tx"]), case["cpb"], case["limit"])
    await ClockCycles(clk, 30)  # the reset synchronizer and power-on count
    out = await bridge(_session)(port, case, data)
    ident = out["identity"]
    assert (ident["input_size"], ident["hidden_size"], ident["classes"]) == tuple(case["shape"]), ident
    assert not ident["overrun"]
    assert ident["rom_ok"], ident  # the board top passes the core's ROM check to status bit 4
    np.testing.assert_array_equal(out["h"], data["h"])
    if data["y"].size:
        np.testing.assert_array_equal(out["y"], data["y"])
    assert out["counters"]["step_cycles"] > 0
    if case.get("load"):
        assert out["bad"] != "accepted" and "refused" in out["bad"], out["bad"]
        np.testing.assert_array_equal(out["h2"], data["h2"])
        if data["y2"].size:
            np.testing.assert_array_equal(out["y2"], data["y2"])
    last_y = data["y2"] if case.get("load") else data["y"]
    if last_y.size:  # the class LEDs show the argmax of the last sequence's head outputs
        leds = [int(getattr(dut, p).value) ^ int(low) for p, low in case["class_leds"]]
        assert sum(b << k for k, b in enumerate(leds)) == int(np.argmax(last_y[-1])) & 0xF, leds
    dut._log.info("line bytes written %d", len(port.sent))
