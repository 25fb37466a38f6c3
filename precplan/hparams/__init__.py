"""Hyperparameter laws: the optimal peak learning rate and batch size for a training run, from
each bundled law side by side (DeepSeek LLM 2024, sec. 3.1; Step Law, Li et al. 2025), with
what each was fit on, its fit range, extrapolation warnings and a note where they disagree.

    from precplan.hparams import hyperparameters
    h = hyperparameters(params=7e9, tokens=2e12, seq_len=4096)
    h.verdict, [(x.law, x.learning_rate, x.batch_tokens) for x in h.laws]

Law files: ``laws/hparams/*.yaml`` (shipped as ``precplan/_laws/hparams``).
"""

from precplan.hparams._file import HparamLaw, PowerLaw, bundled_hparam_names, hparam_laws_dir, load_hparam_law
from precplan.hparams._suggest import (
    DEFAULT_SEQ_LEN,
    DISAGREEMENT,
    FAR_FACTOR,
    Hyperparameters,
    LawHyperparameters,
    hyperparameters,
    plan_hyperparameters,
)

__all__ = [
    "DEFAULT_SEQ_LEN", "DISAGREEMENT", "FAR_FACTOR", "HparamLaw", "Hyperparameters", "LawHyperparameters", "PowerLaw",
    "bundled_hparam_names", "hparam_laws_dir", "hyperparameters", "load_hparam_law", "plan_hyperparameters",
]
