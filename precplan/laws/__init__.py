"""The law library: the :class:`Law` (pure, vectorized math of the precision-aware scaling
laws), law files (YAML: reading, validation, writing, composition), the choice of the float
variant for float weight formats, and :func:`predict` (the loss of one configuration); format-aware
laws (:class:`FormatLaw`: sun2025, castro2025, chen2025) and the real low-precision training runs
they are judged against (:func:`training_runs`, :func:`nearest_runs`).

Equations and constants, with their sources: ``docs/science.md``.
"""

from precplan.laws._checks import TRUST_TIERS, UNIFORM_LOSS, VOCAB, extrapolation, extrapolation_lead, plausibility_warnings, trust_phrase
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
from precplan.laws._format_law import FORMAT_FORMS, FormatLaw
from precplan.laws._format_predict import FormatPrediction, predict_format
from precplan.laws._intervals import DEFAULT_LEVEL, check_level, intervals, uncertainty, uncertainty_notes
from precplan.laws._optimum import hoffmann_params, hoffmann_scale, optimal_precision
from precplan.laws._predict import Prediction, predict
from precplan.laws._runs import MeasuredRun, RunCheck, check_law_against_runs, nearest_runs, training_runs
from precplan.laws._variant import law_for_weights

__all__ = [
    "ASSUMED_LABEL", "BASE", "COEFFICIENT_NAMES", "FORMAT_FORMS", "FORMS", "PRECISION", "PTQ", "ROBUSTNESS", "SOURCES",
    "Coefficient", "Decomposition", "FormatLaw", "FormatPrediction", "Law", "MeasuredRun", "Prediction", "RunCheck",
    "Samples", "check_law_against_runs", "nearest_runs", "predict_format", "training_runs",
    "as_law", "bundled_names", "compose", "dump_law", "law_for_weights", "law_from_mapping", "law_to_mapping",
    "laws_dir", "load_law", "predict", "read_law_file", "save_law",
    # used by the other packages: closed forms, checks and intervals
    "DEFAULT_LEVEL", "TRUST_TIERS", "UNIFORM_LOSS", "VOCAB", "check_level", "extrapolation", "extrapolation_lead", "trust_phrase", "hoffmann_params", "hoffmann_scale",
    "intervals", "optimal_precision", "plausibility_warnings", "uncertainty", "uncertainty_notes",
]
