"""``propose``: which runs to train next. From the user's runs, a target (a budget, or N and D)
and a compute allowance: the next runs, chosen to shrink the interval on the target prediction
the most per unit compute (bootstrap of the user's fit, greedy expected-variance reduction per
cost after Li et al. 2026), or, with too few runs to fit, a seed design after Choshen et al.
2024. The runs come out as CSV that ``precplan validate --runs`` trains.

    from precplan.propose import propose
    p = propose("runs.csv", target_budget=1e23, allowance=1e21)
    p.verdict, p.runs, p.interval_before, p.interval_after
"""

from precplan.propose._propose import MIN_FIT_RUNS, SEED_MODELS, Proposal, ProposedRun, propose, proposal_csv, seed_design
from precplan.propose._select import COST_EXPONENT, Selection, candidate_grid, log_loss, log_n_opt, select_runs

__all__ = [
    "COST_EXPONENT", "MIN_FIT_RUNS", "SEED_MODELS", "Proposal", "ProposedRun", "Selection", "candidate_grid", "log_loss",
    "log_n_opt", "proposal_csv", "propose", "seed_design", "select_runs",
]
