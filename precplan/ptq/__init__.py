"""``ptq-risk``: how much post-training quantization hurts a trained model (Kumar et al. 2024,
eqs. 2, 8-9), the critical data size D_crit beyond which more pretraining data hurts once
quantized (eq. 13), the data behind the ``--plot`` figure, and published PTQ measurements on
real models to check the law against (``data/ptq_measurements.csv``)."""

from precplan.ptq._evidence import CALIBRATED_LAW, Evidence, calibrated_range, ptq_evidence
from precplan.ptq._measured import (
    COLLAPSED, METHODS, Measurement, measured_rows, measurements, nearest_measurements, predicted_degradation,
)
from precplan.ptq._results import CurvePoint, MeasuredRow, PtqCurves, PtqRisk, PtqSweep, ServingRow, TrainingOption
from precplan.ptq._holdout import (
    FITTED, FamilyError, calibration_rows, family_bootstrap, family_errors, holdout_errors, leave_one_family_out, refit_ptq,
)
from precplan.ptq._math import d_crit
from precplan.ptq._risk import degradation_curves, law_facts, plot_token_grid, ptq_risk, ptq_sweep
from precplan.ptq._verdict import NEAR_FACTOR, STATUSES, data_status, verdict

__all__ = [
    "calibration_rows", "FamilyError", "FITTED", "family_bootstrap", "family_errors", "holdout_errors", "leave_one_family_out", "refit_ptq",
    "CALIBRATED_LAW", "calibrated_range", "COLLAPSED", "Evidence", "law_facts", "ptq_evidence",
    "CurvePoint", "d_crit", "data_status", "degradation_curves", "measured_rows", "MeasuredRow", "Measurement",
    "measurements", "METHODS", "NEAR_FACTOR", "nearest_measurements", "plot_token_grid", "predicted_degradation",
    "ptq_risk", "ptq_sweep", "PtqCurves", "PtqRisk", "PtqSweep", "ServingRow", "STATUSES", "TrainingOption",
    "verdict",
]
