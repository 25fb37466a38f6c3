"""Planning across hardware: the best plan on each GPU of a list, and the pick among them
(Sardana et al. 2024, sec. 4: the real-cost version, cost-optimal across hardware).

- target-loss mode: the cheapest plan (dollars) reaching the loss on each GPU; the cheapest overall;
- budget mode (FLOPs, GPU-hours, GPUs x days, or dollars at each GPU's price): the lowest-loss
  plan on each GPU; the lowest loss overall (ties: the cheaper).

Also the hardware arguments as given, numbers or text (:func:`hardware_request`,
:func:`serving_memory`), read once by :func:`precplan.optimize.make_request`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import numpy as np

from precplan.costs import GpuSpec
from precplan.errors import PrecplanError
from precplan.optimize._planner import Planner
from precplan.optimize._result import HardwareOption, Plan

__all__ = [
    "HardwareRequest", "gpu_format_names", "hardware_request", "pick_gpu", "real_number", "serve_memory_bytes", "serving_memory",
]


def pick_gpu(found: Sequence[tuple[Planner, Plan]]) -> tuple[Planner, Plan]:
    """The chosen GPU's planner and plan among each GPU's best plan (``found``, one per GPU, in
    the order asked); the plan lists every GPU's best plan in ``hardware_options``.

    Target-loss mode: the cheapest (dollars, else GPU-hours), ties by loss; budget mode: the
    lowest loss, ties by cost."""
    target = found[0][1].mode == "target-loss"

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
    note = f"planned on {', '.join(p.gpu or '' for _, p in found)}: {chosen.gpu} gives {why} (the others are listed beside it)"
    return planner, replace(chosen, hardware_options=options_out, notes=[note] + list(chosen.notes))


def gpu_format_names(value: "str | Sequence[Any] | None") -> "str | list[Any] | None":
    """``fp8,bf16`` -> ``fp8-e4m3,bf16``: the catalog's format names as precplan precisions (a
    comma text stays text, a list stays a list; a range ``LO:HI`` is left alone)."""
    from precplan.hardware import FORMAT_PRECISION

    def one(t: Any) -> Any:
        key = str(t).strip().lower()
        return FORMAT_PRECISION.get(key, t) if isinstance(t, str) and key in ("fp8", "fp6", "fp4") else t

    if value is None or (isinstance(value, str) and ":" in value):
        return value
    if isinstance(value, str):
        return ",".join(one(t) for t in value.split(","))
    if not isinstance(value, (list, tuple)):
        return value  # one number or Precision (precision=16)
    return [one(t) for t in value]


@dataclass(frozen=True)
class HardwareRequest:
    """The GPUs asked for and the hardware budget in GPU-hours per GPU (None without one);
    ``days`` is set when the budget is a cluster's GPUs x time (training only)."""

    specs: list[GpuSpec]
    hours: list[float] | None
    days: float | None


