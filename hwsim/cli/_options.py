"""Options shared by several sub-commands, defined once so their choices follow the library.

``--cell`` lists ``CELL_GATES`` and ``--split`` lists the data module's ``SPLITS``; a command passes
its own help text where the meaning is narrower.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..data._datasets import BUILTINS, DEFAULT_SPLIT, SPLITS
from ..model._model import CELL_GATES


def data_option(*, required: bool = True, help: str | None = None):
    return click.option(
        "--data", "data", required=required, default=None,
        help=help or f"Data set: an .npz file (one set x, y; or per-split arrays x_train, y_train, x_valid, y_valid, "
        f"x_test, y_test) or a built-in name ({', '.join(BUILTINS)}).",
    )


def config_option(*, help: str = "Datapath contract (TOML, docs/datapath.md); the default contract otherwise."):
    return click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None, help=help)


#: ``--cell`` values: hwsim's cell names, plus ``rnn`` as an alias of ``rnn_tanh`` (nn.RNN's default).
CELL_CHOICES = (*CELL_GATES, "rnn")


def _cell_alias(ctx, param, value):
    return "rnn_tanh" if value == "rnn" else value


def cell_option(*, default: str | None = None, help: str = "Cell type when the weight shapes cannot tell (rnn_relu)."):
    return click.option(
        "--cell", type=click.Choice(CELL_CHOICES), default=default, show_default=default is not None,
        callback=_cell_alias, help=help + " rnn is an alias of rnn_tanh.",
    )


def split_option():
    return click.option(
        "--split", type=click.Choice(SPLITS), default=None,
        help=f"Part of the data: of a built-in set, or a file's x_<split>, y_<split> arrays ('all' joins them). "
        f"Default: {DEFAULT_SPLIT} (a file of one set x, y: the whole file; it has no parts to choose).",
    )


def limit_option():
    return click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only the first N sequences.")
