"""The law library: the :class:`Law` (pure, vectorized math of the precision-aware scaling
laws), law files (YAML: reading, validation, writing, composition), the choice of the float
variant for float weight formats, and :func:`predict` (the loss of one configuration).

Equations and constants, with their sources: ``docs/science.md``.
"""

from precplan.laws._checks import UNIFORM_LOSS, VOCAB, extrapolation_lead, plausibility_warnings
from precplan.laws._file import (
    as_law,
    bundled_names,
    compose,
    dump_law,
    law_from_mapping,
    law_to_mapping,
    laws_dir,
    load_law,
    read_law_file,
    save_law,
)
from precplan.laws._law import (
    ASSUMED_LABEL,
    BASE,
    COEFFICIENT_NAMES,
    FORMS,
    PRECISION,
    PTQ,
    ROBUSTNESS,
    SOURCES,
    Coefficient,
    Decomposition,
    Law,
    Samples,
)
from precplan.laws._intervals import DEFAULT_LEVEL, check_level, intervals, uncertainty, uncertainty_notes
from precplan.laws._optimum import hoffmann_params, hoffmann_scale, optimal_precision
from precplan.laws._predict import Prediction, predict
from precplan.laws._variant import law_for_weights

__all__ = [
    "ASSUMED_LABEL", "BASE", "COEFFICIENT_NAMES", "FORMS", "PRECISION", "PTQ", "ROBUSTNESS", "SOURCES",
    "Coefficient", "Decomposition", "Law", "Prediction", "Samples",
    "as_law", "bundled_names", "compose", "dump_law", "law_for_weights", "law_from_mapping", "law_to_mapping",
    "laws_dir", "load_law", "predict", "read_law_file", "save_law",
    # used by the other packages: closed forms, checks and intervals
    "DEFAULT_LEVEL", "UNIFORM_LOSS", "VOCAB", "check_level", "extrapolation_lead", "hoffmann_params", "hoffmann_scale",
    "intervals", "optimal_precision", "plausibility_warnings", "uncertainty", "uncertainty_notes",
]
