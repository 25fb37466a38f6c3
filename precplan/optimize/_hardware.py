"""Planning across hardware: the best plan on each GPU of a list, and the pick among them
(Sardana et al. 2024, sec. 4: the real-cost version, cost-optimal across hardware).

- target-loss mode: the cheapest plan (dollars) reaching the loss on each GPU; the cheapest overall;
- budget mode (FLOPs, GPU-hours, GPUs x days, or dollars at each GPU's price): the lowest-loss
  plan on each GPU; the lowest loss overall (ties: the cheaper).

Also the hardware options as typed (:func:`hardware_request`, :func:`serving_memory`), so that
the CLI stays a thin layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from precplan.costs import GpuSpec
from precplan.errors import PrecplanError
from precplan.laws import Law
from precplan.optimize._planner import Planner, make_planner
from precplan.optimize._result import HardwareOption, Plan

__all__ = [
    "HardwareRequest", "gpu_format_names", "hardware_request", "plan_across", "serve_memory_bytes", "serving_memory",
]


def plan_across(
    law: Law, specs: Sequence[GpuSpec], hours: Sequence[float] | None, budgets: np.ndarray | None, options: dict[str, Any]
) -> tuple[Planner, list[Plan]]:
    """The chosen GPU's planner and its plan, which lists every GPU's best plan in ``hardware_options``.

    ``hours``: the hardware budget in GPU-hours on each GPU (None: ``budgets`` FLOPs, or no budget)."""
    target = options.get("target_loss") is not None
    if target and any(s.price is None for s in specs):
        raise PrecplanError("comparing GPUs at a target loss needs their prices: give --price with one dollars-per-GPU-hour per --gpu (e.g. --price 2.5,5.0)")
    if budgets is not None and np.size(budgets) > 1:
        raise PrecplanError("a --budget sweep plans one GPU at a time: give one --gpu")
    found: list[tuple[Planner, Plan]] = []
    for i, spec in enumerate(specs):
        planner = make_planner(law, gpu=spec, **options)
        b = spec.budget_units(hours[i]) if hours is not None else budgets
        found.append((planner, planner.plans(b)[0]))

    def key(item: tuple[Planner, Plan]) -> tuple[float, float]:
        p = item[1]
        cost = p.dollars if p.dollars is not None else float(p.gpu_hours or 0.0)
        return (cost, p.loss) if target else (p.loss, cost)

    best = min(range(len(found)), key=lambda i: key(found[i]))
    options_out = [
        HardwareOption(
            gpu=p.gpu or "", chosen=i == best, train_format=p.train_format, bits=p.bits, params=p.params, tokens=p.tokens,
            loss=p.loss, gpu_hours=float(p.gpu_hours or 0.0), wall_days=p.wall_days, dollars=p.dollars,
        )
        for i, (_, p) in enumerate(found)
    ]
    planner, chosen = found[best]
    why = "the cheapest plan reaching the target" if target else "the lowest predicted loss within the budget"
    note = f"planned on {', '.join(s.device.id for s in specs)}: {chosen.gpu} gives {why} (the others are listed beside it)"
    return planner, [replace(chosen, hardware_options=options_out, notes=[note] + list(chosen.notes))]


def gpu_format_names(text: str | None) -> str | None:
    """``fp8,bf16`` -> ``fp8-e4m3,bf16``: the catalog's format names as precplan precisions."""
    from precplan.hardware import FORMAT_PRECISION

    if text is None or ":" in text:
        return text
    return ",".join(FORMAT_PRECISION.get(t.strip().lower(), t) if t.strip().lower() in ("fp8", "fp6", "fp4") else t for t in text.split(","))


@dataclass(frozen=True)
class HardwareRequest:
    """The GPUs asked for and the hardware budget in GPU-hours per GPU (None without one);
    ``days`` is set when the budget is a cluster's GPUs x days (training only)."""

    specs: list[GpuSpec]
    hours: list[float] | None
    days: float | None


