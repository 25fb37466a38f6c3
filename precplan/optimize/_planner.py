"""``optimize``: the model size N, training tokens D and training precision that minimize the
predicted loss under a budget (or the lifetime compute that reaches a target loss).

Pipeline: :func:`make_planner` validates the request into a :class:`Planner` (a Problem, the
candidate precisions, what to compare); :meth:`Planner.solve` picks the bits per budget
(:mod:`precplan.optimize._precision`) with N and D from :mod:`precplan.optimize._split`;
:meth:`Planner.plans` turns that into :class:`~precplan.optimize._result.Plan` objects.
Everything is vectorized over budgets, so a sweep of 1,000 budgets is one pass.

Cost model (Kumar et al. 2024, sec. 4.3): C = (6/16) N D P in 16-bit-equivalent FLOPs, with
P = max(P_w, P_a, P_kv) when untied (a matmul runs at its widest operand). With a GPU
(:class:`precplan.costs.GpuSpec`) the cost model is ``hardware``: the same solver, with each
width priced at the dense peak of the native format it runs in and serving priced by compute
(prefill) and memory traffic (decode); the budget is GPU-seconds x peak_bf16 x MFU.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.errors import PrecplanError
from precplan.costs import SHAPE_RULE, GpuSpec, cost_bits, gpu_costs, infer_coef, train_coef
from precplan.laws import BASE, PRECISION, PTQ, ROBUSTNESS, Decomposition, Law
from precplan.optimize._compare import CompareRow, compare_columns, compare_rows
from precplan.optimize._limits import unreachable_message
from precplan.optimize._memory import check_fixed_params_fit, kv_cache_bytes, memory_notes, params_cap, weight_bytes
from precplan.optimize._sweep import PTQ_STOP, TOKENS_FIXED, ReferenceColumns, ShiftColumns, Sweep, concat
from precplan.optimize._result import Plan
from precplan.optimize._precision import Choice, choose, integer_candidates, point, refine
from precplan.optimize._problem import Problem
from precplan.precision import Precision, is_named_format, parse_precision
from precplan.laws import law_for_weights

__all__ = [
    "CHUNK_CELLS", "DEFAULT_COMPARE", "DEFAULT_RANGE", "MEMORY_COMPARE", "Planner", "budget_array", "composition_warnings",
    "make_planner", "optimize", "optimize_sweep",
]

Array = NDArray[np.float64]
DEFAULT_RANGE = (3.0, 16.0)
DEFAULT_COMPARE = (4.0, 8.0, 16.0)
CHUNK_CELLS = 1 << 15  # budget x candidate cells solved together: bounds a sweep's temporaries (x search points)
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
    compare: tuple[CompareRow, ...]  # the comparison table's rows (precplan.optimize._compare)
    gpu: GpuSpec | None
    notes: tuple[str, ...]
    formats: tuple[str, ...] | None = None  # format names of the candidates, when given as a list
    law_warnings: tuple[str, ...] = ()  # about the law itself (a composition), first in every plan's warnings

    @property
    def family(self) -> Law:
        """The law variant that predicts the plan: the candidates' one variant (e.g. kumar2024-fp
        when every candidate is a float format), else the requested law."""
        return _family(self.law, self.groups)

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
            budget_bad = None if b is None else float(b[np.argmax(bad)])
            min_bits = min(float(c.min()) for _, c in self.groups)
            raise PrecplanError(unreachable_message(self.law, self.groups, self.problem, min_bits, budget_bad, self._feasible))
        return choice

    @property
    def chunk(self) -> int:
        """Budgets solved together: :data:`CHUNK_CELLS` budget x candidate cells (2,340 budgets
        for the 14 default candidates, fewer for an untied search's thousands)."""
        return max(16, CHUNK_CELLS // sum(len(c) for _, c in self.groups))

    def _feasible(self, budget: Array) -> Array:
        """Whether any candidate precision has a feasible plan at each budget."""
        return choose(list(self.groups), self.problem, budget, budget.size).split.feasible

    def plans(self, budget: ArrayLike | None = None) -> list[Plan]:
        """Plans, one per budget (one plan without a budget): :meth:`sweep`, plan by plan."""
        return list(self.sweep(budget))

    def sweep(self, budget: ArrayLike | None = None, advance: Callable[[int], None] | None = None,
              gpu_hours: ArrayLike | None = None) -> Sweep:
        """Every budget's plan at once, as arrays (:class:`~precplan.optimize._sweep.Sweep`).

        Budgets are solved in chunks of :attr:`chunk` (memory stays bounded however many there
        are); ``advance(k)`` is called after each chunk of k budgets (for a progress bar).
        ``gpu_hours``: the hardware budget each budget came from, kept as given (with a GPU)."""
        b = None if budget is None else np.atleast_1d(np.asarray(budget, dtype=float))
        h = None if gpu_hours is None or b is None else np.broadcast_to(np.asarray(gpu_hours, dtype=float), b.shape)
        step = self.chunk
        if b is not None and b.size > step:
            parts = []
            for start in range(0, b.size, step):
                parts.append(self._sweep(b[start:start + step], None if h is None else h[start:start + step]))
                if advance is not None:
                    advance(parts[-1].count)
            return concat(parts)
        out = self._sweep(b, h)
        if advance is not None:
            advance(out.count)
        return out

    def _sweep(self, b: Array | None, hours: Array | None = None) -> Sweep:
        pb = self.problem
        choice = self.solve(b)
        n = choice.bits.shape[0]
        s, bits = choice.split, choice.bits
        w, a, kv = bits[:, 0], bits[:, 1], bits[:, 2]
        pc = cost_bits(w, a, kv)
        _, ps, ws, ks = pb.costs(w, a, kv)
        variants = tuple(law for law, _ in self.groups)
        # FLOPs are always the idealized count (Kumar et al. 2024, sec. 4.3; Sardana et al.'s 2 N T
        # bit-scaled at the served token's widest operand); a GPU's cost is in GPU-hours.
        train_flops = train_coef(pc) * s.params * s.tokens
        infer_flops = infer_coef(ps) * s.params * pb.inference_tokens
        # one candidate of a law with precision terms: the given precision, not an optimum
        fixed = self.law.has_precision and not self.continuous and sum(len(bs) for _, bs in self.groups) == 1
        star_label = "given precision" if fixed else ("optimum P*" if not self.untied else "optimum (untied)")
        gpu = tuple(gpu_costs(self.gpu, s.params, s.tokens, pc, pb.inference_tokens, ps, ws, ks)) if self.gpu else None
        kv_at = pb.kv_memory or ((self.gpu.context_tokens, self.gpu.batch, self.gpu.gqa) if self.gpu else None)
        dec = _decompose(variants, choice.group, s.params, s.tokens, bits, pb.post)
        zero_ptq = np.zeros(n, dtype=bool)
        if pb.post is not None and self.untied:
            zero_ptq = (dec.ptq_degradation == 0) & np.any(bits <= pb.post, axis=1)
        binds, spent, edge = self._binding(b, s, w, ks)
        return Sweep(
            law=self.law.id, mode=pb.mode, target_loss=pb.target_loss, inference_precision=pb.post,
            inference_tokens=pb.inference_tokens, cost_model="idealized" if self.gpu is None else "hardware",
            budget=b, params=s.params, tokens=s.tokens, loss=s.loss, bits=bits, group=choice.group, variants=variants,
            family=self.family, formats=self.formats, index=choice.index, cost_bits=pc, serve_bits=ps,
            train_flops=train_flops, inference_flops=infer_flops,
            weights_memory_bytes=weight_bytes(s.params, w), serve_memory_bytes=weight_bytes(s.params, ws),
            decomposition=dec, compared=tuple(compare_columns(self.compare, pb, b, n)), star_label=star_label,
            without_ptq=self._without_ptq(b) if pb.post is not None else None,
            reference=self._reference(b, choice) if pb.target_loss is not None and pb.inference_tokens > 0 else None,
            gpu_cost=gpu, gpu=None if gpu is None else gpu[0].gpu, gpus=None if self.gpu is None else self.gpu.gpus,
            budget_gpu_hours=None if self.gpu is None or b is None else (hours if hours is not None else self.gpu.seconds(b) / 3600.0),
            kv_cache_bytes=None if kv_at is None else np.asarray(kv_cache_bytes(s.params, ks, kv_at), dtype=float),
            binds=binds, spent=spent, edge=edge, bits_range=self.bits_range, zero_ptq=zero_ptq,
            assumed=tuple(self._assumed()), shared_notes=self.notes, law_warnings=self.law_warnings,
            underspend=TOKENS_FIXED if pb.tokens is not None else (PTQ_STOP if pb.post is not None else None),
            star_cost=np.asarray(s.total_flops, dtype=float),
            extra_notes=None if gpu is None else tuple(tuple(g.notes) + tuple(_emulated_note(self.gpu, g, bits[i])) for i, g in enumerate(gpu)),
        )

    # ------------------------------------------------------------------ pieces of a plan
    def _binding(self, b: Array | None, s, w: Array, ks: Array) -> tuple[NDArray[np.bool_], Array, NDArray[np.int8]]:
        """Per budget: whether a memory limit caps the model, the fraction of the budget spent,
        and whether the weight bits sit at the bottom (-1) or top (+1) of the searched range."""
        pb = self.problem
        cap = np.broadcast_to(params_cap(w, pb.memory, pb.serve_memory, pb.post, pb.kv_memory, ks), w.shape)
        binds = np.isfinite(cap) & (s.params >= cap * (1 - 1e-9)) if pb.params is None else np.zeros(w.shape, dtype=bool)
        spent = np.full(w.shape, np.nan) if b is None else s.total_flops / b
        edge = np.zeros(w.shape, dtype=np.int8)
        if sum(len(c) for _, c in self.groups) > 1 and self.formats is None:
            lo, hi = self.bits_range
            edge = np.where(np.isclose(w, lo), -1, np.where(np.isclose(w, hi), 1, 0)).astype(np.int8)
        return binds, spent, edge

    def _without_ptq(self, b: Array | None) -> ShiftColumns:
        """The optimum when PTQ is ignored, and its loss once quantized after all."""
        pb = self.problem
        ch = replace(self, problem=replace(pb, post=None)).solve(b)
        N, D = ch.split.params, ch.split.tokens
        after = np.empty_like(N)
        for g, (law, _) in enumerate(self.groups):
            m = ch.group == g
            after[m] = law.loss(N[m], D[m], *ch.bits[m].T, post=pb.post)
        return ShiftColumns(N, D, ch.bits, ch.split.loss, after)

    def _reference(self, b: Array | None, choice: Choice) -> ReferenceColumns:
        """The training-optimal (inference-blind) plan at the same loss, charged for the same
        inference demand (Sardana et al. 2024)."""
        pb = self.problem
        ch = replace(self, problem=replace(pb, inference_tokens=0.0)).solve(b)
        _, ps, ws, ks = pb.costs(*ch.bits.T)
        N, D = ch.split.params, ch.split.tokens
        cost_train, cost_infer = ch.split.train_flops, pb.infer(N, ps, ws, ks)  # in the cost model's units
        saved_cost = cost_train + cost_infer - choice.split.total_flops
        train_flops = train_coef(cost_bits(*ch.bits.T)) * N * D  # FLOPs: the idealized count, as in the plan
        infer_flops = infer_coef(ps) * N * pb.inference_tokens
        _, ps_star, _, _ = pb.costs(*choice.bits.T)
        star_flops = train_coef(cost_bits(*choice.bits.T)) * choice.split.params * choice.split.tokens + infer_coef(ps_star) * choice.split.params * pb.inference_tokens
        hours = (lambda u: u / self.gpu.units_per_second / 3600.0) if self.gpu else (lambda u: None)  # noqa: E731
        return ReferenceColumns(N, D, ch.bits, train_flops, infer_flops, saved_cost / (cost_train + cost_infer), star_flops,
                                hours(cost_train), hours(cost_infer), hours(saved_cost))

    def _assumed(self) -> list[str]:
        """Assumed constants the plan depends on (robustness constants only matter with PTQ)."""
        used = set(BASE) | (set(PRECISION) if self.law.has_precision else set())
        if self.problem.post is not None:
            used |= set(PTQ) | set(ROBUSTNESS)
        names = []
        for law, _ in self.groups:
            names += [k for k in law.assumed if k in used and k not in names]
        return names


def _family(law: Law, groups: Sequence[tuple[Law, Array]]) -> Law:
    """The candidates' one law variant (e.g. kumar2024-fp when every candidate is a float format),
    else the requested law."""
    return groups[0][0] if len(groups) == 1 else law


def _decompose(variants: Sequence[Law], group: NDArray[np.int64], N: Array, D: Array, bits: Array, post: float | None) -> Decomposition:
    """The loss decomposition (Kumar et al. 2024, eq. 10) of every plan, as arrays, each plan by
    the law variant that predicts it."""
    fields = {k: np.empty_like(N) for k in ("irreducible", "param_term", "data_term", "ptq_degradation", "effective_params")}
    for g, law in enumerate(variants):
        m = group == g
        if not m.any():
            continue
        w, a, kv = bits[m].T
        n_eff = law.effective_params(N[m], w, a, kv)
        fields["irreducible"][m] = law.c("E")
        fields["param_term"][m] = law.param_term(n_eff)
        fields["data_term"][m] = law.data_term(D[m])
        fields["ptq_degradation"][m] = 0.0 if post is None else law.ptq_degradation(N[m], D[m], post, w, a, kv)
        fields["effective_params"][m] = n_eff
    return Decomposition(**fields, effective_fraction=fields["effective_params"] / N)


def _emulated_note(spec: GpuSpec | None, cost, bits: Array) -> list[str]:
    """Say when the training width has no native format on the GPU."""
    if spec is None or cost is None or not cost.emulated:
        return []
    b = float(cost_bits(*bits))
    return [f"{b:g}-bit training has no native format on the {spec.name}: it runs emulated in {cost.train_format} and costs what {cost.train_format} costs"]


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
    serve_activations: Precision | float | str | None = None,
    serve_kv: Precision | float | str | None = None,
    kv_memory: tuple[float, float, float] | None = None,
    budget_inference: bool = True,
) -> Planner:
    """Validate a request (every inconsistency is a :class:`PrecplanError` saying what is valid).

    With ``gpu`` the cost model is the GPU's (``hardware``): the candidates are its native
    training formats unless precisions are given (a named format it lacks is an error; a plain
    bit count runs emulated in the next wider native format), and budgets are 16-bit-equivalent
    FLOPs at its bf16 rate and ``gpu.mfu`` (:meth:`GpuSpec.units` converts GPU-hours).
    ``serve_activations`` / ``serve_kv``: served widths (default: the training widths).
    ``kv_memory`` (context, batch, gqa): ``serve_memory`` also counts the KV cache.
    ``budget_inference=False``: the budget covers training only (a cluster's days)."""
    from precplan.optimize._checks import check_request

    post = None if inference_precision is None else parse_precision(inference_precision).bits
    sa = None if serve_activations is None else parse_precision(serve_activations).bits
    skv = None if serve_kv is None else parse_precision(serve_kv).bits
    check_request(law, has_budget, params, tokens, precision, precisions, continuous, untied, memory, serve_memory, post, inference_tokens, target_loss)
    if gpu is None:
        notes: list[str] = ["cost model: idealized: training C = (6/16) N D P in 16-bit-equivalent FLOPs (Kumar et al. 2024, sec. 4.3); give `gpu` to price a GPU's native formats"]
    else:
        notes = gpu.notes(serving=bool(inference_tokens))
    lo, hi = bits_range or DEFAULT_RANGE
    formats = None
    chosen: list[Precision] | None = None
    if gpu is not None and law.has_precision:
        if precision is None and precisions is None and bits_range is None:
            precisions = [f.precision for f in gpu.device.training_formats()]
            notes.append(f"candidates: the {gpu.name}'s native training formats ({', '.join(p.name for p in precisions)}), each priced at its training speedup over bf16 (see the cost model)")
        for p in [parse_precision(x) for x in ([precision] if precision is not None else list(precisions or ()))]:
            if is_named_format(p):
                gpu.device.format_for(p)  # a named format the GPU lacks is an error
    if not law.has_precision:
        groups: list[tuple[Law, Array]] = [(law, np.array([[16.0, 16.0, 16.0]]))]
        notes.append(f"law {law.id} has no precision terms: planned at 16 bits only (compose with `law` kumar2024 `base` {law.base_id} for other precisions)")
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
    notes += memory_notes(memory, serve_memory, post, kv_memory)
    if post is not None:
        notes.append(f"inference at {post:g} bits: the loss includes the post-training-quantization degradation (Kumar et al. 2024, eqs. 2, 8-9)")
    if inference_tokens:
        notes.append(
            "inference FLOPs (2/16) N T P_serve for the tokens served (Sardana et al. 2024's 2 N T, bit-scaled like training),"
            " with a served token paid at its widest operand: P_serve = max(P_serve_weights, P_activations, P_kv)"
            + ("; PTQ quantizes the weights only: activations and the KV cache serve at their training precision unless"
               " `serve_activations` / `serve_kv` set them" if post is not None and (sa is None or skv is None) else "")
        )
    if sa is not None or skv is not None:
        notes.append("`serve_activations` / `serve_kv` change serving cost and memory only: the law has no term for quantizing activations or the KV cache after training (their loss is not predicted)")
    if gpu is not None and (inference_tokens or serve_memory is not None):
        notes.append(f"KV cache: {SHAPE_RULE}; GQA ratio {gpu.gqa:g}")
    if not budget_inference and inference_tokens and has_budget:
        notes.append("the hardware budget (GPUs x days) covers training only; serving is priced beside it")
    pb = Problem(has_budget, params, tokens, memory, serve_memory, post, float(inference_tokens or 0.0), target_loss,
                 sa, skv, gpu, budget_inference, kv_memory)
    if params is not None and (memory is not None or serve_memory is not None):
        check_fixed_params_fit(params, min(float(c[:, 0].min()) for _, c in groups), memory, serve_memory, post, kv_memory, skv)
    default = MEMORY_COMPARE if pb.mode == "fixed" and params is None else DEFAULT_COMPARE
    rows = compare_rows(law, _family(law, groups), compare, chosen, default)
    if formats is not None and not any(is_named_format(f) for f in formats):
        formats = None
    return Planner(law, pb, tuple(groups), (lo, hi), continuous, untied, rows, gpu, tuple(dict.fromkeys(notes)), formats,
                   tuple(composition_warnings(law)))


def composition_warnings(law: Law) -> list[str]:
    """The warning a composed law carries (``base`` terms from one law, precision terms from another)."""
    if not law.composed_from:
        return []
    p, b = law.composed_from
    return [f"law {law.id}: base terms from {b}, precision terms from {p}. This composition is an"
            " assumption: the precision factors were fit against another base law."]


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
    """The optimal plan for one FLOPs budget by a :class:`~precplan.laws.Law`: the solver alone,
    without :func:`~precplan.optimize.plan`'s meaningful-budget check and intervals.

    Parameters
    ----------
    law : Law
        The law.
    budget : float or str, optional
        16-bit-equivalent FLOPs; None with ``target_loss``, or with ``tokens`` and ``params``/``memory``.
    **options :
        Any keyword of :func:`make_planner`.

    Returns
    -------
    Plan
        With warnings (a meaningless plan is a warning here, not an error).

    Raises
    ------
    PrecplanError
        An inconsistent or unreachable request.

    Examples
    --------
    >>> from precplan import load_law
    >>> round(optimize(load_law("kumar2024"), 1e21).bits.weights)
    7
    """
    b = budget_array(budget)
    if b is not None and b.size > 1:
        raise PrecplanError(f"`budget` gives {b.size} budgets: optimize() takes one (optimize_sweep() takes many)")
    return make_planner(law, has_budget=b is not None, **options).plans(b)[0]


def optimize_sweep(law: Law, budgets: ArrayLike | str, **options) -> Sweep:
    """The plans of many FLOPs budgets by a :class:`~precplan.laws.Law`, vectorized (10,000
    budgets in well under a second): the solver alone, without
    :func:`~precplan.optimize.plan_sweep`'s meaningful-budget check and intervals.

    Parameters
    ----------
    law : Law
        The law.
    budgets : array_like or str
        16-bit-equivalent FLOPs, or a log sweep ``"1e19:1e25:13"``.
    **options :
        Any keyword of :func:`make_planner`.

    Returns
    -------
    Sweep
        Arrays, one entry per budget; index it for a :class:`Plan`.

    Raises
    ------
    PrecplanError
        Budgets that are not positive numbers, or an inconsistent or unreachable request.

    Examples
    --------
    >>> from precplan import load_law
    >>> len(optimize_sweep(load_law("kumar2024"), [1e21, 1e22, 1e23]))
    3
    """
    b = budget_array(budgets)
    if b is None:
        raise PrecplanError("`budgets` must be positive numbers of FLOPs (at least one); none given")
    return make_planner(law, has_budget=True, **options).sweep(b)


def budget_array(budget: object) -> Array | None:
    """``budget`` as a 1-D array of FLOPs, read once: a number, text (``"1e23"``, ``"7e22"``, a
    log sweep ``"1e19:1e25:13"``) or an array of positive numbers; None stays None."""
    from precplan.units import parse_count_or_sweep

    if budget is None:
        return None
    if isinstance(budget, str):
        return parse_count_or_sweep(budget, "`budget`")
    try:
        b = np.atleast_1d(np.asarray(budget, dtype=float)).ravel()
    except (TypeError, ValueError):
        raise PrecplanError(f"`budget` must be positive numbers of FLOPs, e.g. 1e23 or [1e21, 1e23]; got {budget!r}") from None
    bad = ~(np.isfinite(b) & (b > 0))
    if b.size == 0 or bad.any():
        what = "none given" if b.size == 0 else f"budget {int(np.argmax(bad))} is {float(b[np.argmax(bad)])!r}"
        raise PrecplanError(f"`budget` must be positive numbers of FLOPs (at least one); {what}")
    return b
