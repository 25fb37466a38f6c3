"""The machinery behind ``precplan fit`` (the public API is :mod:`precplan.fit._fit`).

- ``_runs``      reading runs (CSV, JSONL, the validate results store, records)
- ``_table``     the standard columns, :class:`Runs` and the checks of every row (``_fastcsv``: large CSVs)
- ``_objective`` Huber / least-squares objective on log loss, batched, with analytic gradients
- ``_models``    the residual models of each stage (Chinchilla LSE, precision factors, PTQ)
- ``_lbfgs``     a batched L-BFGS for many starts at once, and the scipy L-BFGS-B polish
- ``_grids``     start grids (Hoffmann's 4,500 points and coarser ones)
- ``_solve``     one stage's minimization (all starts, all resamples), progress bars
- ``_plan``      what the data can identify: which stages and coefficients, donors for the rest
- ``_stages``    Kumar et al.'s staged procedure: base, precision, PTQ
- ``_quality``   predicted vs measured through Law.loss: R^2, relative errors
- ``_bootstrap`` resampled fits and their intervals
- ``_optimum``   compute-optimal N*, D* (and P*) of a fitted law (closed forms: :mod:`precplan.laws`)
- ``_holdout``   held-out evaluation (``params>=1e9``, largest models)
- ``_result``    the :class:`FitResult` and the law file it becomes
"""

from precplan.fit._curves import looks_like_curves
from precplan.fit._fit import check_fit_options, fit_law
from precplan.fit._grids import check_grid
from precplan.fit._quality import r_squared
from precplan.fit._result import FitResult
from precplan.fit._runs import example_runs, load_runs, parse_columns
from precplan.fit._table import COLUMNS, Runs

__all__ = [
    "COLUMNS", "FitResult", "Runs", "fit_law", "load_runs", "parse_columns",
    "check_fit_options", "check_grid", "example_runs", "looks_like_curves", "r_squared",
]
