"""Plans for many budgets as columns: :class:`Sweep`.

:meth:`precplan.optimize.Planner.sweep` solves every budget at once and keeps the answer as
arrays (one entry per budget): N*, D*, bits, loss, costs, the loss decomposition, the
comparison rows, the memory-limit flags. Nothing is built per budget until asked for:

- ``sweep.params``, ``sweep.loss``, ... are the arrays (the command line's CSV and columnar
  JSON schema is its own, in ``precplan.cli``);
- ``sweep[i]`` / ``for plan in sweep`` build the full :class:`~precplan.optimize.Plan` of one
  budget (a single plan is ``sweep[0]`` of a one-budget sweep: one code path);
- :attr:`Sweep.notes` and :meth:`Sweep.warnings` cover the whole sweep once (a note that
  holds for some budgets says for how many), where each plan repeats its own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from precplan.costs import GpuCost
from precplan.laws import extrapolation_lead, plausibility_warnings
from precplan.laws import Decomposition, Law
from precplan.optimize._compare import Compared, alternatives_at
from precplan.optimize._explain import sweep_verdict
from precplan.optimize._limits import meaningless_warnings
from precplan.optimize._result import Plan, Reference, Shift
from precplan.precision import OPERAND_LABEL, OPERANDS, Bits

__all__ = [
    "LEAD_TAIL", "MEMORY_BINDS", "PTQ_STOP", "TOKENS_FIXED", "ReferenceColumns", "ShiftColumns", "Sweep", "concat",
    "take", "zero_ptq_warning",
]

Array = NDArray[np.float64]

MEMORY_BINDS = "the memory limit binds: N is the largest model that fits"
TOKENS_FIXED = "with `tokens` fixed, {plans} only {share} of {their} budget"
PTQ_STOP = ("more tokens would raise the loss after post-training quantization (its degradation grows like"
            " D^gamma_D, Kumar et al. 2024, eq. 2) and N cannot grow: {plans} only {share} of {their} budget,"
            " stopping at the post-PTQ optimum")
LEAD_TAIL = "it is what the formula gives so far from its data, not a recommendation"


@dataclass(frozen=True, eq=False)  # arrays: compare fields, not objects
class ShiftColumns:
    """Per budget: the optimum when post-training quantization is ignored (:class:`Shift`)."""

    params: Array
    tokens: Array
    bits: Array  # (n, 3)
    loss_before_ptq: Array
    loss_after_ptq: Array


@dataclass(frozen=True, eq=False)  # arrays: compare fields, not objects
class ReferenceColumns:
    """Per budget: the training-optimal plan at the same loss (:class:`Reference`); GPU-hours
    are ``None`` without a GPU."""

    params: Array
    tokens: Array
    bits: Array  # (n, 3)
    train_flops: Array
    inference_flops: Array
    saved_fraction: Array
    star_flops: Array  # the plan's own lifetime FLOPs (saved_flops = total - star)
    train_gpu_hours: Array | None = None
    inference_gpu_hours: Array | None = None
    saved_gpu_hours: Array | None = None

    def at(self, i: int) -> Reference:
        N, D = float(self.params[i]), float(self.tokens[i])
        total = float(self.train_flops[i] + self.inference_flops[i])
        hours = self.train_gpu_hours is not None
        h = lambda a: float(a[i]) if hours else None  # noqa: E731
        return Reference(
            N, D, D / N, _bits(self.bits[i]), float(self.train_flops[i]), float(self.inference_flops[i]), total,
            total - float(self.star_flops[i]), float(self.saved_fraction[i]),
            h(self.train_gpu_hours), h(self.inference_gpu_hours),
            float(self.train_gpu_hours[i] + self.inference_gpu_hours[i]) if hours else None, h(self.saved_gpu_hours),
        )


@dataclass(frozen=True, eq=False)  # arrays: compare fields, not objects
class Sweep:
    """The optimal plans for an array of budgets, one entry per budget in every array.

    Index it (``sweep[i]``) or iterate for :class:`~precplan.optimize.Plan` objects; use the
    arrays, :attr:`notes` and :attr:`warnings` for the sweep as a whole (the command line names
    and orders the arrays as its CSV columns: ``precplan.cli._optimize_columns``)."""

    law: str  # the requested law
    mode: str
    target_loss: float | None
    inference_precision: float | None
    inference_tokens: float
    cost_model: str
    budget: Array | None  # None: one plan without a budget (target loss, or fixed size and tokens)
    params: Array
    tokens: Array
    loss: Array
    bits: Array  # (n, 3): weights, activations, kv
    group: NDArray[np.int64]  # which law variant predicts each plan (index into ``variants``)
    variants: tuple[Law, ...]
    family: Law  # the variant whose fit range the sweep's warnings use
    formats: tuple[str, ...] | None  # candidate format names (a list of formats was given)
    index: NDArray[np.int64]  # the chosen candidate per budget (into ``formats``)
    cost_bits: Array
    serve_bits: Array
    train_flops: Array
    inference_flops: Array
    weights_memory_bytes: Array
    serve_memory_bytes: Array
    decomposition: Decomposition  # fields are arrays
    compared: tuple[Compared, ...]
    star_label: str
    without_ptq: ShiftColumns | None
    reference: ReferenceColumns | None
    gpu_cost: tuple[GpuCost, ...] | None
    gpu: str | None
    gpus: int | None
    budget_gpu_hours: Array | None
    kv_cache_bytes: Array | None
    binds: NDArray[np.bool_]  # the memory limit caps N
    spent: Array  # fraction of the budget spent (NaN without a budget)
    edge: NDArray[np.int8]  # weight bits at the search range's bottom (-1) or top (+1)
    bits_range: tuple[float, float]
    zero_ptq: NDArray[np.bool_]  # untied plans whose PTQ term eq. 9 cancels
    assumed: tuple[str, ...]
    shared_notes: tuple[str, ...]  # the planner's notes, true of every plan
    underspend: str | None = None  # why a plan may leave budget unspent (a template: share, plans, their)
    extra_notes: tuple[tuple[str, ...], ...] | None = None  # per plan (GPU notes), None without a GPU
    uncertainty: tuple[dict | None, ...] | None = None  # per plan, from precplan.optimize._uncertainty
    uncertainty_notes: tuple[tuple[str, ...], ...] | None = None
    law_warnings: tuple[str, ...] = ()  # about the law itself (a composition): first in every plan's warnings
    star_cost: Array | None = None  # the plan's lifetime cost in the comparison rows' units (cost-model units: bf16-rate FLOPs on a GPU)

    # ------------------------------------------------------------------ arrays
    @property
    def verdict(self) -> str:
        """The sweep in one sentence: how N*, D* and D/N move, plans outside real practice, and
        how far to trust the furthest-extrapolated plan (:func:`precplan.optimize._explain.sweep_verdict`)."""
        return sweep_verdict(self.family, self.params, self.tokens, self.budget)

    @property
    def count(self) -> int:
        return int(self.params.shape[0])

    @property
    def tokens_per_param(self) -> Array:
        return self.tokens / self.params

    @property
    def total_flops(self) -> Array:
        return self.train_flops + self.inference_flops

    @property
    def law_ids(self) -> list[str]:
        """The law variant predicting each plan."""
        ids = [v.id for v in self.variants]
        return [ids[g] for g in self.group.tolist()]

    @property
    def gpu_hours(self) -> Array | None:
        return None if self.gpu_cost is None else np.array([g.total_gpu_hours for g in self.gpu_cost])

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Plan]:
        return (self.plan(i) for i in range(self.count))

    def __getitem__(self, i: "int | slice | Sequence[int] | NDArray[np.integer]") -> "Plan | Sweep":
        """``sweep[i]``: budget i's :class:`Plan`; ``sweep[a:b]`` or ``sweep[[i, j]]``: a Sweep of those budgets."""
        if isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            if not -self.count <= i < self.count:
                raise IndexError(f"plan {i} of a sweep of {self.count} (valid: {-self.count}..{self.count - 1})")
            return self.plan(int(i) % self.count)
        idx = np.arange(self.count)[i] if isinstance(i, slice) else np.asarray(i)
        if idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise TypeError(f"index a sweep with an integer, a slice or a list of integers, not {i!r}")
        return take(self, idx)

    def __repr__(self) -> str:
        span = "" if self.budget is None else f", budgets {self.budget.min():.3g}..{self.budget.max():.3g}"
        return f"<Sweep of {self.count} plans by {self.family.id} ({self.mode}{span})>"

    # ------------------------------------------------------------------ one plan
    def plan(self, i: int) -> Plan:
        """The full plan of budget ``i``, with its own notes and warnings."""
        law = self.variants[int(self.group[i])]
        N, D, loss = float(self.params[i]), float(self.tokens[i]), float(self.loss[i])
        bits = _bits(self.bits[i])
        d = self.decomposition
        fmt = None if self.formats is None else self.formats[int(self.index[i])]
        g = None if self.gpu_cost is None else self.gpu_cost[i]
        warnings = law.extrapolation_warnings(N, D, list(self.bits[i]) if law.has_precision else None)
        warnings += meaningless_warnings(N, loss)
        if self.zero_ptq[i]:
            warnings.append(zero_ptq_warning(self.bits[i], float(self.inference_precision)))
        lead = extrapolation_lead(self.family, N, D)
        warnings = ([f"{lead} this plan is optimal; {LEAD_TAIL}"] if lead else []) + warnings + plausibility_warnings(N, D, None)
        notes = list(self.shared_notes) + self.binding_notes(i) + (list(self.extra_notes[i]) if self.extra_notes else [])
        if self.uncertainty_notes is not None:
            notes += list(self.uncertainty_notes[i])
        ws = self.without_ptq
        return Plan(
            law=law.id, mode=self.mode, budget=None if self.budget is None else float(self.budget[i]),
            target_loss=self.target_loss, params=N, tokens=D, tokens_per_param=D / N, loss=loss, bits=bits, format=fmt,
            cost_bits=float(self.cost_bits[i]), inference_precision=self.inference_precision, serve_bits=float(self.serve_bits[i]),
            inference_tokens=self.inference_tokens, train_flops=float(self.train_flops[i]),
            inference_flops=float(self.inference_flops[i]), total_flops=float(self.train_flops[i] + self.inference_flops[i]),
            weights_memory_bytes=float(self.weights_memory_bytes[i]), serve_memory_bytes=float(self.serve_memory_bytes[i]),
            decomposition=Decomposition(*(float(getattr(d, f)[i]) for f in _DECOMPOSITION)),
            comparison=alternatives_at(self.compared, i, self.star_label, law.id, bits, N, D, loss,
                                       float((self.total_flops if self.star_cost is None else self.star_cost)[i]),
                                       self.mode == "target-loss"),
            without_ptq=None if ws is None else Shift(
                float(ws.params[i]), float(ws.tokens[i]), float(ws.tokens[i] / ws.params[i]), _bits(ws.bits[i]),
                float(ws.loss_before_ptq[i]), float(ws.loss_after_ptq[i])),
            reference=None if self.reference is None else self.reference.at(i),
            cost_model=self.cost_model,
            train_format=g.train_format if g else fmt, emulated=bool(g.emulated) if g else False,
            serve_format=g.serve_format if g else None,
            kv_cache_bytes=None if self.kv_cache_bytes is None else float(self.kv_cache_bytes[i]),
            gpu=self.gpu, gpus=self.gpus, gpu_hours=g.total_gpu_hours if g else None, wall_days=g.wall_days if g else None,
            dollars=g.total_dollars if g else None,
            budget_gpu_hours=None if self.budget_gpu_hours is None else float(self.budget_gpu_hours[i]),
            gpu_cost=g, assumed=list(self.assumed), warnings=list(self.law_warnings) + warnings, notes=notes,
            uncertainty=None if self.uncertainty is None else self.uncertainty[i],
        )

    def binding_notes(self, i: int) -> list[str]:
        """When a memory limit caps plan ``i``'s model (and leaves budget unspent), and when its
        weight bits sit at the edge of the searched range."""
        notes = []
        if self.binds[i]:
            notes.append(MEMORY_BINDS)
        if self.underspend and self.spent[i] < 1 - 1e-9:
            notes.append(self.underspend.format(share=f"{self.spent[i]:.1%}", plans="the plan spends", their="the"))
        if self.edge[i]:
            notes.append(_edge_note("bottom" if self.edge[i] < 0 else "top", self.bits_range))
        return notes

    # ------------------------------------------------------------------ the sweep as a whole
    @property
    def notes(self) -> list[str]:
        """Notes for the whole sweep, each once: what every plan rests on, and how many plans a
        memory limit or the search range's edge touches."""
        n = self.count
        notes = list(self.shared_notes)
        where = lambda mask: _where(mask, self.budget)  # noqa: E731
        if self.binds.all():
            notes.append(MEMORY_BINDS)
        elif self.binds.any():
            notes.append(f"{MEMORY_BINDS} ({int(self.binds.sum())} of {n} plans{where(self.binds)})")
        under = self.spent < 1 - 1e-9
        if self.underspend and under.any():
            lo, hi = float(self.spent[under].min()), float(self.spent[under].max())
            share = f"{lo:.1%}" if lo == hi else f"{lo:.1%}..{hi:.1%}"
            notes.append(self.underspend.format(share=share, plans=f"{int(under.sum())} of {n} plans{where(under)} spend", their="their"))
        for side, mask in (("bottom", self.edge < 0), ("top", self.edge > 0)):
            if mask.any():
                count = "" if mask.all() else f" ({int(mask.sum())} of {n} plans{where(mask)})"
                notes.append(_edge_note(side, self.bits_range) + count)
        for group in (self.extra_notes or ()) + (self.uncertainty_notes or ()):
            notes += group
        return list(dict.fromkeys(notes))

    @property
    def warnings(self) -> list[str]:
        """Warnings for the whole sweep, one line per concern: how far it extrapolates (the worst
        budget counts), implausible or meaningless plans, PTQ terms that eq. 9 cancels."""
        N, D = self.params, self.tokens
        bits = self.bits if self.family.has_precision else None
        out = list(self.law_warnings)
        lead = extrapolation_lead(self.family, N, D)
        if lead:
            out.append(f"{lead} these plans are optimal; {LEAD_TAIL}")
        out += self.family.extrapolation_warnings(N, D, bits) + meaningless_warnings(N, self.loss, self.budget)
        out += plausibility_warnings(N, D, None, what="the sweep")
        if self.zero_ptq.any():
            first = int(np.argmax(self.zero_ptq))
            count = "" if self.count == 1 else f" ({int(self.zero_ptq.sum())} of {self.count} plans{_where(self.zero_ptq, self.budget)})"
            out.append(zero_ptq_warning(self.bits[first], float(self.inference_precision)) + count)
        return list(dict.fromkeys(out))

    def with_uncertainty(self, per_plan: list[dict | None], notes: list[list[str]]) -> "Sweep":
        """This sweep with intervals (and their notes) attached per plan."""
        return replace(self, uncertainty=tuple(per_plan), uncertainty_notes=tuple(tuple(n) for n in notes))


