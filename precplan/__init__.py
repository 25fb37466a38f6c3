"""precplan: plan LLM pretraining under a budget (parameters, tokens, bits).

The Python API, for notebooks and scripts::

    import precplan
    law = precplan.load_law("kumar2024")
    law.loss(220e6, 16e9)                      # 3.2298
    precplan.predict(law, 220e6, 16e9, weights=4, post="int4")

Submodules are imported on first use, so ``import precplan`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_law": "precplan.lawfile",
    "save_law": "precplan.lawfile",
    "compose": "precplan.lawfile",
    "bundled_names": "precplan.lawfile",
    "Law": "precplan.laws",
    "Coefficient": "precplan.laws",
    "predict": "precplan.prediction",
    "optimize_sweep": "precplan.optimize",
    "make_planner": "precplan.optimize",
    "Prediction": "precplan.prediction",
    "ptq_risk": "precplan.ptq",
    "d_crit": "precplan.ptq",
    "parse_count": "precplan.units",
    "parse_bytes": "precplan.units",
    "parse_precision": "precplan.precision",
    "PrecplanError": "precplan.errors",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'precplan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))
