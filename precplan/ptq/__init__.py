"""``ptq-risk``: how much post-training quantization hurts a trained model (Kumar et al. 2024,
eqs. 2, 8-9), the critical data size D_crit beyond which more pretraining data hurts once
quantized (eq. 13), and the data behind the ``--plot`` figure."""

from precplan.ptq._results import CurvePoint, PtqCurves, PtqRisk, PtqSweep, ServingRow, TrainingOption
from precplan.ptq._risk import d_crit, degradation_curves, plot_token_grid, ptq_risk, ptq_sweep
from precplan.ptq._verdict import NEAR_FACTOR, STATUSES, data_status, verdict

__all__ = [
    "CurvePoint", "NEAR_FACTOR", "PtqCurves", "PtqRisk", "PtqSweep", "STATUSES", "ServingRow", "TrainingOption",
    "d_crit", "data_status", "degradation_curves", "plot_token_grid", "ptq_risk", "ptq_sweep", "verdict",
]