def concat(parts: list[Sweep]) -> Sweep:
    """Sweeps of consecutive budget chunks, one after the other, as one sweep."""
    if len(parts) == 1:
        return parts[0]
    return _per_plan(parts, np.concatenate, lambda vs: tuple(x for v in vs for x in v))


def take(sweep: Sweep, idx: NDArray[np.integer]) -> Sweep:
    """The plans ``idx`` of ``sweep``, as a sweep."""
    return _per_plan([sweep], lambda vs: vs[0][idx], lambda vs: tuple(vs[0][k] for k in idx.tolist()))


def _per_plan(parts: list[Sweep], arrays: Callable[[list[Any]], Any], items: Callable[[list[tuple]], tuple]) -> Sweep:
    """The first sweep with every per-plan field rebuilt from all ``parts``: ``arrays`` combines
    arrays (also inside the column-set dataclasses), ``items`` per-plan tuples."""
    def combine(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, np.ndarray):
            return arrays(values)
        if isinstance(first, tuple):  # the compared rows: one column set each
            return tuple(combine([v[j] for v in values]) for j in range(len(first)))
        return replace(first, **{f.name: arrays([getattr(v, f.name) for v in values])
                                 for f in fields(first) if isinstance(getattr(first, f.name), np.ndarray)})

    out = {}
    for name in _PER_PLAN:
        values = [getattr(p, name) for p in parts]
        if values[0] is not None:
            out[name] = items(values) if isinstance(values[0], tuple) and name != "compared" else combine(values)
    return replace(parts[0], **out)


