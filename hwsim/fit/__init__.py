"""Fit a named FPGA: the fastest folding and widths whose yosys counts fit the device, within an
accuracy bound of the default-width fixed-point metric (``hwsim export --fit DEVICE``).

``fit_device`` runs the search, ``format_fit`` prints what it tried and chose. docs/scale.md
("Fitting a device") says how it searches and what it measured.
"""

from ._search import FitResult, Trial, WidthCandidate, device_family, fit_device, fixed_metric, folding_chain, format_fit, pnr_verdict

__all__ = [
    "FitResult",
    "Trial",
    "WidthCandidate",
    "device_family",
    "fit_device",
    "fixed_metric",
    "folding_chain",
    "format_fit",
    "pnr_verdict",
]
