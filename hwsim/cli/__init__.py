"""The ``hwsim`` command line: a thin click layer over library functions.

Each sub-command lives in its own ``hwsim/cli/_<name>.py`` module and is imported only when it runs,
so ``hwsim --help`` stays fast (no Numba start-up). Every user error (an ``HwsimError``) becomes one
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import functools
import importlib
import math
import sys

import click

from .. import __version__
from .._errors import HwsimError

#: sub-command name -> (module, attribute, one-line help shown by ``hwsim --help``)
COMMANDS = {
    "infer": ("hwsim.cli._infer", "infer", "Run float or bit-accurate fixed-point inference on a data set."),
    "quantize": ("hwsim.cli._quantize", "quantize", "Quantize a float model with one of the seed paper's methods."),
    "check": ("hwsim.cli._check", "check", "Compare float, quantized-float and bit-accurate inference."),
    "train": ("hwsim.cli._train", "train", "Train a quantized RNN/GRU/LSTM (needs the [train] extra)."),
    "export": ("hwsim.cli._export", "export", "Write weight ROMs, manifest and Verilog for an FPGA."),
    "synth": ("hwsim.cli._synth", "synth", "Synthesize an exported design with yosys and report resources."),
    "cosim": ("hwsim.cli._cosim", "cosim", "Co-simulate exported RTL under Icarus against the simulator."),
    "board": ("hwsim.cli._board", "board", "Build a bitstream for an iCEBreaker or ULX3S board (UART bridge, PLL, LEDs)."),
    "board-run": ("hwsim.cli._board", "board_run", "Run sequences on a board over its serial port; compare with the simulator."),
    "report": ("hwsim.cli._report", "report", "Write the HTML report for a model."),
    "demo": ("hwsim.cli._demo", "demo", "Run the whole flow on the shipped default model."),
    "sweep": ("hwsim.cli._sweep", "sweep", "Explore a grid of datapath design points on Dask; Pareto report."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n, (mod, _, _) in COMMANDS.items() if importlib.util.find_spec(mod) is not None]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        mod, attr, _ = COMMANDS[name]
        try:
            return getattr(importlib.import_module(mod), attr)
        except ModuleNotFoundError as e:
            if e.name == mod:
                return None
            raise

    def main(self, *args, **kwargs):
        """Like click's, but a usage error is one line (``Error: ...``) with exit status 2."""
        kwargs.pop("standalone_mode", None)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as e:  # bare `hwsim`: show the help
            click.echo(e.format_message(), err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:  # UsageError, BadParameter, NoSuchOption, ...
            # click lists a Choice's values one per line ("Missing option ... Choose from:\n\tbinary,
            # ..."); the contract is one line, so collapse the whitespace.
            click.echo(f"Error: {' '.join(e.format_message().split())}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class PositiveFloat(click.ParamType):
    """A finite number > 0 (click's FloatRange lets ``nan`` and ``inf`` through)."""

    name = "float"

    def convert(self, value, param, ctx):
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not (math.isfinite(v) and v > 0):
            self.fail(f"must be a finite number > 0, not {value!r}", param, ctx)
        return v


def fail(message: str) -> "NoReturn":  # noqa: F821
    """Print one line and exit 2 (bad input)."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def user_errors(fn):
    """Decorator for command bodies: an HwsimError becomes one line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except HwsimError as e:
            fail(str(e))

    return wrapper


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hwsim")
def main() -> None:
    """hwsim: multiplier-free recurrent networks on FPGAs.

    Quantize (ternary / power-of-two weights), simulate the shift-add datapath bit-accurately,
    export weight ROMs and Verilog, co-simulate the RTL, and synthesize it.
    """

