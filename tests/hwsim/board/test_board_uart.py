"""UART-level co-simulation: ``hwsim.board.Board`` drives the board top's RX pin with exactly the
bytes it would write to a serial port and decodes what the TX pin sends; the outputs must equal
the simulator's, bit for bit (Icarus, CLKS_PER_BIT = 4 so a byte takes 40 clocks)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from hwsim.datapath._config import DatapathConfig
from hwsim.export import write_export
from hwsim.export._board import BOARDS, board_sources, prepare
from hwsim.model._quant import quantize_model
from hwsim.sim._sim import simulate

TB_DIR = Path(__file__).resolve().parent
needs_tools = pytest.mark.skipif(
    not all(__import__("shutil").which(t) for t in ("iverilog", "vvp", "yosys")), reason="Icarus Verilog and yosys are needed"
)
pytestmark = [pytest.mark.rtl, needs_tools]
CPB = 4


def _export(tmp_path: Path, name: str, seed: int, **export_kw):
    from helpers import make_model

    model = quantize_model(make_model("gru", 3, 5, 1, 3, seed=seed), "ternary")
    out = tmp_path / name
    write_export(model, out, DatapathConfig(rows=1, lanes=1), formats="hex", **export_kw)
    from hwsim.hdl._cosim import plan_from_export

    return out, plan_from_export(out)[0]


def run_uart_cosim(tmp_path: Path, board: str, out: Path, plan, x, extra: dict | None = None, npz_extra: dict | None = None):
    from cocotb_tools.runner import get_results, get_runner

    d, sources, text, _, top, info = prepare(out, board)
    spec = BOARDS[board]
    build = tmp_path / f"build_{board}"
    build.mkdir()
    (build / f"{top}.v").write_text(text)
    sim = simulate(plan, x)
    y = sim.y_int if sim.y_int is not None else np.zeros((x.shape[0], 0), dtype=np.int64)
    np.savez(build / "case.npz", x=x, h=sim.h_int, y=y, **(npz_extra or {}))
    case = {"npz": str(build / "case.npz"), "clock": spec.clock.port, "reset": spec.reset.port,
            "reset_active_low": spec.reset.active_low, "rx": spec.rx.port, "tx": spec.tx.port, "cpb": CPB,
            "limit": 200_000, "class_leds": [[p.port, p.active_low] for p in sorted(
                (p for p in spec.leds if p.signal.startswith("class")), key=lambda p: p.signal)], "baud": info["baud"], "shape": [plan.input_size, plan.hidden_size, plan.num_classes or 0],
            **(extra or {})}
    (build / "case.json").write_text(json.dumps(case))
    runner = get_runner("icarus")
    runner.build(sources=[str(d / "rtl" / s) for s in sources] + [str(p) for p in board_sources()] + [str(build / f"{top}.v")],
                 hdl_toplevel=top, build_dir=str(build), always=True, timescale=("1ns", "1ps"),
                 parameters={"ROM_DIR": f'"{d / "rom"}"', "USE_PLL": 0, "CLKS_PER_BIT": CPB},
                 log_file=str(build / "build.log"))
    xml = runner.test(test_module="tb_uart", hdl_toplevel=top, hdl_toplevel_lang="verilog", build_dir=str(build),
                      test_dir=str(build), log_file=str(build / "sim.log"),
                      extra_env={"HWSIM_BOARD_CASE": str(build / "case.json"),
                                 "PYTHONPATH": os.pathsep.join([str(TB_DIR), os.environ.get("PYTHONPATH", "")])})
    tests, fails = get_results(xml)
    assert tests == 1 and fails == 0, f"see {build / 'sim.log'}"
    return build


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_driver_over_uart_equals_simulator(board, tmp_path):
    """Two sequences of 3 steps (the second saturating) through the UART: h of every step and the
    head outputs equal the simulator's; the identity and counters answer."""
    out, plan = _export(tmp_path, "gru", seed=3)
    rng = np.random.default_rng(5)
    cfg = plan.config
    x = rng.integers(cfg.x.min_int, cfg.x.max_int + 1, size=(2, 3, plan.input_size))
    x[1, 1] = cfg.x.max_int
    build = run_uart_cosim(tmp_path, board, out, plan, x)
    assert "line bytes written" in (build / "sim.log").read_text()


def _runtime_config():
    try:
        return DatapathConfig(rows=1, lanes=1, weights="runtime")
    except Exception:  # noqa: BLE001 - an export without run-time weights (the runtime branch not merged)
        return None


@pytest.mark.skipif(_runtime_config() is None, reason="this export has no run-time weights (--weights runtime)")
def test_runtime_weight_load_over_uart(tmp_path):
    """One RTL build of model A; through the UART: A's outputs, an image of another shape refused
    ('E'), model B's image loaded ('K'), then B's outputs -- all equal to the simulator's."""
    from helpers import make_model

    from hwsim.hdl._cosim import plan_from_export

    cfg = _runtime_config()
    paths = {}
    for name, seed, hidden in (("a", 3, 5), ("b", 4, 5), ("other", 5, 4)):
        model = quantize_model(make_model("gru", 3, hidden, 1, 3, seed=seed), "ternary")
        paths[name] = tmp_path / name
        write_export(model, paths[name], cfg, formats="hex")
    plan_a, plan_b = plan_from_export(paths["a"])[0], plan_from_export(paths["b"])[0]
    rng = np.random.default_rng(6)
    x = rng.integers(plan_a.config.x.min_int, plan_a.config.x.max_int + 1, size=(2, 3, plan_a.input_size))
    x2 = rng.integers(plan_b.config.x.min_int, plan_b.config.x.max_int + 1, size=(2, 3, plan_b.input_size))
    sim_b = simulate(plan_b, x2)
    assert not np.array_equal(simulate(plan_a, x2).h_int, sim_b.h_int)  # the load must change something
    run_uart_cosim(tmp_path, "icebreaker", paths["a"], plan_a, x,
                   extra={"load": str(paths["b"] / "rom" / "weights.bin"), "bad": str(paths["other"] / "rom" / "weights.bin")},
                   npz_extra={"x2": x2, "h2": sim_b.h_int, "y2": sim_b.y_int})