# fields with one entry per plan (combined by :func:`concat` and :func:`take`); the rest describe the sweep
_PER_PLAN = (
    "budget", "params", "tokens", "loss", "bits", "group", "index", "cost_bits", "serve_bits", "train_flops", "inference_flops",
    "weights_memory_bytes", "serve_memory_bytes", "decomposition", "compared", "without_ptq", "reference", "gpu_cost",
    "budget_gpu_hours", "kv_cache_bytes", "binds", "spent", "edge", "zero_ptq", "extra_notes", "uncertainty", "uncertainty_notes",
    "star_cost",
)

_DECOMPOSITION = ("irreducible", "param_term", "data_term", "ptq_degradation", "effective_params", "effective_fraction")


def _bits(row: Array) -> Bits:
    return Bits(float(row[0]), float(row[1]), float(row[2]))


def _where(mask: NDArray[np.bool_], budget: Array | None) -> str:
    """`` at budgets 1e21..1e23`` for the plans ``mask`` selects (empty without budgets)."""
    if budget is None:
        return ""
    b = budget[mask]
    return f" at budget {b.min():.3g}" if b.min() == b.max() else f" at budgets {b.min():.3g}..{b.max():.3g}"


def _edge_note(side: str, bits_range: tuple[float, float]) -> str:
    lo, hi = bits_range
    wider = f"{max(lo - 1, 1):g}:{hi:g}" if side == "bottom" else f"{lo:g}:{max(32, hi + 1):g}"
    return f"the chosen weight precision is at the {side} of the search range {lo:g}..{hi:g} bits: widen `precisions` (e.g. {wider}) to look further"


def zero_ptq_warning(bits: Array, post: float) -> str:
    """Why an untied plan has no PTQ degradation, and what that rests on."""
    low = [f"{OPERAND_LABEL[op]} ({b:g} bits)" for op, b in zip(OPERANDS, bits) if b <= post]
    verb = "trains" if len(low) == 1 else "train"
    return (
        f"the PTQ degradation is zero because {' and '.join(low)} {verb} at or below the inference precision"
        f" ({post:g} bits): eq. 9's factor 1 - exp(-C_x (P_x - P_post)) is 0 there (clipped at P_x <= P_post)"
        " whatever C_x is, and eq. 9 multiplies the operands' factors, so one such operand cancels the whole"
        " term, the weights' own quantization loss included. This comes from eq. 9's product form and the"
        " clipping, not from the assumed C values or from data: treat it with caution"
    )
