"""Planning over a GPU's native formats with format-aware laws (and bit-count laws beside them).

For each law and each native training format of the GPU the law can describe (bf16, fp8-e4m3,
fp8-e5m2, mxfp8, mxfp6, mxfp4, nvfp4 ...), the budget buys

    C_f = GPU-seconds x peak_bf16 x MFU x s_f     (raw training FLOPs, 6 N D = C_f)

where s_f is the format's end-to-end training speedup over bf16 (:meth:`precplan.costs.GpuSpec.speedup`:
published measurements by default, not the dense-peak ratio). The format's plan is the N that
minimizes the law's loss L_f(N, C_f / (6 N)) (a log grid over tokens per parameter 1e-2..1e5,
refined by bounded Brent search), and the law's choice is the format with the lowest loss.

A law with separate forward and backward terms (castro2025: eff_N for the forward pass, eff_D
for the backward pass) also plans forward/backward pairs such as mxfp4 forward with fp8
backward. A pair's speedup weighs the passes by their FLOPs: the forward pass is 2 N D of the
6 N D and the backward 4 N D, so 1 / s = (1/3) / s_forward + (2/3) / s_backward.

A bit-count law (kumar2024, kumar2024-fp) describes a named format by its bits per element
including the scale (nvfp4 4.5, mxfp4 4.25): it cannot tell two formats of one width apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from precplan.costs import TRAIN_FLOPS, GpuSpec
from precplan.errors import PrecplanError
from precplan.formats import Format, parse_format
from precplan.laws import MeasuredRun, RunCheck, check_law_against_runs, nearest_runs
from precplan.optimize._verdict import MAX_TOKENS_PER_PARAM, MIN_TOKENS_PER_PARAM

__all__ = ["FormatCandidate", "FormatComparison", "FormatPlan", "FormatRefusal", "MeasuredRow", "optimal_split", "plan_formats", "plans_formats"]

GRID = 801  # log-spaced tokens-per-parameter points before the Brent refinement
RATIO_RANGE = (1e-2, 1e5)  # tokens per parameter searched
FORWARD_SHARE = 1.0 / 3.0  # forward FLOPs 2 N D of 6 N D (Kaplan et al. 2020, sec. 2.1)


@dataclass(frozen=True)
class FormatCandidate:
    """One format (or forward/backward pair) a law planned on the GPU: its speedup over bf16, the
    raw training FLOPs the budget buys in it, and its optimal N, D and loss."""

    name: str  # "nvfp4", or "mxfp4 fwd + fp8-e4m3 bwd"
    forward: str
    backward: str
    hardware: tuple[str, ...]  # the catalog formats it runs in (forward, backward)
    bits_per_element: float  # of the forward format, scale included
    speedup: float
    flops: float
    params: float
    tokens: float
    loss: float
    chosen: bool = False


@dataclass(frozen=True)
class FormatRefusal:
    """A native format a law cannot describe, and why (one line)."""

    format: str
    reason: str


@dataclass(frozen=True)
class FormatPlan:
    """A law's best format on the GPU under the budget, with every candidate, the refused
    formats, and the measured real runs nearest the plan (with the law's prediction at each)."""

    law: str
    gpu: str
    format: str
    forward: str
    backward: str
    params: float
    tokens: float
    tokens_per_param: float
    loss: float
    baseline_loss: float  # bf16 at the same N and D, by the same law
    relative_gap: float  # (loss - baseline_loss) / baseline_loss
    speedup: float
    flops: float
    gpu_hours: float
    wall_days: float | None
    gpus: int | None
    candidates: tuple[FormatCandidate, ...]
    refused: tuple[FormatRefusal, ...]
    nearest_runs: tuple[MeasuredRun, ...]
    run_checks: tuple[RunCheck, ...]
    misses_measured: bool  # the law misses every nearest measured run it can predict
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MeasuredRow:
    """A measured run near the plans, with each law's predicted relative gap for it (None where
    the law cannot describe the run's format), laws in the order of the plans."""

    run: MeasuredRun
    predicted: tuple[float | None, ...]


@dataclass(frozen=True)
class FormatComparison:
    """The plans of several laws on one GPU and budget, and whether they agree; ``measured``
    holds the runs nearest any plan with every law's prediction for each."""

    plans: tuple[FormatPlan, ...]
    agree: bool
    all_miss: bool  # every law misses the measured runs nearest its plan
    verdict: str
    measured: tuple[MeasuredRow, ...] = ()
    notes: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------------------- candidates
def _named(spec: GpuSpec) -> list[tuple[Format, str]]:
    """The GPU's native training formats as named formats, with the catalog format each runs in."""
    from precplan.hardware import NAMED_FORMATS

    dev = spec.device
    out = []
    for key, names in NAMED_FORMATS.items():
        f = dev.formats.get(key)
        if f is None or not f.native or (key == "fp16" and "bf16" in dev.formats):
            continue
        out += [(parse_format(n), key) for n in names]
    return out


def _loss_fn(law: Any, fwd: Format, bwd: Format) -> Callable[[Any, Any], Any]:
    """L(N, D) for training in ``fwd``/``bwd``; raises PrecplanError if the law cannot describe it."""
    if getattr(law, "is_format_law", False):
        law.check_format(fwd)
        law.check_format(bwd)
        if fwd.name != bwd.name and not law.separates_passes:
            raise PrecplanError(f"law {law.id} takes one format for both passes")
        return lambda N, D: law.loss_split(N, D, fwd, bwd)
    from precplan.laws import law_for_weights
    from precplan.precision import parse_precision

    if fwd.name != bwd.name:
        raise PrecplanError(f"law {law.id} takes one format for both passes")
    p = parse_precision(fwd.name)
    variant, _ = law_for_weights(law, p)
    bits = p.bits
    variant.check_domain(1e9, 1e11, bits, bits, bits)
    return lambda N, D: variant.loss(N, D, bits, bits, bits)


def _candidates(law: Any, spec: GpuSpec) -> tuple[list[tuple[str, Format, Format, tuple[str, ...], float, Callable]], list[FormatRefusal]]:
    named = _named(spec)
    ok, refused = [], []
    for fmt, key in named:
        try:
            fn = _loss_fn(law, fmt, fmt)
        except PrecplanError as exc:
            refused.append(FormatRefusal(fmt.name, str(exc)))
            continue
        ok.append((fmt.name, fmt, fmt, (key,), spec.speedup(key), fn))
    if getattr(law, "separates_passes", False):
        described = [(f, k) for f, k in named if not any(r.format == f.name for r in refused)]
        narrow = [(f, k) for f, k in described if f.bits == 4]
        wide = [(f, k) for f, k in described if f.name in ("fp8-e4m3", "bf16")]
        for (a, ka), (b, kb) in [(n, w) for n in narrow for w in wide] + [(w, n) for n in narrow for w in wide]:
            s = 1.0 / (FORWARD_SHARE / spec.speedup(ka) + (1.0 - FORWARD_SHARE) / spec.speedup(kb))
            ok.append((f"{a.name} fwd + {b.name} bwd", a, b, (ka, kb), s, _loss_fn(law, a, b)))
    return ok, refused


# ---------------------------------------------------------------------------- the optimum
def optimal_split(loss: Callable[[Any, Any], Any], flops: float) -> tuple[float, float, float, bool]:
    """(N, D, loss, at_edge): the N minimizing ``loss(N, flops / (6 N))`` over tokens per parameter
    1e-2..1e5 (log grid, then bounded Brent search in log N between the grid neighbours)."""
    from scipy.optimize import minimize_scalar

    r = np.geomspace(*RATIO_RANGE, GRID)
    N = np.sqrt(flops / (TRAIN_FLOPS * r))
    L = np.asarray(loss(N, flops / (TRAIN_FLOPS * N)), dtype=float)
    L = np.where(np.isfinite(L), L, np.inf)
    i = int(np.argmin(L))
    if not np.isfinite(L[i]):
        raise PrecplanError("no finite loss anywhere on the search grid")
    x = np.log(N)
    lo, hi = x[min(i + 1, GRID - 1)], x[max(i - 1, 0)]  # N falls as r rises
    f = lambda t: float(loss(math.exp(t), flops / (TRAIN_FLOPS * math.exp(t))))  # noqa: E731
    res = minimize_scalar(f, bounds=(min(lo, hi), max(lo, hi)), method="bounded", options={"xatol": 1e-10})
    n_best, l_best = (math.exp(res.x), float(res.fun)) if res.fun <= L[i] else (float(N[i]), float(L[i]))
    return n_best, flops / (TRAIN_FLOPS * n_best), l_best, i in (0, GRID - 1)


# ---------------------------------------------------------------------------- one law
def _budget_hours(spec: GpuSpec, budget: float | None, hours: float | None) -> float:
    if hours is not None:
        return hours
    if budget is None:
        raise PrecplanError("planning formats needs a budget: `budget` (bf16 FLOPs), `gpus` and `days`, `gpu_hours` or `dollars`")
    return budget / spec.units_per_second / 3600.0


def _plan_one(law: Any, spec: GpuSpec, gpu_hours: float, runs: int) -> FormatPlan:
    cands, refused = _candidates(law, spec)
    if not cands:
        raise PrecplanError(f"law {law.id} can describe none of {spec.device.id}'s native formats: " + "; ".join(r.reason for r in refused[:2]))
    units = spec.units(gpu_hours)
    solved = []
    edge = []
    for name, a, b, hw, s, fn in cands:
        n, d, loss, at_edge = optimal_split(fn, float(units * s))
        if at_edge:
            edge.append(name)
        solved.append(FormatCandidate(name, a.name, b.name, hw, a.bits_per_element, float(s), float(units * s), n, d, loss))
    best = min(range(len(solved)), key=lambda i: solved[i].loss)
    solved[best] = replace(solved[best], chosen=True)
    c = solved[best]
    bf16 = parse_format("bf16")
    base = float(_loss_fn(law, bf16, bf16)(c.params, c.tokens))
    fwd = parse_format(c.forward)
    near = tuple(nearest_runs(c.params, c.tokens, None if fwd.is_high_precision else fwd.name, count=runs)) if runs else ()
    by_id = {k.run.id: k for k in check_law_against_runs(law)}
    checks = tuple(by_id[r.id] for r in near if r.id in by_id)
    judged = [k for k in checks if k.consistent is not None]
    misses = bool(judged) and not any(k.consistent for k in judged)
    warnings = list(_range_warnings(law, c.params, c.tokens))
    if getattr(law, "form", None) == "sun2025" and not fwd.is_high_precision:
        d_crit = float(law.critical_data_size(c.params, fwd.exponent_bits, fwd.mantissa_bits, law.log2_block(fwd)))
        if c.tokens > d_crit:
            warnings.append(f"{c.tokens:.3g} tokens lie past {law.id}'s critical data size for {fwd.name} at this N ({d_crit:.3g},"
                            " eq. 21), where the law predicts more data raises the loss; the real 12B NVFP4 run to 10T tokens"
                            " showed no such rise")
    if edge:
        warnings.append(f"{', '.join(edge)}: the optimum lies at the edge of the searched tokens per parameter"
                        f" ({RATIO_RANGE[0]:g}-{RATIO_RANGE[1]:g}); the law has no interior optimum there")
    if misses:
        warnings.append(f"{law.id} misses every measured run nearest this plan ("
                        + "; ".join(f"{k.run.id}: predicts {k.predicted:.2%}, measured {k.run.describe_gap()}" for k in judged) + ")")
    notes = []
    if not getattr(law, "is_format_law", False):
        notes.append(f"{law.id} is a bit-count law: a named format is read as its bits per element, scale included"
                     " (nvfp4 4.5, mxfp4 4.25); formats of one width are not told apart")
    wall = None if spec.gpus is None else gpu_hours / spec.gpus / 24.0
    return FormatPlan(
        law=law.id, gpu=spec.device.id, format=c.name, forward=c.forward, backward=c.backward, params=c.params,
        tokens=c.tokens, tokens_per_param=c.tokens / c.params, loss=c.loss, baseline_loss=base,
        relative_gap=(c.loss - base) / base, speedup=c.speedup, flops=c.flops, gpu_hours=float(gpu_hours), wall_days=wall,
        gpus=spec.gpus, candidates=tuple(solved), refused=tuple(refused), nearest_runs=near, run_checks=checks,
        misses_measured=misses, warnings=tuple(warnings), notes=tuple(notes),
    )


def _range_warnings(law: Any, N: float, D: float) -> list[str]:
    try:
        return list(law.extrapolation_warnings(N, D))
    except (PrecplanError, TypeError):
        return []


# ---------------------------------------------------------------------------- the front door
def plans_formats(laws: Sequence[Any]) -> bool:
    """Whether ``laws`` (names, files or laws) call for format planning: any format-aware law."""
    from precplan.laws import load_law

    return any(getattr(load_law(x) if isinstance(x, str) else x, "is_format_law", False) for x in laws)


def plan_formats(laws: Sequence[Any] | str, budget: float | str | None = None, *, gpu: str | GpuSpec | None = None, gpus: int | str | None = None,
                 days: float | str | None = None, hours: float | str | None = None, gpu_hours: float | str | None = None,
                 dollars: float | str | None = None, price: float | str | None = None, mfu: float | str | None = None,
                 format_speedup: str | dict | None = None, hardware: str | None = None, runs: int = 3) -> FormatComparison:
    """Each law's best native training format on one GPU under one budget, side by side with the
    measured real low-precision runs nearest each plan.

    Parameters
    ----------
    laws : sequence of str or law, or str
        Laws (``"sun2025,castro2025,kumar2024-fp"`` or a list); format-aware laws plan over named
        formats, bit-count laws over the same formats read as bits per element.
    budget : float or str, optional
        Training compute in bf16 FLOPs at the bf16 MFU (instead of a hardware budget).
    gpu : str or GpuSpec
        One GPU (``"b200"``): its native formats are the candidates.
    gpus, days, hours, gpu_hours, dollars, price, mfu, hardware :
        As in :func:`precplan.optimize.plan`.
    format_speedup : str or mapping, optional
        End-to-end training speedup over bf16 per catalog format (``"fp8=1.3,nvfp4=1.8"`` or
        ``"peak"``); default :data:`precplan.costs.FORMAT_SPEEDUP`.
    runs : int
        Measured runs to list beside each plan (nearest in log N, log D; same format first).

    Returns
    -------
    FormatComparison
        ``plans`` (one :class:`FormatPlan` per law, in order), ``agree``, ``all_miss`` and the
        ``verdict`` line.

    Raises
    ------
    PrecplanError
        No GPU or several, no budget or two, an unknown law or one listed twice, a law that can
        describe none of the GPU's formats.

    Example
    -------
    >>> c = plan_formats("sun2025", gpu="b200", gpus=1024, days=60)
    >>> any(k.name == "nvfp4" for k in c.plans[0].candidates)
    True
    """
    from precplan.laws import load_law
    from precplan.optimize._hardware import hardware_request
    from precplan.optimize._planner import budget_array

    names = [t.strip() for t in laws.split(",") if t.strip()] if isinstance(laws, str) else list(laws)
    if not names:
        raise PrecplanError("`laws`: an empty list; give laws such as ['sun2025', 'castro2025']")
    loaded = [load_law(x) if isinstance(x, str) else x for x in names]
    ids = [x.id for x in loaded]
    if len(set(ids)) != len(ids):
        raise PrecplanError(f"`law` lists {next(i for i in ids if ids.count(i) > 1)!r} twice")
    if gpu is None:
        named = next((x.id for x in loaded if getattr(x, "is_format_law", False)), ids[0])
        raise PrecplanError(f"law {named} is format-aware: it plans over a GPU's native formats (nvfp4, mxfp4, fp8...);"
                            " give `gpu` (e.g. `gpu` b200) with a budget")
    b = budget_array(budget)
    if b is not None and b.size != 1:
        raise PrecplanError("planning formats takes one `budget` (not a sweep)")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 0:
        raise PrecplanError(f"`runs` must be a whole number >= 0 (measured runs to list), got {runs!r}")
    hw = hardware_request(gpu, gpus=gpus, days=days, hours=hours, gpu_hours=gpu_hours, dollars=dollars, price=price, mfu=mfu,
                          hardware=hardware, budget_given=b is not None, format_speedup=format_speedup)
    if len(hw.specs) != 1:
        raise PrecplanError("planning formats compares laws on one `gpu`; give one GPU")
    spec = hw.specs[0]
    h = _budget_hours(spec, None if b is None else float(b[0]), None if hw.hours is None else hw.hours[0])
    plans = tuple(_plan_one(law, spec, h, runs) for law in loaded)
    return _compare(plans, spec, loaded)


def _measured(plans: tuple[FormatPlan, ...], laws: Sequence[Any]) -> tuple[MeasuredRow, ...]:
    seen = list(dict.fromkeys(r.id for p in plans for r in p.nearest_runs))
    checks = [{k.run.id: k.predicted for k in check_law_against_runs(law)} for law in laws]
    runs = {r.id: r for p in plans for r in p.nearest_runs}
    return tuple(MeasuredRow(runs[i], tuple(c.get(i) for c in checks)) for i in seen)


def _compare(plans: tuple[FormatPlan, ...], spec: GpuSpec, laws: Sequence[Any]) -> FormatComparison:
    choices = [p.format for p in plans]
    agree = len(set(choices)) == 1
    judged = [p for p in plans if any(k.consistent is not None for k in p.run_checks)]
    all_miss = bool(judged) and len(judged) == len(plans) and all(p.misses_measured for p in plans)
    if len(plans) == 1:
        words = f"{plans[0].law} trains in {choices[0]}"
    elif agree:
        words = f"the laws agree: all {len(plans)} train in {choices[0]}"
    else:
        words = "the laws disagree: " + ", ".join(f"{p.law} {p.format}" for p in plans)
    if all_miss:
        words += "; every law misses the measured runs nearest its plan, so none is borne out in this regime"
    elif any(p.misses_measured for p in plans):
        missing = [p.law for p in plans if p.misses_measured]
        words += "; " + ", ".join(missing) + (" misses" if len(missing) == 1 else " miss") + " the nearest measured runs"
    some = [(p.law, [k.run.id for k in p.run_checks if k.consistent is False]) for p in plans if not p.misses_measured]
    some = [(law, ids) for law, ids in some if ids]
    if some and not all_miss:
        words += "; " + "; ".join(f"{law} misses {', '.join(ids)}" for law, ids in some)
    odd = [p for p in plans if not MIN_TOKENS_PER_PARAM <= p.tokens_per_param <= MAX_TOKENS_PER_PARAM]
    if odd:  # the envelope of real practice (optimize._verdict): such a plan is the law's extrapolation
        words += ("; outside real practice (" + ", ".join(f"{p.law} {p.tokens_per_param:.2g}" for p in odd)
                  + f" tokens per parameter; real runs span {MIN_TOKENS_PER_PARAM:g}-{MAX_TOKENS_PER_PARAM:,.0f}):"
                  " read the size as the law's extrapolation, the format choice as its ranking")
    notes = [f"training speedup over bf16 per format: {spec.speedup_words()}"]
    if any(k.forward != k.backward for p in plans for k in p.candidates):
        notes.append(f"a forward/backward pair trains at 1 / ({FORWARD_SHARE:.3g} / s_fwd + {1 - FORWARD_SHARE:.3g} / s_bwd)"
                     " (forward 2 N D, backward 4 N D FLOPs)")
    if len(plans) > 1:
        notes.append("losses compare formats within a law, not across laws (each law was fit on its own data)")
    return FormatComparison(plans, agree, all_miss, words, _measured(plans, laws), tuple(notes))
