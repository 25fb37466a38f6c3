"""The front door of ``optimize``: :func:`plan`, :func:`plan_sweep`, :func:`compare_laws` and
:func:`make_request`, with everything ``precplan optimize`` does.

Arguments come as people write them (numbers or text: ``"7B"``, ``"24GiB"``, ``"fp8"``,
``"h100,b200"``, ``"1e19:1e25:13"``) and are read once, here: the budget is normalized once
(FLOPs; or a hardware budget, GPUs x days, GPU-hours or dollars, as GPU-hours on each GPU,
turned once into the planner's units and kept as given for the plan), as
:func:`scipy.optimize.minimize` normalizes its arguments once before any solver runs. Errors
name the arguments (```budget```, ```target_loss```); the command line maps them to its flags.

What every answer gets, as the command line shows it: the meaningful-budget check (a budget
too small for any model the law describes is an error naming the smallest meaningful one,
:mod:`precplan.optimize._limits`), intervals over the law's coefficient samples when it has
them (:mod:`precplan.optimize._uncertainty`), and each plan's warnings and notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.costs import GpuSpec
from precplan.errors import PrecplanError
from precplan.laws import Law
from precplan.optimize._checks import parse_bits_spec
from precplan.optimize._hardware import gpu_format_names, hardware_request, pick_gpu, real_number, serving_memory
from precplan.optimize._planner import Planner, budget_array, make_planner
from precplan.optimize._result import NotApplicable, Plan
from precplan.optimize._sweep import Sweep
from precplan.precision import Precision

__all__ = ["PlanRequest", "compare_laws", "make_request", "plan", "plan_sweep"]

Array = NDArray[np.float64]
DEFAULT_LEVEL = 0.8


@dataclass(frozen=True)
class PlanRequest:
    """A validated request with its budget normalized: one planner per GPU (one without a GPU),
    each with its budgets in the planner's units and, for a hardware budget, the GPU-hours as given.

    Solve it with :meth:`sweep` (every budget, one GPU) or :meth:`plan` (one budget; across
    several GPUs, the best). :func:`make_request` builds it."""

    law: Law
    planners: tuple[Planner, ...]
    budgets: tuple[Array | None, ...]  # per planner: cost-model units (16-bit-equivalent FLOPs), None without a budget
    gpu_hours: tuple[Array | None, ...]  # per planner: the hardware budget as given (None: none)
    level: float | None  # interval level (None: no intervals)
    options: dict = field(default_factory=dict, compare=False, repr=False)  # the arguments as given (make_request's)

    def __repr__(self) -> str:
        gpus = ", ".join(p.gpu.device.id for p in self.planners if p.gpu is not None)
        n = 0 if self.budgets[0] is None else self.budgets[0].size
        return f"<PlanRequest {self.law.id} ({self.planners[0].problem.mode}, {n} budget(s){', ' + gpus if gpus else ''})>"

    @property
    def planner(self) -> Planner:
        """The planner (with several GPUs, the first; :meth:`planner_for` finds a plan's)."""
        return self.planners[0]

    def planner_for(self, plan: Plan) -> Planner:
        """The planner that made ``plan`` (with several GPUs, the one of its GPU)."""
        return next((p for p in self.planners if p.gpu is not None and p.gpu.device.id == plan.gpu), self.planners[0])

    def on(self, gpu: str) -> "PlanRequest":
        """This request on one GPU of its list (a catalog id, e.g. a plan's ``gpu``)."""
        keep = [i for i, p in enumerate(self.planners) if p.gpu is not None and p.gpu.device.id == gpu]
        if not keep:
            raise PrecplanError(f"`gpu` {gpu!r} is not one of this request's GPUs")
        pick = lambda xs: tuple(xs[i] for i in keep)  # noqa: E731
        return replace(self, planners=pick(self.planners), budgets=pick(self.budgets), gpu_hours=pick(self.gpu_hours))

    def sweep(self, progress: bool = False) -> Sweep:
        """Every budget's plan (one GPU), checked and with its intervals.

        ``progress``: a progress bar with ETA on stderr (on a terminal) when it takes over a second."""
        if len(self.planners) > 1:
            raise PrecplanError("a sweep plans on one `gpu`: give one GPU (plan() compares GPUs at one budget)")
        return _solve(self.planners[0], self.budgets[0], self.gpu_hours[0], self.level, progress)

    def plan(self, explain: bool = True) -> Plan:
        """The plan of the one budget (or of the budget-free request); with several GPUs, the best
        of them (:func:`~precplan.optimize._hardware.pick_gpu`), listing the others; with its
        verdict and practitioner numbers (:meth:`explain`) unless ``explain=False``."""
        if self.budgets[0] is not None and self.budgets[0].size > 1:
            raise PrecplanError(f"`budget` gives {self.budgets[0].size} budgets: plan() takes one (plan_sweep() takes many)")
        found = [(pl, _solve(pl, b, h, self.level, False)[0]) for pl, b, h in zip(self.planners, self.budgets, self.gpu_hours)]
        best = found[0][1] if len(found) == 1 else pick_gpu(found)[1]
        return self.explain(best) if explain else best

    def explain(self, plan: Plan) -> Plan:
        """``plan`` with its verdict (what to do, how far to trust it), plausibility against real
        practice (with the envelope's edge and the evidence-calibrated plan when outside it),
        training memory per GPU and one serving replica's memory
        (:func:`precplan.optimize._explain.explain`)."""
        from precplan.optimize._explain import explain

        solve = lambda opts: make_request(**{**opts, "level": None}).plan(explain=False)  # noqa: E731
        return explain(plan, self.options, solve, self.planner_for(plan).gpu)


def _solve(planner: Planner, budgets: Array | None, hours: Array | None, level: float | None, progress: bool) -> Sweep:
    """Solve, refuse budgets too small for any model the law describes, attach the intervals."""
    from precplan.optimize._limits import check_meaningful_budgets
    from precplan.optimize._uncertainty import annotate_sweep
    from precplan.progress import progress_bar

    n = 1 if budgets is None else int(budgets.size)
    with progress_bar(progress and n > 1, "solving budgets", n) as advance:
        sweep = planner.sweep(budgets, advance, gpu_hours=hours)
    if budgets is not None and planner.problem.mode == "budget":
        check_meaningful_budgets(planner.groups, planner.problem, budgets, sweep.params, sweep.loss)
    if level is None:
        return sweep
    with progress_bar(progress and n > 1 and planner.law.has_samples, "intervals over the law's coefficient samples", n) as advance:
        return annotate_sweep(planner, sweep, level, advance)


def make_request(
    budget: ArrayLike | str | None = None,
    *,
    law: Law | str = "kumar2024",
    base: Law | str | None = None,
    params: float | str | None = None,
    tokens: float | str | None = None,
    precision: Precision | float | str | None = None,
    precisions: Sequence[Precision | float | str] | str | None = None,
    bits_range: tuple[float, float] | None = None,
    continuous: bool = False,
    untied: bool = False,
    memory: float | str | None = None,
    serve_memory: float | str | None = None,
    inference_precision: Precision | float | str | None = None,
    inference_tokens: float | str | None = None,
    target_loss: float | str | None = None,
    compare: Sequence[float | str | Precision] | str | None = None,
    serve_activations: Precision | float | str | None = None,
    serve_kv: Precision | float | str | None = None,
    gpu: GpuSpec | str | Sequence[GpuSpec | str] | None = None,
    gpus: int | str | None = None,
    days: float | str | None = None,
    hours: float | str | None = None,
    gpu_hours: float | str | None = None,
    dollars: float | str | None = None,
    price: float | str | Sequence[float] | None = None,
    mfu: float | str | None = None,
    prefill_mfu: float | str | None = None,
    input_tokens: float | str | None = None,
    output_tokens: float | str | None = None,
    batch: float | str | None = None,
    context: float | str | None = None,
    gqa: float | str | None = None,
    hardware: str | None = None,
    serving: str | None = None,
    level: float | str | None = DEFAULT_LEVEL,
    format_speedup: str | dict | None = None,
) -> PlanRequest:
    """Validate a request and normalize its budget once (the arguments of :func:`plan`).

    Returns
    -------
    PlanRequest
        Solve it with :meth:`PlanRequest.plan` or :meth:`PlanRequest.sweep`.

    Raises
    ------
    PrecplanError
        On any inconsistent or unreadable argument, naming it (```gpu_hours` needs `gpu```).

    Examples
    --------
    >>> import precplan
    >>> req = precplan.make_request(1e22, law="besiroglu2024")
    >>> req.plan().uncertainty["level"]
    0.8
    """
    from precplan.laws import load_law
    from precplan.units import parse_bytes, parse_count

    given = {k: v for k, v in locals().items() if k not in ("load_law", "parse_bytes", "parse_count")}
    if serving not in SERVING:
        raise PrecplanError(f"`serving` {serving!r}: give one of {', '.join(SERVING[1:])} (or leave it out)")
    if serving is None and _serving_planned(given):
        serving = "lifetime-cost"  # a cluster's days and tokens to serve: plan for serving, not only price it
    if serving == "lifetime-cost":
        return _lifetime_cost(given)
    if isinstance(law, (list, tuple)):
        raise PrecplanError("`law` takes one law; compare_laws([...]) plans with each law of a list")
    the_law = load_law(law, base)
    budgets = budget_array(budget)
    if gpu is not None:  # on a GPU, fp8/fp6/fp4 name its format (e4m3, e3m2, e2m1)
        precision, precisions, compare = (gpu_format_names(x) for x in (precision, precisions, compare))
    bits_range, listed = _precisions(precisions, bits_range)
    hw = hardware_request(gpu, gpus=gpus, days=days, hours=hours, gpu_hours=gpu_hours, dollars=dollars, price=price, mfu=mfu,
                          prefill_mfu=prefill_mfu, input_tokens=input_tokens, output_tokens=output_tokens, batch=batch,
                          context=context, gqa=gqa, hardware=hardware, budget_given=budgets is not None,
                          format_speedup=format_speedup)
    serve_bytes, card_note, kv_memory = serving_memory(serve_memory, hardware, hw.specs, context, batch, gqa)
    count = lambda v, what: None if v is None else parse_count(v, f"`{what}`")  # noqa: E731
    options = dict(
        has_budget=budgets is not None or hw.hours is not None, params=count(params, "params"), tokens=count(tokens, "tokens"),
        precision=precision, precisions=listed, bits_range=bits_range, continuous=continuous, untied=untied,
        memory=None if memory is None else parse_bytes(memory, "`memory`"), serve_memory=serve_bytes,
        inference_precision=inference_precision, inference_tokens=_served_tokens(inference_tokens),
        target_loss=None if target_loss is None else real_number(target_loss, "target_loss"), compare=_compare(compare),
        serve_activations=serve_activations, serve_kv=serve_kv, kv_memory=kv_memory,
        budget_inference=hw.days is None or serving == "lifetime-budget",
    )
    _check_gpus(hw.specs, budgets, options["target_loss"])
    planners = []
    for spec in hw.specs or [None]:
        planner = make_planner(the_law, gpu=spec, **options)
        planners.append(planner if card_note is None else replace(planner, notes=(card_note,) + planner.notes))
    if hw.hours is not None:
        per_gpu = [(np.atleast_1d(s.budget_units(h)), np.atleast_1d(float(h))) for s, h in zip(hw.specs, hw.hours)]
    else:
        per_gpu = [(budgets, None)] * len(planners)
    return PlanRequest(the_law, tuple(planners), tuple(b for b, _ in per_gpu), tuple(h for _, h in per_gpu), _level(level), given)


SERVING = (None, "priced", "lifetime-budget", "lifetime-cost")


def _serving_planned(given: dict) -> bool:
    """The default of ``serving`` is ``"lifetime-cost"`` for one GPU, a cluster's ``days`` or
    ``hours`` and tokens to serve (a GPU list or no served tokens: ``"priced"``)."""
    gpu, tokens = given.get("gpu"), given.get("inference_tokens")
    one_gpu = isinstance(gpu, GpuSpec) or (isinstance(gpu, str) and "," not in gpu)
    cluster = given.get("days") is not None or given.get("hours") is not None
    return bool(one_gpu and cluster and tokens is not None and str(tokens).strip() not in ("0", "0.0")
                and given.get("target_loss") is None and given.get("budget") is None)


def _lifetime_cost(given: dict) -> PlanRequest:
    """``serving="lifetime-cost"``: the plan with the least lifetime (training + serving) cost
    that reaches the loss the hardware budget's training-only plan reaches: the budget fixes the
    quality, serving moves the plan toward a smaller model trained longer (Sardana et al. 2024)."""
    if given.get("inference_tokens") is None or given.get("gpu") is None or given.get("target_loss") is not None:
        raise PrecplanError("`serving` 'lifetime-cost' needs `gpu`, a hardware or FLOPs budget and `inference_tokens` (and no `target_loss`)")
    reached = make_request(**{**given, "serving": "priced", "level": None}).plan(explain=False)
    free = {k: None for k in ("budget", "days", "hours", "gpu_hours", "dollars")}
    req = make_request(**{**given, **free, "serving": None, "target_loss": reached.loss})
    note = (f"serving 'lifetime-cost': the least lifetime GPU-hours (training + serving) reaching loss {reached.loss:.4f},"
            f" the loss the budget's training-only plan reaches ({reached.params:.3g} parameters on {reached.tokens:.3g} tokens)")
    planners = tuple(replace(p, notes=(note,) + p.notes) for p in req.planners)
    return replace(req, planners=planners, options={**given})


def _precisions(precisions: Any, bits_range: tuple[float, float] | None) -> tuple[tuple[float, float] | None, list | None]:
    """Candidates as a list, or a range ``"LO:HI"`` (text) / ``bits_range``."""
    if not isinstance(precisions, str):
        return bits_range, None if precisions is None else list(precisions)
    if bits_range is not None:
        raise PrecplanError("give the candidates once: `precisions` or `bits_range`, not both")
    return parse_bits_spec(precisions)


def _compare(compare: Any) -> list | None:
    if compare is None:
        return None
    items = [c for c in compare.split(",") if c.strip()] if isinstance(compare, str) else list(compare)
    if not items:
        raise PrecplanError("`compare`: an empty list; give precisions such as 4,8,16 (or leave `compare` out)")
    return items


def _served_tokens(value: Any) -> float | None:
    from precplan.units import parse_count

    if value is None:
        return None
    if str(value).strip() in ("0", "0.0"):
        return 0.0
    return parse_count(value, "`inference_tokens`")


def _level(level: Any) -> float | None:
    if level is None:
        return None
    v = real_number(level, "level") if not isinstance(level, float) else level
    if not 0.0 < v < 1.0:
        raise PrecplanError(f"`level` must be between 0 and 1, exclusive (e.g. 0.8 for 80% intervals); got {level!r}")
    return float(v)


def _check_gpus(specs: Sequence[GpuSpec], budgets: Array | None, target_loss: float | None) -> None:
    if len(specs) < 2:
        return
    if budgets is not None and budgets.size > 1:
        raise PrecplanError("a `budget` sweep plans one GPU at a time: give one `gpu`")
    if target_loss is not None and any(s.price is None for s in specs):
        raise PrecplanError("comparing GPUs at a target loss needs their prices: give `price` with one dollars-per-GPU-hour per `gpu` (e.g. 2.5,5.0)")


def plan(budget: float | str | None = None, **options: Any) -> Plan:
    """The optimal plan for one budget: N*, D*, training bits and predicted loss, with its
    intervals (a law with coefficient samples), warnings and notes.

    Parameters
    ----------
    budget : float or str, optional
        Training (plus inference) compute in 16-bit-equivalent FLOPs, e.g. ``1e23`` or ``"1e23"``.
        Leave it out with ``target_loss``, with a hardware budget (``gpus`` and ``days``,
        ``gpu_hours``, ``dollars``), or with ``tokens`` and ``params``/``memory``.
    law : Law or str
        A :class:`~precplan.laws.Law`, a bundled law name or a law file (default ``"kumar2024"``);
        for a list of laws use :func:`compare_laws`.
    base : Law or str, optional
        Take the base terms (E, A, B, alpha, beta) from this law (an assumption the plan warns of).
    params, tokens : float or str, optional
        Fix N or D (``"7B"``, ``"1.5T"``).
    precision : optional
        One training precision (``8``, ``"fp8-e4m3"``, ``"int4"``).
    precisions : sequence or str, optional
        Candidates to choose from: a list, ``"4,8,16"``, or an integer range ``"3:16"``.
    bits_range : (float, float), optional
        Integer bits searched when no candidates are given (default 3..16).
    continuous, untied : bool
        Real-valued bits; separate weight/activation/KV bits.
    memory, serve_memory : float or str, optional
        Bytes the weights may take in training / serving (``"24GiB"``, ``"880MB"``; ``serve_memory``
        may name a card, ``"h100"`` or ``"2xh100"``).
    inference_precision : optional
        Serve at this precision after post-training quantization (adds its degradation).
    inference_tokens : float or str, optional
        Tokens served over the model's lifetime (Sardana et al. 2024).
    target_loss : float or str, optional
        Minimize lifetime compute that reaches this loss instead of a budget.
    compare : sequence or str, optional
        Training precisions for the comparison rows.
    serve_activations, serve_kv : optional
        Serve activations / the KV cache at these precisions (cost and memory only).
    gpu : str, GpuSpec or a list of them, optional
        Plan on this GPU (``"h100"``): its native formats priced at their dense peak, with
        GPU-hours, wall-clock days and dollars. A list (``["h100", "b200"]`` or ``"h100,b200"``)
        plans on each and returns the best (lowest loss; at a target loss, the cheapest), the
        others in ``hardware_options``.
    gpus : int or str, optional
        Cluster size: with ``days`` or ``hours`` the budget is GPUs x time (training only);
        alone, the plan reports its wall-clock days.
    days, hours : float or str, optional
        Wall-clock training time on ``gpus`` GPUs.
    gpu_hours : float or str, optional
        The budget in GPU-hours (training, plus inference with ``inference_tokens``).
    dollars : float or str, optional
        The budget in dollars, at ``price``.
    price : float, str or sequence, optional
        Dollars per GPU-hour, one per GPU.
    mfu, prefill_mfu : float or str, optional
        Training and prefill model-FLOPs utilization in (0, 1] (default 0.5); ``mfu`` is the bf16 run's.
    format_speedup : str or mapping, optional
        End-to-end training speedup over bf16 per format, replacing the dense-peak ratio
        (``"fp8=1.3,nvfp4=1.8"``; ``"peak"``: every format at its dense-peak ratio). Default: published
        measurements (:data:`precplan.costs.FORMAT_SPEEDUP`: fp8 1.34, Fishman et al. 2024).
    input_tokens, output_tokens, batch, context, gqa : float or str, optional
        The serving setup (defaults: :class:`~precplan.costs.GpuSpec`'s).
    serving : str, optional
        With a hardware budget and ``inference_tokens``: ``"lifetime-cost"`` (default with one
        ``gpu``, ``gpus`` and ``days``/``hours``: the least lifetime GPU-hours, training plus
        serving, reaching the loss the cluster's training-only plan reaches; a smaller model
        trained longer, Sardana et al. 2024), ``"lifetime-budget"`` (the GPU-hours cover training
        plus serving: the lowest loss within them) or ``"priced"`` (the budget is training's,
        serving is priced beside it).
    hardware : str, optional
        A hardware catalog file instead of the bundled one.
    level : float or None
        Interval level (default 0.8); None: no intervals.

    Returns
    -------
    Plan
        ``params``, ``tokens``, ``bits``, ``loss``, costs, comparison rows, ``uncertainty``
        (None for a law without coefficient samples), ``warnings`` and ``notes``.

    Raises
    ------
    PrecplanError
        An inconsistent request, a budget too small for any model the law describes, or an
        unreachable target; the message names the arguments.

    Examples
    --------
    >>> import precplan
    >>> round(precplan.plan(budget=1e21).bits.weights)
    7
    >>> p = precplan.plan(gpu="h100", gpus=512, days=30, mfu=0.4)
    >>> round(p.wall_days)
    30
    """
    return make_request(budget, **options).plan()


def plan_sweep(budgets: ArrayLike | str | None = None, *, progress: bool = False, **options: Any) -> Sweep:
    """The optimal plans of many budgets on one GPU (or none), solved together (vectorized, in
    chunks), checked and with their intervals, as :func:`plan` gives one.

    Parameters
    ----------
    budgets : array_like or str
        Compute budgets in 16-bit-equivalent FLOPs, or a log sweep ``"1e19:1e25:13"``.
    progress : bool
        A progress bar with ETA on stderr (on a terminal) for long sweeps.
    **options :
        Any argument of :func:`plan` (one ``gpu``).

    Returns
    -------
    Sweep
        Arrays with one entry per budget (``params``, ``tokens``, ``loss``, ``bits``, ...), and the
        sweep's ``notes`` and ``warnings`` once; ``sweep[i]`` (or iterating) gives budget i's :class:`Plan`.

    Raises
    ------
    PrecplanError
        As :func:`plan`; a sweep reaching below the smallest meaningful budget says where to start.

    Examples
    --------
    >>> import precplan
    >>> s = precplan.plan_sweep("1e21:1e23:3")
    >>> len(s), bool(s.params[0] < s.params[-1])
    (3, True)
    """
    return make_request(budgets, **options).sweep(progress)


def compare_laws(laws: Sequence[Law | str], budget: float | str | None = None, *, base: Law | str | None = None,
                 **options: Any) -> list[Plan | NotApplicable]:
    """The same request planned by each law, one result per law in order (what ``--law a,b,c``
    shows side by side).

    Parameters
    ----------
    laws : sequence of Law or str
        The laws (bundled names, files or :class:`~precplan.laws.Law` objects), each once.
    budget, base, **options :
        As in :func:`plan` (one budget, one GPU).

    Returns
    -------
    list of Plan or NotApplicable
        A :class:`Plan` per law, or :class:`NotApplicable` (with the reason) for a law that cannot
        answer the request.

    Raises
    ------
    PrecplanError
        An unknown law, a law listed twice, a budget sweep or several GPUs, or no law able to answer.

    Examples
    --------
    >>> import precplan
    >>> [p.law for p in precplan.compare_laws(["kumar2024", "besiroglu2024"], 1e22)]
    ['kumar2024', 'besiroglu2024']
    """
    from precplan.laws import load_law

    names = [laws] if isinstance(laws, (str, Law)) else list(laws)
    if not names:
        raise PrecplanError("`law`: an empty list; give laws such as ['kumar2024', 'besiroglu2024']")
    loaded = [load_law(x, base) for x in names]
    ids = [x.id for x in loaded]
    if len(set(ids)) != len(ids):
        raise PrecplanError(f"`law` lists {next(i for i in ids if ids.count(i) > 1)!r} twice")
    b = budget_array(budget)
    if b is not None and b.size > 1:
        raise PrecplanError("comparing laws needs one `budget` (not a sweep); sweep each law with plan_sweep()")
    gpu = options.get("gpu")
    if gpu is not None and len(hardware_request(gpu, hardware=options.get("hardware")).specs) > 1:
        raise PrecplanError("several laws and several GPUs at once: compare laws on one `gpu`, or GPUs with one law")
    out: list[Plan | NotApplicable] = []
    for the_law in loaded:
        try:
            out.append(plan(b, law=the_law, **options))
        except PrecplanError as exc:
            out.append(NotApplicable(the_law.id, False, str(exc)))
    if all(isinstance(r, NotApplicable) for r in out):
        raise PrecplanError(out[0].reason)  # type: ignore[union-attr]
    return out
