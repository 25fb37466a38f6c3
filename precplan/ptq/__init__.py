"""``ptq-risk``: how much post-training quantization hurts a trained model (Kumar et al. 2024,
eqs. 2, 8-9), the critical data size D_crit beyond which more pretraining data hurts once
quantized (eq. 13), the data behind the ``--plot`` figure, and published PTQ measurements on
real models to check the law against (``data/ptq_measurements.csv``)."""

from precplan.ptq._measured import (
    METHODS, Measurement, measured_rows, measurements, nearest_measurements, predicted_degradation,
)
from precplan.ptq._results import CurvePoint, MeasuredRow, PtqCurves, PtqRisk, PtqSweep, ServingRow, TrainingOption
from precplan.ptq._risk import d_crit, degradation_curves, plot_token_grid, ptq_risk, ptq_sweep
from precplan.ptq._verdict import NEAR_FACTOR, STATUSES, data_status, verdict

__all__ = [
    "CurvePoint", "d_crit", "data_status", "degradation_curves", "measured_rows", "MeasuredRow", "Measurement",
    "measurements", "METHODS", "NEAR_FACTOR", "nearest_measurements", "plot_token_grid", "predicted_degradation",
    "ptq_risk", "ptq_sweep", "PtqCurves", "PtqRisk", "PtqSweep", "ServingRow", "STATUSES", "TrainingOption",
    "verdict",
]
