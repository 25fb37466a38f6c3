"""The law library: the :class:`Law` (pure, vectorized math of the precision-aware scaling
laws), law files (YAML: reading, validation, writing, composition), the choice of the float
variant for float weight formats, and :func:`predict` (the loss of one configuration).

Equations and constants, with their sources: ``docs/science.md``.
"""

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
from precplan.laws._predict import Prediction, predict
from precplan.laws._variant import law_for_weights

__all__ = [
    "ASSUMED_LABEL", "BASE", "COEFFICIENT_NAMES", "FORMS", "PRECISION", "PTQ", "ROBUSTNESS", "SOURCES",
    "Coefficient", "Decomposition", "Law", "Prediction", "Samples",
    "as_law", "bundled_names", "compose", "dump_law", "law_for_weights", "law_from_mapping", "law_to_mapping",
    "laws_dir", "load_law", "predict", "read_law_file", "save_law",
]