def hardware_request(
    gpu: "str | GpuSpec | Sequence[str | GpuSpec] | None", *, gpus: "int | str | None" = None, days: "float | str | None" = None,
    hours: "float | str | None" = None, gpu_hours: "float | str | None" = None, dollars: "float | str | None" = None,
    price: "float | str | Sequence[float] | None" = None, mfu: "float | str | None" = None, prefill_mfu: "float | str | None" = None,
    input_tokens: "float | str | None" = None, output_tokens: "float | str | None" = None, batch: "float | str | None" = None,
    context: "float | str | None" = None, gqa: "float | str | None" = None, hardware: str | None = None, budget_given: bool = False,
    format_speedup: "str | Mapping[str, float] | None" = None,
) -> HardwareRequest:
    """GpuSpecs and the hardware budget in GPU-hours, from the arguments as given (numbers or
    text: ``gpu="h100,b200", price="2.5,5.0"``, ``gpus=512, days=30``, ``gpu_hours=368640``,
    ``dollars=2e6``).

    Parameters
    ----------
    gpu : str, GpuSpec or a sequence of them, optional
        One catalog name, a comma-separated list, a :class:`~precplan.costs.GpuSpec` or a list;
        None: no GPU (the hardware arguments are then an error).
    gpus : int or str, optional
        Cluster size: with ``days`` or ``hours``, the budget is GPUs x wall-clock time (training only).
    days, hours : float or str, optional
        Wall-clock training time on ``gpus`` GPUs (give one).
    gpu_hours, dollars : float or str, optional
        The budget in GPU-hours, or in dollars at ``price``.
    price : float, str or sequence of float, optional
        Dollars per GPU-hour, one per GPU (``"2.5,5.0"`` or ``[2.5, 5.0]``).
    mfu, prefill_mfu, input_tokens, output_tokens, batch, context, gqa : float or str, optional
        Utilization and serving setup (defaults: :class:`~precplan.costs.GpuSpec`'s).
    hardware : str, optional
        A catalog file instead of the bundled one.
    budget_given : bool
        Whether a FLOPs ``budget`` was given too (two budgets are an error).
    format_speedup : str or mapping, optional
        End-to-end training speedup over bf16 per catalog format (``"fp8=1.3,nvfp4=1.8"``, or
        ``"peak"``); default :data:`precplan.costs.FORMAT_SPEEDUP`.

    Returns
    -------
    HardwareRequest

    Raises
    ------
    PrecplanError
        On an inconsistent request, naming the arguments (```days` needs `gpus```).
    """
    given = {"price": price, "mfu": mfu, "prefill_mfu": prefill_mfu, "input_tokens": input_tokens, "output_tokens": output_tokens,
             "gpus": gpus, "days": days, "hours": hours, "gpu_hours": gpu_hours, "dollars": dollars, "format_speedup": format_speedup}
    if gpu is None:
        extra = [k for k, v in given.items() if v is not None]
        if extra:
            raise PrecplanError(f"`{extra[0]}` needs `gpu` (e.g. gpu='h100'; precplan hardware list)")
        return HardwareRequest([], None, None)
    bases = _gpu_specs(gpu, hardware)
    prices = _prices(price, len(bases), gpu)
    count = _gpu_count(gpus)
    if days is not None and hours is not None:
        raise PrecplanError("give `days` or `hours` of wall-clock time, not both")
    wall = None if days is None else 24.0 * _positive(days, "days")
    wall = wall if hours is None else _positive(hours, "hours")
    if wall is not None and count is None:
        raise PrecplanError(f"`{'days' if days is not None else 'hours'}` needs `gpus` (the budget is GPUs x time)")
    named = [k for k, v in (("budget", budget_given or None), ("days" if days is not None else "hours", wall),
                            ("gpu_hours", gpu_hours), ("dollars", dollars)) if v is not None]
    if len(named) > 1:
        raise PrecplanError(f"give one budget: `{'` and `'.join(named)}` were both given")
    overrides = {k: _number(v, k) for k, v in (("mfu", mfu), ("prefill_mfu", prefill_mfu), ("input_tokens", input_tokens),
                                                ("output_tokens", output_tokens), ("batch", batch), ("context", context), ("gqa", gqa))
                 if v is not None}
    if count is not None:
        overrides["gpus"] = count
    if format_speedup is not None:
        overrides["format_speedup"] = format_speedup
    specs = [replace(b, price=p if p is not None else b.price, **overrides) for b, p in zip(bases, prices)]
    if specs and isinstance(specs[0].format_speedup, Mapping):
        unknown = [k for k in specs[0].format_speedup if not any(k in s.device.formats for s in specs)]
        if unknown:
            raise PrecplanError(f"`format_speedup` names {unknown[0]}, which {', '.join(s.device.id for s in specs)} does not run"
                                f" (its formats: {', '.join(specs[0].device.formats)})")
    budget_hours = None
    if wall is not None:
        budget_hours = [count * wall] * len(specs)
    elif gpu_hours is not None:
        budget_hours = [_positive(gpu_hours, "gpu_hours")] * len(specs)
    elif dollars is not None:
        money = _positive(dollars, "dollars")
        if any(s.price is None for s in specs):
            raise PrecplanError("`dollars` needs `price` (dollars per GPU-hour, one per GPU)")
        budget_hours = [money / float(s.price) for s in specs]
    return HardwareRequest(specs, budget_hours, None if wall is None else wall / 24.0)


def _gpu_specs(gpu: Any, hardware: str | None) -> list[GpuSpec]:
    """``"h100,b200"``, a GpuSpec, or a list of names and specs, as GpuSpecs (no GPU twice)."""
    from precplan.hardware import gpu_list, load_catalog

    items = list(gpu) if isinstance(gpu, (list, tuple)) else [gpu]
    if not items:
        raise PrecplanError("`gpu`: an empty list; give a GPU name like 'h100' or a list like ['h100', 'b200']")
    catalog = None if hardware is None else load_catalog(hardware)
    specs: list[GpuSpec] = []
    for item in items:
        if isinstance(item, GpuSpec):
            specs.append(item)
        elif isinstance(item, str):
            specs += [GpuSpec(dev, hardware=hardware) if hardware is not None else GpuSpec(dev) for dev in gpu_list(item, catalog)]
        else:
            specs.append(GpuSpec(item))
    ids = [s.device.id for s in specs]
    if len(set(ids)) != len(ids):
        raise PrecplanError(f"`gpu` lists {next(i for i in ids if ids.count(i) > 1)!r} twice")
    return specs


