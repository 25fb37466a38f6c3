"""Plots, one module per command. matplotlib comes from the ``plot`` extra and is imported
lazily (headless, Agg) only when a plot is asked for."""

from precplan.plots._common import check_plot_path, plot_format, save_figure, series_labels
from precplan.plots._fit import fit_figure
from precplan.plots._optimize import plot_optimize
from precplan.plots._propose import proposal_figure
from precplan.plots._ptq import plot_ptq_curves
from precplan.plots._validate import validate_figure

__all__ = [
    "check_plot_path", "fit_figure", "plot_format", "plot_optimize", "plot_ptq_curves", "proposal_figure", "save_figure", "series_labels",
    "validate_figure",
]
