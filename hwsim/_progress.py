"""Progress bars that draw on every terminal: tqdm, with a width when the terminal reports none.

A pseudo-terminal that reports 0 columns (some CI runners, ``script``, editors' embedded terminals)
makes tqdm size its bar to nothing and draw no text at all; ``bar`` then asks for 80 columns.
"""

from __future__ import annotations

import os
import sys

FALLBACK_COLUMNS = 80


def fallback_width(file=None) -> int | None:
    """``FALLBACK_COLUMNS`` when ``file`` is a terminal that reports 0 columns, else None (tqdm decides)."""
    file = sys.stderr if file is None else file
    try:
        columns = os.get_terminal_size(file.fileno()).columns
    except (OSError, AttributeError, ValueError):  # not a terminal, or no file descriptor
        return None
    return FALLBACK_COLUMNS if columns <= 0 else None


def bar(*, file=None, **kwargs):
    """``tqdm(...)`` writing to ``file`` (stderr by default) with a usable width on any terminal."""
    from tqdm.auto import tqdm

    file = sys.stderr if file is None else file
    kwargs.setdefault("ncols", fallback_width(file))
    return tqdm(file=file, **kwargs)


def cosim_chunk(n: int, default: int) -> int:
    """Sequences per co-simulation run when progress is shown: about 32 updates at most, one per sequence up to 32."""
    return max(1, min(default, -(-n // 32)))
