"""cocotb test of an exported hwsim design against its golden vectors (written by ``hwsim export``).

Needs only cocotb: the harness (hwsim_tb_stream.v) streams stim.hex through the design and records
every layer's h (and c) after every step, every output beat and the cycle counters; this test waits
for the end, then compares the record with expected.txt exactly and fails with the first mismatch.
golden.json says how to read both (sizes, widths, sequences, steps).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, with_timeout

HERE = Path(__file__).resolve().parent


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _split(word: int, n: int, bits: int) -> list[int]:
    return [_signed(word >> (j * bits), bits) for j in range(n)]


def read_record(text: str, g: dict) -> dict:
    """The S / O / E lines of a record (or of expected.txt), decoded into signed integers."""
    H, L, lstm = g["hidden"], g["layers"], g["lstm"]
    steps, beats, end = [], [], None
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "S":
            vals = [int(v, 16) for v in f[2:]]
            per = 2 if lstm else 1
            layer = []
            for k in range(L):
                item = {"h": _split(vals[k * per], H, g["h_bits"][k])}
                if lstm:
                    item["c"] = _split(vals[k * per + 1], H, g["c_bits"][k])
                layer.append(item)
            steps.append(layer)
        elif f[0] == "O":
            beats.append((int(f[1]), int(f[2]), tuple(_split(int(f[3], 16), g.get("out_elems", 1), g["m_bits"]))))
        elif f[0] in ("E", "T"):
            end = {"timed_out": f[0] == "T", "step_cycles": int(f[1]), "head_cycles": int(f[2]), "sat_count": int(f[3])}
    return {"steps": steps, "beats": beats, "end": end}


def mismatches(got: dict, exp: dict, g: dict) -> list[str]:
    """Every disagreement, in stream order, as text (sequence, step, node, index, expected, got)."""
    out: list[str] = []
    lengths = g.get("lengths") or [g["steps"]] * g["sequences"]  # steps of each sequence
    where = [(seq, step) for seq, n in enumerate(lengths) for step in range(n)]
    if got["end"] is None:
        return ["the harness ended without its summary line (simulator crash?)"]
    if got["end"]["timed_out"]:
        out.append("the simulation hit its cycle limit")
    for i, es in enumerate(exp["steps"]):
        gs = got["steps"][i] if i < len(got["steps"]) else None
        for k, el in enumerate(es):
            for node, ev in el.items():
                gv = None if gs is None else gs[k][node]
                for j, e in enumerate(ev):
                    a = None if gv is None else gv[j]
                    if a != e:
                        out.append(f"sequence {where[i][0]}, step {where[i][1]}: l{k}.{node}[{j}] expected {e}, got {a}")
    if len(got["steps"]) > len(exp["steps"]):
        out.append(f"steps: expected {len(exp['steps'])}, got {len(got['steps'])}")
    for i, eb in enumerate(exp["beats"]):
        gb = got["beats"][i] if i < len(got["beats"]) else None
        if gb != eb:
            out.append(f"output beat {i} (tuser, tlast, tdata lanes): expected {eb}, got {gb}")
    if len(got["beats"]) > len(exp["beats"]):
        out.append(f"output beats: expected {len(exp['beats'])}, got {len(got['beats'])}")
    for key in ("step_cycles", "head_cycles", "sat_count"):
        if got["end"][key] != exp["end"][key]:
            out.append(f"{key}: expected {exp['end'][key]}, got {got['end'][key]}")
    return out


@cocotb.test()
async def hwsim_stream(dut) -> None:
    """Stream the golden inputs through the design; every h, c, output beat and counter must match."""
    g = json.loads((HERE / "golden.json").read_text(encoding="utf-8"))
    await FallingEdge(dut.rst)  # the ROM check (docs/rom_format.md): rom_ok is 1 from the first cycle after reset
    await ClockCycles(dut.clk, 2)
    record = Path(os.environ["HWSIM_TB_RECORD"])
    if dut.rom_ok.value != 1:
        bad = "rom_ok = 0 after reset: the ROM files were not found (ROM_DIR, docs/rom_format.md \"ROM check\")"
        (record.parent / "mismatches.txt").write_text(bad + "\n", encoding="utf-8")
        assert False, bad
    timeout = int(os.environ.get("HWSIM_TB_TIMEOUT_NS", "0"))
    if timeout > 0:
        await with_timeout(RisingEdge(dut.finished), timeout, "ns")
    else:
        await RisingEdge(dut.finished)
    got = read_record(record.read_text(encoding="ascii"), g)
    exp = read_record((HERE / "expected.txt").read_text(encoding="ascii"), g)
    bad = mismatches(got, exp, g)
    summary = f"{len(bad)} mismatches; first: {bad[0]}" if bad else ""
    if bad:
        (record.parent / "mismatches.txt").write_text("\n".join(bad) + "\n", encoding="utf-8")
    assert not bad, summary
