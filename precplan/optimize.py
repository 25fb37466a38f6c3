"""``optimize``: the model size N, training tokens D and training precision that minimize the
predicted loss under a budget (or the lifetime compute that reaches a target loss).

Pipeline: :func:`make_planner` validates the request into a :class:`Planner` (a Problem, the
candidate precisions, what to compare); :meth:`Planner.solve` picks the bits per budget
(:mod:`precplan.optimize_precision`) with N and D from :mod:`precplan.optimize_split`;
:meth:`Planner.plans` turns that into :class:`~precplan.optimize_plan.Plan` objects.
Everything is vectorized over budgets, so a sweep of 1,000 budgets is one pass.

Cost model (Kumar et al. 2024, sec. 4.3): C = (6/16) N D P in 16-bit-equivalent FLOPs, with
P = max(P_w, P_a, P_kv) when untied (a matmul runs at its widest operand).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.errors import PrecplanError
from precplan.inference import GpuSpec, cost_bits, gpu_costs, infer_coef
from precplan.laws import BASE, PRECISION, PTQ, ROBUSTNESS, Law
from precplan.optimize_memory import check_fixed_params_fit, memory_notes, params_cap, weight_bytes
from precplan.optimize_plan import Alternative, Decomposition, Plan, Reference, Shift
from precplan.optimize_precision import Choice, choose, integer_candidates, point, refine
from precplan.optimize_split import Problem, solve_bits
from precplan.precision import Precision, parse_precision
from precplan.prediction import Bits, law_for_weights

Array = NDArray[np.float64]
DEFAULT_RANGE = (3.0, 16.0)
DEFAULT_COMPARE = (4.0, 8.0, 16.0)
MEMORY_COMPARE = (4.0, 6.0, 8.0, 16.0, 32.0)  # the paper's memory-matched runs (FP4 ... FP32)


@dataclass(frozen=True)
class Planner:
    """A validated request: solve it for any array of budgets."""

    law: Law
    problem: Problem
    groups: tuple[tuple[Law, Array], ...]  # candidate bits (k, 3) per law variant
    bits_range: tuple[float, float]
    continuous: bool
    untied: bool
    compare: tuple[float, ...]
    gpu: GpuSpec | None
    notes: tuple[str, ...]
    formats: tuple[str, ...] | None = None  # format names of the candidates, when given as a list

    # ------------------------------------------------------------------ solving
    def solve(self, budget: ArrayLike | None = None) -> Choice:
        """Best bits and split per budget (a single pseudo-budget without --budget)."""
        b = None if budget is None else np.atleast_1d(np.asarray(budget, dtype=float))
        n = 1 if b is None else b.size
        choice = choose(list(self.groups), self.problem, b, n)
        if self.continuous:
            lo, hi = self.bits_range
            bits = refine(self.law, self.problem, b, choice.bits, lo, hi, self.untied)
            split = point(self.law, self.problem, b, bits)
            better = split.objective(self.problem.mode) < choice.split.objective(self.problem.mode)
            bits = np.where(better[:, None], bits, choice.bits)
            split = point(self.law, self.problem, b, bits)
            choice = Choice(bits, split, choice.group, choice.index)
        bad = ~choice.split.feasible
        if np.any(bad):
            raise PrecplanError(self._unreachable(None if b is None else float(b[np.argmax(bad)])))
        return choice

    def plans(self, budget: ArrayLike | None = None) -> list[Plan]:
        """Plans, one per budget (one plan without --budget)."""
        b = None if budget is None else np.atleast_1d(np.asarray(budget, dtype=float))
        pb = self.problem
        choice = self.solve(b)
        n = choice.bits.shape[0]
        s, bits = choice.split, choice.bits
        laws = [self.groups[int(g)][0] for g in choice.group]
        w, a, kv = bits[:, 0], bits[:, 1], bits[:, 2]
        pc = cost_bits(w, a, kv)
        ps = pc if pb.post is None else np.full(n, pb.post)
        dec = [self._decomposition(laws[i], s.params[i], s.tokens[i], bits[i]) for i in range(n)]
        comparison = self._comparison(b, choice)
        shift = self._without_ptq(b) if pb.post is not None else [None] * n
        reference = self._reference(b, choice) if pb.target_loss is not None and pb.inference_tokens > 0 else [None] * n
        gpu = gpu_costs(self.gpu, s.params, s.tokens, pc, pb.inference_tokens, ps) if self.gpu else [None] * n
        assumed = self._assumed()
        binding = self._binding_notes(b, s, w)
        out = []
        for i in range(n):
            law = laws[i]
            warnings = law.extrapolation_warnings(s.params[i], s.tokens[i], list(bits[i]) if law.has_precision else None)
            if pb.post is not None and self.untied and dec[i].ptq_degradation == 0 and np.any(bits[i] <= pb.post):
                warnings.append(
                    "the PTQ degradation is zero because one operand trains at or below the inference precision:"
                    " eq. 9 multiplies the operands' robustness factors, so one such operand cancels the whole term."
                    " This rests on the ASSUMED C_w/C_a/C_kv and the product form; treat it with caution"
                )
            out.append(
                Plan(
                    law=law.id,
                    mode=pb.mode,
                    budget=None if b is None else float(b[i]),
                    target_loss=pb.target_loss,
                    params=float(s.params[i]),
                    tokens=float(s.tokens[i]),
                    tokens_per_param=float(s.tokens[i] / s.params[i]),
                    loss=float(s.loss[i]),
                    bits=Bits(*(float(x) for x in bits[i])),
                    format=None if self.formats is None else self.formats[int(choice.index[i])],
                    cost_bits=float(pc[i]),
                    inference_precision=pb.post,
                    serve_bits=float(ps[i]),
                    inference_tokens=pb.inference_tokens,
                    train_flops=float(s.train_flops[i]),
                    inference_flops=float(s.inference_flops[i]),
                    total_flops=float(s.total_flops[i]),
                    weights_memory_bytes=float(weight_bytes(s.params[i], w[i])),
                    serve_memory_bytes=float(weight_bytes(s.params[i], w[i] if pb.post is None else pb.post)),
                    decomposition=dec[i],
                    comparison=comparison[i],
                    without_ptq=shift[i],
                    reference=reference[i],
                    gpu=gpu[i],
                    assumed=list(assumed),
                    warnings=warnings,
                    notes=list(self.notes) + binding[i] + (list(gpu[i].notes) if gpu[i] else []),
                )
            )
        return out

    def range_warnings(self, plans: list[Plan]) -> list[str]:
        """Extrapolation warnings for a whole sweep at once (one line per quantity)."""
        N = np.array([p.params for p in plans])
        D = np.array([p.tokens for p in plans])
        bits = np.array([[p.bits.weights, p.bits.activations, p.bits.kv] for p in plans]) if self.law.has_precision else None
        return self.law.extrapolation_warnings(N, D, bits)

    # ------------------------------------------------------------------ pieces of a plan
    def _binding_notes(self, b: Array | None, s, w: Array) -> list[list[str]]:
        """Say when a memory limit caps the model, and when that leaves budget unspent."""
        pb = self.problem
        cap = params_cap(w, pb.memory, pb.serve_memory, pb.post)
        out: list[list[str]] = []
        for i in range(w.size):
            notes = []
            if pb.params is None and np.isfinite(cap[i]) and s.params[i] >= cap[i] * (1 - 1e-9):
                notes.append("the memory limit binds: N is the largest model that fits")
                if b is not None and s.total_flops[i] < b[i] * (1 - 1e-9):
                    notes.append(f"with --tokens fixed, the plan spends only {s.total_flops[i] / b[i]:.1%} of the budget")
            searched = sum(len(c) for _, c in self.groups) > 1
            lo, hi = self.bits_range
            if searched and self.formats is None and (np.isclose(w[i], lo) or np.isclose(w[i], hi)):
                edge = "bottom" if np.isclose(w[i], lo) else "top"
                notes.append(f"the chosen weight precision is at the {edge} of the search range {lo:g}..{hi:g} bits: widen --precisions (e.g. 3:32) to look further")
            out.append(notes)
        return out

    def _decomposition(self, law: Law, N: float, D: float, bits: Array) -> Decomposition:
        w, a, kv = (float(x) for x in bits)
        n_eff = float(law.effective_params(N, w, a, kv))
        post = self.problem.post
        ptq = 0.0 if post is None else float(law.ptq_degradation(N, D, post, w, a, kv))
        return Decomposition(
            irreducible=law.c("E"),
            param_term=float(law.param_term(n_eff)),
            data_term=float(law.data_term(D)),
            ptq_degradation=ptq,
            effective_params=n_eff,
            effective_fraction=n_eff / N,
        )

    def _comparison(self, b: Array | None, choice: Choice) -> list[list[Alternative]]:
        """Each compare precision (tied) with its own optimal N, D, next to the plan itself."""
        cb = np.asarray(self.compare, dtype=float)
        col = None if b is None else b[:, None]
        s = solve_bits(self.law, self.problem, cb[None, :], cb[None, :], cb[None, :], col)
        n = choice.bits.shape[0]
        star = choice.split
        target = self.problem.mode == "target-loss"
        rows: list[list[Alternative]] = []
        for i in range(n):
            row = []
            for j, bits in enumerate(cb):
                k = (min(i, s.params.shape[0] - 1), j)
                row.append(_alternative(f"{bits:g}-bit", Bits(bits, bits, bits), s.params[k], s.tokens[k], s.loss[k], s.total_flops[k], star.loss[i], star.total_flops[i], target))
            label = "optimum P*" if not self.untied else "optimum (untied)"
            pb = Bits(*(float(x) for x in choice.bits[i]))
            row.append(_alternative(label, pb, star.params[i], star.tokens[i], star.loss[i], star.total_flops[i], star.loss[i], star.total_flops[i], target))
            rows.append(row)
        return rows

    def _without_ptq(self, b: Array | None) -> list[Shift]:
        pb = self.problem
        other = replace(self, problem=replace(pb, post=None))
        ch = other.solve(b)
        out = []
        for i in range(ch.bits.shape[0]):
            law = self.groups[int(ch.group[i])][0]
            N, D = float(ch.split.params[i]), float(ch.split.tokens[i])
            after = float(law.loss(N, D, *ch.bits[i], post=pb.post))
            out.append(Shift(N, D, D / N, Bits(*(float(x) for x in ch.bits[i])), float(ch.split.loss[i]), after))
        return out

    def _reference(self, b: Array | None, choice: Choice) -> list[Reference]:
        pb = self.problem
        ch = replace(self, problem=replace(pb, inference_tokens=0.0)).solve(b)
        pc = cost_bits(*ch.bits.T)
        serve = pc if pb.post is None else np.full(pc.shape, pb.post)
        infer = infer_coef(serve) * ch.split.params * pb.inference_tokens
        out = []
        for i in range(ch.bits.shape[0]):
            total = float(ch.split.train_flops[i] + infer[i])
            saved = total - float(choice.split.total_flops[i])
            N, D = float(ch.split.params[i]), float(ch.split.tokens[i])
            out.append(Reference(N, D, D / N, Bits(*(float(x) for x in ch.bits[i])), float(ch.split.train_flops[i]), float(infer[i]), total, saved, saved / total))
        return out

    def _assumed(self) -> list[str]:
        """Assumed constants the plan depends on (robustness constants only matter with PTQ)."""
        used = set(BASE) | (set(PRECISION) if self.law.has_precision else set())
        if self.problem.post is not None:
            used |= set(PTQ) | set(ROBUSTNESS)
        names = []
        for law, _ in self.groups:
            names += [k for k in law.assumed if k in used and k not in names]
        return names

    def _unreachable(self, budget: float | None) -> str:
        """Why no candidate precision gives a feasible plan, and what the limit is."""
        from precplan.units import format_count

        pb, law = self.problem, self.law
        if pb.mode == "target-loss":
            what = f"--target-loss {pb.target_loss:g} is out of reach"
            if pb.params is not None:
                best = max(float(law.precision_factor(*c.T).max()) for _, c in self.groups)
                limit = law.c("E") + float(law.param_term(pb.params * best))
                return f"{what}: a {format_count(pb.params)}-parameter model cannot go below {limit:.4f} even with unlimited data"
            if pb.tokens is not None:
                limit = law.c("E") + float(law.data_term(pb.tokens))
                return f"{what}: training on {format_count(pb.tokens)} tokens cannot go below {limit:.4f} even with unlimited parameters"
            return f"{what} within the memory limit at the candidate precisions (irreducible loss E = {law.c('E'):g})"
        if pb.mode == "budget" and budget is not None:
            if pb.params is not None and pb.inference_tokens > 0:
                floor = float(infer_coef(self.bits_range[0]) * pb.params * pb.inference_tokens)
                return (
                    f"--budget {budget:.3g} is too small: serving {format_count(pb.inference_tokens)} tokens with a"
                    f" {format_count(pb.params)}-parameter model alone costs at least {floor:.3g} FLOPs"
                )
            return (
                f"no feasible plan for --budget {budget:.3g} at any candidate precision (a plan needs at least one"
                " parameter and one training token within the budget and memory limits)"
            )
        return "no feasible plan at any candidate precision (check --params, --memory and --tokens)"


def _alternative(label, bits, N, D, loss, flops, star_loss, star_flops, target) -> Alternative:
    ok = bool(np.isfinite(loss))
    num = lambda x: float(x) if ok else None  # noqa: E731
    return Alternative(
        label=label,
        bits=bits,
        feasible=ok,
        params=num(N),
        tokens=num(D),
        tokens_per_param=num(D / N) if ok else None,
        loss=num(loss),
        total_flops=num(flops),
        loss_gap=None if not ok or target else float(loss - star_loss),
        flops_ratio=None if not ok or star_flops <= 0 else float(flops / star_flops),
    )


# ---------------------------------------------------------------------------- building a planner
def make_planner(
    law: Law,
    *,
    has_budget: bool = True,
    params: float | None = None,
    tokens: float | None = None,
    precision: Precision | float | str | None = None,
    precisions: Sequence[Precision | float | str] | None = None,
    bits_range: tuple[float, float] | None = None,
    continuous: bool = False,
    untied: bool = False,
    memory: float | None = None,
    serve_memory: float | None = None,
    inference_precision: Precision | float | str | None = None,
    inference_tokens: float | None = None,
    target_loss: float | None = None,
    compare: Sequence[float | str | Precision] | None = None,
    gpu: GpuSpec | None = None,
) -> Planner:
    """Validate a request (every inconsistency is a :class:`PrecplanError` saying what is valid)."""
    from precplan.optimize_checks import check_request

    post = None if inference_precision is None else parse_precision(inference_precision).bits
    check_request(law, has_budget, params, tokens, precision, precisions, continuous, untied, memory, serve_memory, post, inference_tokens, target_loss)
    notes: list[str] = ["cost model: training C = (6/16) N D P in 16-bit-equivalent FLOPs (Kumar et al. 2024, sec. 4.3)"]
    lo, hi = bits_range or DEFAULT_RANGE
    formats = None
    if not law.has_precision:
        groups: list[tuple[Law, Array]] = [(law, np.array([[16.0, 16.0, 16.0]]))]
        notes.append(f"law {law.id} has no precision terms: planned at 16 bits only (compose with --law kumar2024 --base {law.id} for other precisions)")
        lo = hi = 16.0
    elif precision is not None or precisions is not None:
        chosen = [parse_precision(precision)] if precision is not None else [parse_precision(p) for p in precisions or ()]
        groups, group_notes, formats = _format_groups(law, chosen, untied)
        notes += group_notes
        lo, hi = min(p.bits for p in chosen), max(p.bits for p in chosen)
    else:
        cand, skip_notes = integer_candidates(law, lo, hi, untied)
        if cand.size == 0:
            raise PrecplanError(f"no precision from {lo:g} to {hi:g} bits is inside the domain of law {law.id!r}")
        groups, notes = [(law, cand)], notes + skip_notes
    if untied:
        notes.append("untied search: weights, activations and KV bits chosen separately; training is paid at the widest operand, max(P_w, P_a, P_kv)")
    if continuous:
        notes.append(f"continuous search: real-valued bits in [{lo:g}, {hi:g}] (golden-section refinement of the best integer)")
    notes += memory_notes(memory, serve_memory, post)
    if post is not None:
        notes.append(f"inference at {post:g} bits: the loss includes the post-training-quantization degradation (Kumar et al. 2024, eqs. 2, 8-9)")
    if inference_tokens:
        notes.append("lifetime compute adds (2/16) N T P_serve for the tokens served (Sardana et al. 2024's 2 N T, bit-scaled like training)")
    pb = Problem(has_budget, params, tokens, memory, serve_memory, post, float(inference_tokens or 0.0), target_loss)
    if params is not None and (memory is not None or serve_memory is not None):
        check_fixed_params_fit(params, min(float(c[:, 0].min()) for _, c in groups), memory, serve_memory, post)
    if compare is None:
        compare = MEMORY_COMPARE if pb.mode == "fixed" and params is None else DEFAULT_COMPARE
    cmp = tuple(sorted({parse_precision(c).bits for c in compare})) if law.has_precision else (16.0,)
    if formats is not None and all(f.endswith("-bit") for f in formats):
        formats = None
    return Planner(law, pb, tuple(groups), (lo, hi), continuous, untied, cmp, gpu, tuple(dict.fromkeys(notes)), formats)


def _format_groups(law: Law, chosen: list[Precision], untied: bool) -> tuple[list[tuple[Law, Array]], list[str], tuple[str, ...] | None]:
    """Candidates grouped by the law variant that predicts them (float weights -> the float law),
    with the format names of the candidates (tied search) in the planner's candidate order."""
    by_law: dict[str, tuple[Law, dict[float, list[str]]]] = {}
    notes = []
    for p in chosen:
        variant, note = law_for_weights(law, p)
        if note:
            notes.append(note)
        if float(variant.precision_factor(p.bits, p.bits, p.bits)) <= 0:
            notes.append(f"skipped {p.name}: outside the domain of law {variant.id} (effective-parameter factor <= 0)")
            continue
        by_law.setdefault(variant.id, (variant, {}))[1].setdefault(p.bits, []).append(p.name)
    if not by_law:
        raise PrecplanError(f"every requested precision is outside the domain of law {law.id!r} (activations and KV need more than ~3.1 bits)")
    groups, names = [], []
    for variant, by_bits in by_law.values():
        v = np.array(sorted(by_bits))
        if untied:
            v = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(-1, 3)
            v = v[variant.precision_factor(v[:, 0], v[:, 1], v[:, 2]) > 0]
        else:
            names += ["/".join(dict.fromkeys(by_bits[x])) for x in v]
            v = np.repeat(v[:, None], 3, axis=1)
        groups.append((variant, v))
    return groups, notes, None if untied else tuple(names)


def optimize(law: Law, budget: float | str | None = None, **options) -> Plan:
    """The optimal plan for one budget (or, with ``target_loss``/``tokens`` and no budget, the one plan).

    Options: see :func:`make_planner` (params, tokens, precision, precisions, bits_range,
    continuous, untied, memory, serve_memory, inference_precision, inference_tokens,
    target_loss, compare, gpu). Example::

        plan = optimize(load_law("kumar2024"), 1e23)
        plan.params, plan.tokens, plan.bits.weights, plan.loss
    """
    from precplan.units import parse_count

    b = None if budget is None else parse_count(budget, "budget")
    return make_planner(law, has_budget=b is not None, **options).plans(b)[0]


def optimize_sweep(law: Law, budgets: ArrayLike, **options) -> list[Plan]:
    """One plan per budget, vectorized (1,000 budgets in well under a second)."""
    b = np.atleast_1d(np.asarray(budgets, dtype=float))
    if not np.all(np.isfinite(b) & (b > 0)):
        raise PrecplanError("budgets must be positive numbers of FLOPs")
    return make_planner(law, has_budget=True, **options).plans(b)
