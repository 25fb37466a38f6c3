"""precplan: plan LLM pretraining under a budget (parameters, tokens, bits).

The Python API, for notebooks and scripts (``docs/api.md`` has an example per function)::

    import precplan
    plan = precplan.plan(budget=1e23)                 # N*, D*, bits, loss
    plan.params, plan.tokens, plan.bits.weights, plan.loss
    precplan.plan(budget=1e22, law="besiroglu2024").uncertainty   # intervals
    precplan.plan(gpu=["h100", "b200"], gpus=512, days=30)         # hardware budget, best GPU
    precplan.compare_laws(["kumar2024", "besiroglu2024"], 1e22)   # one plan per law
    law = precplan.load_law("kumar2024")
    precplan.predict(law, 220e6, 16e9, weights=4, post="int4")
    precplan.ptq_risk(law, 8e9, 15e12, post=4)
    fit = precplan.fit_law(precplan.load_runs("runs.csv"))

Packages, one per command family: :mod:`precplan.laws`, :mod:`precplan.optimize`,
:mod:`precplan.ptq`, :mod:`precplan.fit`, :mod:`precplan.validate`. They are imported on
first use, so ``import precplan`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # the law library
    "load_law": "precplan.laws",
    "save_law": "precplan.laws",
    "compose": "precplan.laws",
    "bundled_names": "precplan.laws",
    "Law": "precplan.laws",
    "Coefficient": "precplan.laws",
    "Decomposition": "precplan.laws",
    "predict": "precplan.laws",
    "Prediction": "precplan.laws",
    # planning
    "plan": "precplan.optimize",
    "plan_sweep": "precplan.optimize",
    "compare_laws": "precplan.optimize",
    "make_request": "precplan.optimize",
    "make_planner": "precplan.optimize",
    "optimize_sweep": "precplan.optimize",
    "Plan": "precplan.optimize",
    "Sweep": "precplan.optimize",
    # learning rate and batch size (hyperparameter laws)
    "hyperparameters": "precplan.hparams",
    # post-training quantization
    "ptq_risk": "precplan.ptq",
    "ptq_sweep": "precplan.ptq",
    "d_crit": "precplan.ptq",
    "PtqRisk": "precplan.ptq",
    # fitting
    "fit_law": "precplan.fit",
    "load_runs": "precplan.fit",
    "FitResult": "precplan.fit",
    "Runs": "precplan.fit",
    # shared vocabulary
    "parse_count": "precplan.units",
    "parse_bytes": "precplan.units",
    "parse_precision": "precplan.precision",
    "Bits": "precplan.precision",
    "PrecplanError": "precplan.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'precplan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))
