"""Design-space exploration: which method, widths, activation unit and parallelism keep the accuracy
at the least hardware, computed point by point on Dask (``hwsim sweep``).

``load_grid`` reads the grid TOML, ``run_sweep`` computes (and caches) every point, ``write_outputs``
writes the Pareto report and ``best.toml``. docs/scale.md says what it costs.
"""

from ._grid import Grid, Point, load_grid, parse_grid
from ._point import compute_point, loss
from ._report import choose_best, pareto, write_outputs
from ._run import SweepResult, run_sweep
from ._store import RESULTS_NAME, ResultStore

__all__ = [
    "Grid",
    "Point",
    "RESULTS_NAME",
    "ResultStore",
    "SweepResult",
    "choose_best",
    "compute_point",
    "load_grid",
    "loss",
    "pareto",
    "parse_grid",
    "run_sweep",
    "write_outputs",
]