def _prices(price: Any, n: int, gpu: Any) -> list[float | None]:
    """One dollars-per-GPU-hour per GPU (None: the spec's own)."""
    if price is None:
        return [None] * n
    if isinstance(price, str):
        items: list[Any] = [t for t in price.split(",") if t.strip()]
    elif isinstance(price, (list, tuple)):
        items = list(price)
    else:
        items = [price]
    if len(items) != n:
        raise PrecplanError(f"`price` gives {len(items)} price(s) for {n} GPU(s) in `gpu` {gpu}: give one dollars-per-GPU-hour per GPU, in the same order")
    return [_positive(t, "price") for t in items]


def _gpu_count(gpus: Any) -> int | None:
    if gpus is None:
        return None
    try:
        count = int(str(gpus).strip()) if not isinstance(gpus, (int, np.integer)) or isinstance(gpus, bool) else int(gpus)
    except ValueError:
        count = 0
    if isinstance(gpus, bool) or count < 1:
        raise PrecplanError(f"`gpus` must be a whole number of GPUs >= 1, got {gpus!r}")
    return count


def _positive(value: Any, what: str) -> float:
    """A positive count as given (``2e6``, ``"2e6"``, ``"30"``) with an error naming ``what``."""
    from precplan.units import parse_count

    try:
        return parse_count(value.strip() if isinstance(value, str) else value, what)
    except PrecplanError:
        raise PrecplanError(f"`{what}` must be a positive number, got {value!r}") from None


def serve_memory_bytes(value: "float | str | None", hardware: str | None = None) -> tuple[float | None, str | None]:
    """``serve_memory``: bytes, a size (GB = 1e9 B, GiB = 2^30 B) or a card (h100, 2xh100): (bytes, card label)."""
    from precplan.units import parse_bytes

    if value is None:
        return None, None
    try:
        return parse_bytes(value, "serve_memory"), None
    except PrecplanError as size_error:
        text = str(value)
        if not isinstance(value, str) or not any(c.isalpha() for c in text.strip().lstrip("0123456789.").lstrip("xX*").strip()[:1]):
            raise
        from precplan.hardware import load_catalog

        try:
            card = load_catalog(hardware).get(text)
        except PrecplanError:
            raise PrecplanError(f"{size_error} or a card name (h100, 2xh100; precplan hardware list)") from None
        return card.total_memory, card.label


def serving_memory(
    value: "float | str | None", hardware: str | None, specs: Sequence[GpuSpec], context: Any, batch: Any, gqa: Any
) -> tuple[float | None, str | None, tuple[float, float, float] | None]:
    """``serve_memory`` in bytes, a note naming the card it gives (if any), and the KV-cache
    setting (context, batch, gqa) it counts when ``context`` or ``batch`` is given."""
    serve_bytes, card = serve_memory_bytes(value, hardware)
    note = None if card is None else (f"`serve_memory` {value} = {card}: {serve_bytes:,.0f} B"
                                      f" ({serve_bytes / 2**30:.2f}GiB, {serve_bytes / 1e9:.2f}GB)")
    kv_memory = None
    if context is not None or batch is not None:
        if value is None and not specs:
            raise PrecplanError("`context` and `batch` describe serving: give `serve_memory` (a size or a card, e.g. h100) or `gpu`")
        if value is not None:
            d = specs[0] if specs else None
            kv_memory = (
                _number(context, "context") if context is not None else (d.context_tokens if d else 285.0),
                _number(batch, "batch") if batch is not None else (d.batch if d else 64.0),
                _number(gqa, "gqa") if gqa is not None else 4.0,  # GpuSpec's grouped-query default
            )
            if not all(math.isfinite(v) and v >= 1 for v in kv_memory):
                raise PrecplanError("`context`, `batch` and `gqa` must be numbers >= 1")
    elif gqa is not None and not specs:
        raise PrecplanError("`gqa` needs `gpu`, or `serve_memory` with `context`/`batch`")
    return serve_bytes, note, kv_memory


_REAL = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", re.ASCII)


def real_number(value: Any, what: str) -> float:
    """A plain finite real number (loss, price, MFU) as given: a number, or text such as ``"2.5"``
    (no suffixes, no ``inf``/``nan``); an error naming ``what`` otherwise."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        x = float(value)
    elif isinstance(value, str) and _REAL.fullmatch(value):
        x = float(value)
    else:
        x = math.nan
    if not math.isfinite(x):
        raise PrecplanError(f"`{what}`: cannot read {value!r} as a number (a plain finite number, e.g. 2.5 or 0.4)")
    return x


def _number(value: Any, what: str) -> float:
    return real_number(value, what)
