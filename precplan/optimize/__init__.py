"""``optimize``: the model size N, training tokens D and training precision that minimize the
predicted loss under a budget (or the lifetime compute that reaches a target loss).

:func:`plan` answers one budget with a :class:`Plan`; :func:`plan_sweep` many at once
(vectorized) with a :class:`Sweep` (arrays, one entry per budget; ``sweep[i]`` is a Plan). :func:`make_planner` validates a request once for repeated solving,
and :func:`plan_curves` computes the data behind the ``--plot`` figures.
"""

from precplan.optimize._checks import parse_bits_spec
from precplan.optimize._curves import Curves, plan_curves
from precplan.optimize._hardware import gpu_format_names, hardware_request, plan_across, serving_memory
from precplan.optimize._limits import check_meaningful_budgets
from precplan.optimize._planner import Planner, make_planner, optimize, optimize_sweep, plan, plan_sweep
from precplan.optimize._result import Alternative, Plan, Reference, Shift
from precplan.optimize._sweep import Sweep
from precplan.optimize._uncertainty import annotate, annotate_sweep

__all__ = [
    "Alternative", "Curves", "Plan", "Planner", "Reference", "Shift", "Sweep",
    "make_planner", "optimize", "optimize_sweep", "plan", "plan_curves", "plan_sweep",
    # used by the command line
    "annotate", "annotate_sweep", "check_meaningful_budgets", "gpu_format_names", "hardware_request", "parse_bits_spec",
    "plan_across", "serving_memory",
]