def hardware_request(
    gpu: str | None, *, gpus: str | None = None, days: str | None = None, gpu_hours: str | None = None, dollars: str | None = None,
    price: str | None = None, mfu: str | None = None, prefill_mfu: str | None = None, input_tokens: str | None = None,
    output_tokens: str | None = None, batch: str | None = None, context: str | None = None, gqa: str | None = None,
    hardware: str | None = None, budgets: np.ndarray | None = None,
) -> HardwareRequest:
    """GpuSpecs and the hardware budget from the options as typed (``--gpu h100,b200 --price
    2.5,5.0``, ``--gpus 512 --days 30``, ``--gpu-hours``, ``--dollars``).

    Parameters
    ----------
    gpu : str or None
        One catalog name or a comma-separated list; None: no GPU (GPU options are then an error).
    gpus, days, gpu_hours, dollars, price, mfu, prefill_mfu, input_tokens, output_tokens, batch, context, gqa : str, optional
        The options' text; at most one budget (``budgets``, GPUs x days, GPU-hours, dollars).
    hardware : str, optional
        A catalog file instead of the bundled one.
    budgets : array, optional
        ``--budget`` FLOPs, to refuse a second budget.

    Returns
    -------
    HardwareRequest
        Every inconsistency is a :class:`PrecplanError` (one line at the CLI)."""
    from precplan.hardware import gpu_list, load_catalog

    given = {"--price": price, "--mfu": mfu, "--prefill-mfu": prefill_mfu, "--input-tokens": input_tokens,
             "--output-tokens": output_tokens, "--gpus": gpus, "--days": days, "--gpu-hours": gpu_hours, "--dollars": dollars}
    if gpu is None:
        extra = [k for k, v in given.items() if v is not None]
        if extra:
            raise PrecplanError(f"{extra[0]} needs --gpu (e.g. --gpu h100; precplan hardware list)")
        return HardwareRequest([], None, None)
    devices = gpu_list(gpu, None if hardware is None else load_catalog(hardware))
    prices: list[float | None] = [None] * len(devices)
    if price is not None:
        items = [t for t in price.split(",") if t.strip()]
        if len(items) != len(devices):
            raise PrecplanError(f"--price gives {len(items)} price(s) for {len(devices)} GPU(s) in --gpu {gpu}: give one dollars-per-GPU-hour per GPU, in the same order")
        prices = [_positive(t, "--price") for t in items]
    count = None
    if gpus is not None:
        try:
            count = int(str(gpus).strip())
        except ValueError:
            raise PrecplanError(f"--gpus must be a whole number of GPUs >= 1, got {gpus!r}") from None
        if count < 1:
            raise PrecplanError(f"--gpus must be a whole number of GPUs >= 1, got {gpus!r}")
    n_days = None if days is None else _positive(days, "--days")
    if n_days is not None and count is None:
        raise PrecplanError("--days needs --gpus (the budget is GPUs x days)")
    budgets_given = [k for k, v in (("--budget", budgets), ("--gpus/--days", n_days), ("--gpu-hours", gpu_hours), ("--dollars", dollars)) if v is not None]
    if len(budgets_given) > 1:
        raise PrecplanError(f"give one budget: {' and '.join(budgets_given)} were both given")
    if budgets is not None and budgets.size > 1 and len(devices) > 1:
        raise PrecplanError("a --budget sweep plans one GPU at a time: give one --gpu")
    d = GpuSpec(devices[0])
    specs = [
        GpuSpec(
            gpu=dev, price=p, mfu=_number(mfu, "--mfu", d.mfu), prefill_mfu=_number(prefill_mfu, "--prefill-mfu", d.prefill_mfu),
            input_tokens=_number(input_tokens, "--input-tokens", d.input_tokens), output_tokens=_number(output_tokens, "--output-tokens", d.output_tokens),
            batch=_number(batch, "--batch", d.batch), context=_number(context, "--context"), gqa=_number(gqa, "--gqa", d.gqa), gpus=count,
        )
        for dev, p in zip(devices, prices)
    ]
    hours = None
    if n_days is not None:
        hours = [count * 24.0 * n_days] * len(specs)
    elif gpu_hours is not None:
        from precplan.units import parse_count

        hours = [parse_count(gpu_hours, "--gpu-hours")] * len(specs)
    elif dollars is not None:
        money = _positive(dollars, "--dollars")
        if price is None:
            raise PrecplanError("--dollars needs --price (dollars per GPU-hour)")
        hours = [money / p for p in prices]
    return HardwareRequest(specs, hours, n_days)


def _positive(text: str, what: str) -> float:
    from precplan.units import parse_count

    try:
        return parse_count(text.strip(), what)
    except PrecplanError:
        raise PrecplanError(f"{what} must be a positive number, got {text!r}") from None


def serve_memory_bytes(text: str | None, hardware: str | None = None) -> tuple[float | None, str | None]:
    """``--serve-memory``: a size (GB = 1e9 B, GiB = 2^30 B) or a card (h100, 2xh100): (bytes, card label)."""
    from precplan.units import parse_bytes

    if text is None:
        return None, None
    try:
        return parse_bytes(text, "--serve-memory"), None
    except PrecplanError as size_error:
        if not any(c.isalpha() for c in text.strip().lstrip("0123456789.").lstrip("xX*").strip()[:1]):
            raise
        from precplan.hardware import load_catalog

        try:
            card = load_catalog(hardware).get(text)
        except PrecplanError:
            raise PrecplanError(f"{size_error} or a card name (h100, 2xh100; precplan hardware list)") from None
        return card.total_memory, card.label


def serving_memory(
    text: str | None, hardware: str | None, specs: Sequence[GpuSpec], context: str | None, batch: str | None, gqa: str | None
) -> tuple[float | None, str | None, tuple[float, float, float] | None]:
    """``--serve-memory`` in bytes, the card it names (if any), and the KV-cache setting
    (context, batch, gqa) it counts when ``--context`` or ``--batch`` is given."""
    serve_bytes, card = serve_memory_bytes(text, hardware)
    kv_memory = None
    if context is not None or batch is not None:
        if text is None and not specs:
            raise PrecplanError("--context and --batch describe serving: give --serve-memory (a size or a card, e.g. h100) or --gpu")
        if text is not None:
            d = specs[0] if specs else None
            kv_memory = (
                _number(context, "--context") if context is not None else (d.context_tokens if d else 285.0),
                _number(batch, "--batch") if batch is not None else (d.batch if d else 64.0),
                _number(gqa, "--gqa") if gqa is not None else 1.0,
            )
            if not all(math.isfinite(v) and v >= 1 for v in kv_memory):
                raise PrecplanError("--context, --batch and --gqa must be numbers >= 1")
    elif gqa is not None and not specs:
        raise PrecplanError("--gqa needs --gpu or --serve-memory with --context/--batch")
    return serve_bytes, card, kv_memory


def _number(text: str | None, what: str, default: float | None = None) -> float | None:
    """A plain real number option with a one-line error."""
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise PrecplanError(f"{what}: cannot read {text!r} as a number") from None
