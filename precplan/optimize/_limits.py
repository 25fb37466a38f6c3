"""Where ``optimize`` stops answering, and where its answers stop meaning anything.

The rule (documented in the README):

- **Unreachable -> error (exit 2).** A plan needs at least one parameter and one training
  token within the budget and memory limits (:func:`precplan.optimize._split.solve_bits` marks
  anything less infeasible). When no candidate precision gives such a plan, or no model
  reaches a target loss, the error says what the limit is: the smallest budget that has a
  feasible plan, or the lowest loss the fixed model size / token count can reach.
- **Meaningless -> warning.** A feasible plan whose N* is below 1M parameters, or whose
  predicted loss is above ln(32000) = 10.37 nats (worse than guessing uniformly over a
  typical 32K-token vocabulary), is still returned, with a warning that the law is
  meaningless this far outside its data (kumar2024 was fit on 30M-220M parameters).
- **A budget too small for any model the law describes -> error (exit 2) on the command
  line.** ``precplan optimize --budget B`` refuses a budget whose plan is meaningless and
  names the smallest budget with a meaningful plan (:func:`check_meaningful_budgets`); a
  sweep reaching below it says which of its budgets do. The library keeps the warning.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from precplan.costs import infer_coef
from precplan.errors import PrecplanError
from precplan.laws import UNIFORM_LOSS, VOCAB, Law  # the one rule lives in laws._checks
from precplan.optimize._memory import params_cap
from precplan.optimize._newton import LOG_MAX
from precplan.optimize._precision import choose
from precplan.optimize._problem import Problem, loss_or_inf
from precplan.numerics import golden_min
from precplan.units import format_count

__all__ = [
    "MIN_PARAMS", "UNIFORM_LOSS", "check_meaningful_budgets", "is_meaningful", "loss_floor", "meaningful_at",
    "meaningless_warnings", "min_feasible_budget", "min_meaningful_budget", "unreachable_message",
]

Array = NDArray[np.float64]
MIN_PARAMS = 1e6  # below a million parameters the laws (fit on 30M+) say nothing


def meaningless_warnings(params: Array, loss: Array, budgets: Array | None = None) -> list[str]:
    """One warning covering every plan with N* < 1M or predicted loss > ln(32000) (empty if none)."""
    N, L = np.atleast_1d(np.asarray(params, dtype=float)), np.atleast_1d(np.asarray(loss, dtype=float))
    bad = (N < MIN_PARAMS) | (L > UNIFORM_LOSS)
    if not np.any(bad):
        return []
    tail = "the law is meaningless this far outside its data: read it as 'far too small a budget', not as a prediction"
    if N.size == 1:
        why = []
        if L[0] > UNIFORM_LOSS:
            why.append(f"its predicted loss {L[0]:.4g} nats is above ln({VOCAB}) = {UNIFORM_LOSS:.2f}, worse than guessing uniformly over a {format_count(VOCAB)}-token vocabulary")
        if N[0] < MIN_PARAMS:
            why.append(f"N* = {format_count(N[0])} parameters is below {format_count(MIN_PARAMS)}")
        return [f"this plan is outside any meaningful range: {'; '.join(why)}; {tail}"]
    where = ""
    if budgets is not None:
        b = np.atleast_1d(np.asarray(budgets, dtype=float))[bad]
        where = f" (budgets {b.min():.3g}..{b.max():.3g})" if b.min() != b.max() else f" (budget {b.min():.3g})"
    return [
        f"{int(bad.sum())} of {N.size} plans{where} have N* below {format_count(MIN_PARAMS)} parameters or a predicted"
        f" loss above ln({VOCAB}) = {UNIFORM_LOSS:.2f} nats (uniform guessing); {tail}"
    ]


def is_meaningful(params: Array, loss: Array) -> Array:
    """Plans the law says something about: N* of at least 1M parameters and a finite predicted
    loss no worse than uniform guessing (the thresholds of :func:`meaningless_warnings`)."""
    N, L = np.asarray(params, dtype=float), np.asarray(loss, dtype=float)
    return (N >= MIN_PARAMS) & np.isfinite(L) & (L <= UNIFORM_LOSS)


def meaningful_at(groups: Sequence[tuple[Law, Array]], pb: Problem) -> Callable[[Array], Array]:
    """Whether the best candidate at each budget gives a meaningful plan (the grid of candidate
    precisions; a continuous refinement only lowers the loss further)."""
    def ok(budgets: Array) -> Array:
        b = np.atleast_1d(np.asarray(budgets, dtype=float))
        s = choose(list(groups), pb, b, b.size).split
        return s.feasible & is_meaningful(s.params, s.loss)

    return ok


def min_meaningful_budget(groups: Sequence[tuple[Law, Array]], pb: Problem, budget: float) -> float:
    """The smallest budget above ``budget`` whose plan is meaningful (NaN if none within 40 decades,
    e.g. a fixed --params below 1M)."""
    return min_feasible_budget(meaningful_at(groups, pb), budget)


def check_meaningful_budgets(groups: Sequence[tuple[Law, Array]], pb: Problem, budgets: Array, params: Array, loss: Array) -> None:
    """Raise when a budget's plan (``params``, ``loss``) is too small for any model the law
    describes, naming the smallest budget that means something (a sweep: which budgets)."""
    b = np.atleast_1d(np.asarray(budgets, dtype=float))
    bad = ~is_meaningful(np.atleast_1d(params), np.atleast_1d(loss))
    if not np.any(bad):
        return
    least = min_meaningful_budget(groups, pb, float(b[bad].max()))
    limit = ("no budget gives a meaningful plan with these fixed values (check `params`/`tokens`/`memory`)"
             if math.isnan(least) else f"the smallest budget with a meaningful plan is about {least:.3g} FLOPs")
    why = f"N* below {format_count(MIN_PARAMS)} parameters or a predicted loss above ln({VOCAB}) = {UNIFORM_LOSS:.2f} nats (uniform guessing)"
    if b.size == 1:
        N, L = float(np.atleast_1d(params)[0]), float(np.atleast_1d(loss)[0])
        raise PrecplanError(
            f"`budget` {b[0]:.3g} is too small for any model the law describes: its plan has {format_count(N)} parameters"
            f" and a predicted loss of {L:.4g} nats, and the law says nothing about plans with {why}; {limit}"
        )
    lo, hi = b[bad].min(), b[bad].max()
    span = f"{lo:.3g}" if lo == hi else f"{lo:.3g}..{hi:.3g}"
    raise PrecplanError(
        f"`budget`: {int(bad.sum())} of the sweep's {b.size} budgets ({span}) {'is' if int(bad.sum()) == 1 else 'are'} too small for any model the law"
        f" describes ({why}); {limit}" + ("" if math.isnan(least) else ": start the sweep there")
    )


def loss_floor(groups: Sequence[tuple[Law, Array]], pb: Problem) -> tuple[float, float]:
    """The lowest loss any candidate reaches with N fixed (--params, else the memory cap) and D
    free, or with D fixed (--tokens) and N up to the memory cap; returns (loss, tokens there).

    Without PTQ the loss falls with D, so the floor is the D -> infinity limit E + A / N_eff^alpha.
    With PTQ the degradation grows like D^gamma_D (Kumar et al. 2024, eq. 2), so the loss has an
    interior minimum over D: found by golden-section search in log D."""
    best, at = math.inf, math.nan
    for law, cand in groups:
        w, a, kv = (cand[:, i] for i in range(3))
        cap = params_cap(w, pb.memory, pb.serve_memory, pb.post)
        if pb.tokens is not None:  # the loss falls with N: the floor is at the largest N allowed
            tokens = np.full(w.shape, float(pb.tokens))
            unlimited = law.c("E") + law.data_term(tokens)  # N -> infinity: the PTQ term vanishes too
            floor = np.where(np.isfinite(cap), loss_or_inf(law, np.where(np.isfinite(cap), cap, 1.0), tokens, w, a, kv, pb.post), unlimited)
        else:
            N = np.minimum(cap, np.inf if pb.params is None else float(pb.params))
            if pb.params is not None:
                N = np.where(pb.params <= cap * (1 + 1e-12), N, np.nan)
            if pb.post is None:
                n_eff = law.effective_params(np.where(np.isfinite(N), N, 1.0), w, a, kv)
                floor = np.where(np.isfinite(N) & (n_eff > 0), law.c("E") + law.param_term(np.where(n_eff > 0, n_eff, 1.0)), np.inf)
                tokens = np.full(w.shape, np.inf)
            else:
                ex = [x[:, None] for x in (N, w, a, kv)]
                x, floor = golden_min(lambda u: loss_or_inf(law, ex[0], np.exp(u), ex[1], ex[2], ex[3], pb.post),
                                      np.zeros(w.shape), np.full(w.shape, LOG_MAX), grid=64, iters=60)
                tokens = np.exp(x)
        j = int(np.argmin(floor))
        if floor[j] < best:
            best, at = float(floor[j]), float(tokens[j])
    return best, at


def unreachable_message(
    law: Law,
    groups: Sequence[tuple[Law, Array]],
    pb: Problem,
    min_bits: float,
    budget: float | None,
    feasible: Callable[[Array], Array],
) -> str:
    """Why no candidate precision gives a feasible plan, and what the limit is."""
    if pb.mode == "target-loss":
        what = f"`target_loss` {pb.target_loss:g} is out of reach"
        if pb.params is None and pb.tokens is None and pb.memory is None and pb.serve_memory is None:
            return f"{what} at the candidate precisions (irreducible loss E = {law.c('E'):g})"
        floor, tokens = loss_floor(groups, pb)
        if pb.tokens is not None:
            who = f"training on {format_count(pb.tokens)} tokens"
            how = "even with unlimited parameters" if pb.memory is None and pb.serve_memory is None else "with the largest model the memory limit allows"
            return f"{what}: {who} cannot go below {floor:.4f} {how}"
        who = f"a {format_count(pb.params)}-parameter model" if pb.params is not None else "the largest model the memory limit allows"
        if pb.post is None or not tokens < 1e-3 * math.exp(LOG_MAX):  # no PTQ, or a candidate it spares
            return f"{what}: {who} cannot go below {floor:.4f} even with unlimited data"
        return (
            f"{what}: {who} served at {pb.post:g} bits cannot go below {floor:.4f}, its lowest loss after"
            f" post-training quantization (at about {format_count(tokens)} tokens; more data raises the PTQ degradation)"
        )
    if pb.mode == "budget" and budget is not None:
        if pb.params is not None and pb.inference_tokens > 0:
            need = float(infer_coef(min_bits) * pb.params * pb.inference_tokens)
            return (
                f"`budget` {budget:.3g} is too small: serving {format_count(pb.inference_tokens)} tokens with a"
                f" {format_count(pb.params)}-parameter model alone costs at least {need:.3g} FLOPs"
            )
        least = min_feasible_budget(feasible, budget)
        limit = "" if math.isnan(least) else f"; the smallest budget whose optimal plan has both is about {least:.3g} FLOPs"
        useful = min_meaningful_budget(groups, pb, budget)
        if not math.isnan(useful):
            limit += f", and the smallest with a plan the law describes (N* >= {format_count(MIN_PARAMS)}, loss below uniform guessing) about {useful:.3g}"
        return (
            f"`budget` {budget:.3g} is too small: at every candidate precision its optimal plan has fewer than one"
            f" parameter or one training token (within the memory limits), and a plan needs at least one of each{limit}"
        )
    return "no feasible plan at any candidate precision (check `params`, `memory` and `tokens`)"


def min_feasible_budget(feasible: Callable[[Array], Array], budget: float, decades: int = 40) -> float:
    """The smallest budget above ``budget`` with a feasible plan (bisection in log C; NaN if none
    within ``decades`` decades). Feasibility grows with the budget: more compute only adds plans."""
    ups = budget * 10.0 ** np.arange(1, decades + 1, dtype=float)
    ok = np.asarray(feasible(ups), dtype=bool)
    if not np.any(ok):
        return math.nan
    k = int(np.argmax(ok))
    lo, hi = math.log(budget if k == 0 else ups[k - 1]), math.log(ups[k])
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if bool(np.asarray(feasible(np.array([math.exp(mid)])))[0]):
            hi = mid
        else:
            lo = mid
    return math.exp(hi)
