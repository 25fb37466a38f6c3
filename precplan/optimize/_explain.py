"""A solved plan made actionable: its verdict, trust, plausibility and practitioner numbers
(:mod:`precplan.optimize._verdict`, :mod:`precplan.optimize._practical`), attached to the
:class:`~precplan.optimize._result.Plan` so the library user gets what the command line prints."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any, Callable

from precplan.errors import PrecplanError
from precplan.laws import extrapolation, load_law, trust_phrase
from precplan.optimize._practical import DEFAULT_GQA, serving_replica, training_memory
from precplan.optimize._result import Plan
from precplan.optimize._verdict import (
    CALIBRATED_PTQ_LAW, MAX_TOKENS_PER_PARAM, MIN_TOKENS_PER_PARAM, Plausibility, within_envelope,
)
from precplan.units import format_count

__all__ = ["condensed", "explain", "laws_verdict", "sweep_verdict"]

Solve = Callable[[dict], Plan]  # options of make_request -> the plan (without its verdict)


def explain(plan: Plan, options: dict[str, Any], solve: Solve, gpu: Any = None) -> Plan:
    """``plan`` with its verdict, trust phrase, plausibility and memory numbers.

    Parameters
    ----------
    plan : Plan
        A solved plan.
    options : dict
        The arguments of :func:`~precplan.optimize.make_request` that produced it.
    solve : callable
        Plans another request (options -> Plan, no verdict): the envelope's edge and the
        evidence-calibrated plan.
    gpu : GpuSpec, optional
        The plan's GPU (memory per card, GQA ratio).

    Returns
    -------
    Plan
        A copy with ``verdict``, ``trust``, ``plausibility``, ``training_memory`` and ``serving_replica``.
    """
    law = load_law(options.get("law", "kumar2024"), options.get("base"))
    family = law
    if plan.law != law.id:  # a bundled variant (kumar2024-fp); a law file's own variants fall back to the law
        try:
            family = load_law(plan.law)
        except PrecplanError:
            family = law
    factor = extrapolation(family, plan.params, plan.tokens).factor
    trust = trust_phrase(factor)
    plaus = _plausibility(plan, options, solve)
    card = None if gpu is None else gpu.device.memory_bytes
    gqa = DEFAULT_GQA if gpu is None else gpu.gqa
    train = training_memory(plan.params, plan.gpus, card)
    serve = serving_replica(plan.serve_memory_bytes, plan.kv_cache_bytes, card, gqa)
    text = _verdict(plan, plaus, trust, _calibrated_ptq(plan, law))
    return replace(plan, verdict=text, trust=trust, extrapolation_factor=factor, plausibility=plaus,
                   training_memory=train, serving_replica=serve)


def _summary(p: Plan) -> dict:
    return dict(law=p.law, params=p.params, tokens=p.tokens, tokens_per_param=p.tokens_per_param, loss=p.loss,
                format=p.format or p.train_format, bits=p.bits.weights, gpu_hours=p.gpu_hours, total_flops=p.total_flops)


def _plausibility(plan: Plan, options: dict, solve: Solve) -> Plausibility:
    tpp = plan.tokens_per_param
    bounds = (MIN_TOKENS_PER_PARAM, MAX_TOKENS_PER_PARAM)
    if within_envelope(tpp):
        return Plausibility(True, tpp, bounds, None, None, None)
    ws = plan.without_ptq
    if ws is not None and within_envelope(ws.tokens_per_param):
        driver = (f"the PTQ term (planned without PTQ: {format_count(ws.params)} on {format_count(ws.tokens)} tokens,"
                  f" {ws.tokens_per_param:.3g} tokens/param)")
    elif plan.inference_tokens > 0 and tpp > MAX_TOKENS_PER_PARAM:
        driver = "the serving demand (inference tokens)"
    elif tpp < MIN_TOKENS_PER_PARAM and plan.bits.weights < 16 and plan.decomposition.effective_fraction < 1:
        driver = (f"training at {plan.bits.weights:.3g} bits (the precision term keeps"
                  f" {plan.decomposition.effective_fraction:.0%} of the parameters effective, so the law buys more of them)")
    else:
        driver = "the law's N and D terms"
    edge = _edge(plan, options, solve) if plan.mode != "fixed" and options.get("params") is None and options.get("tokens") is None else None
    calibrated = None
    if plan.inference_precision is not None and plan.law != CALIBRATED_PTQ_LAW and options.get("law") != CALIBRATED_PTQ_LAW:
        try:
            calibrated = _summary(solve({**options, "law": CALIBRATED_PTQ_LAW, "base": None}))
        except PrecplanError:
            calibrated = None
    fallback = None
    lifetime = any(n.startswith("serving 'lifetime-cost'") for n in plan.notes)
    if edge is None and plan.mode == "target-loss" and lifetime:  # the cluster's own budget, serving priced beside it
        try:
            priced = {**options, "serving": "priced"}
            fallback = _edge(solve(priced), priced, solve)
        except PrecplanError:
            fallback = None
    return Plausibility(False, tpp, bounds, driver, edge, calibrated, fallback=fallback)


def _edge(plan: Plan, options: dict, solve: Solve) -> dict | None:
    """The best plan at the envelope's bound: N fixed (the planner picks D and precision), found
    by bisection in log N for the N whose plan meets the bound (D/N falls as N grows at a
    fixed budget): the largest such N below it, the smallest above it."""
    low = plan.tokens_per_param < MIN_TOKENS_PER_PARAM
    bound = MIN_TOKENS_PER_PARAM if low else MAX_TOKENS_PER_PARAM
    lo, hi = (math.log(plan.params) - math.log(1e3), math.log(plan.params)) if low else (math.log(plan.params), math.log(plan.params) + math.log(1e3))
    best = None
    free = {k: None for k in ("budget", "days", "hours", "gpu_hours", "dollars")}
    fixed = {**free, "target_loss": plan.target_loss, "serving": "priced"} if plan.mode == "target-loss" else {}
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        try:
            found = solve({**options, **fixed, "params": math.exp(mid)})
        except PrecplanError:  # a target no model of this size reaches: larger N
            lo = mid
            continue
        if within_envelope(found.tokens_per_param):
            best = found
            lo, hi = (mid, hi) if low else (lo, mid)
        else:
            lo, hi = (lo, mid) if low else (mid, hi)
        if best is not None and abs(best.tokens_per_param / bound - 1) < 0.02:
            break
    if best is None:
        return None
    out = _summary(best)
    out["loss_gap"] = best.loss - plan.loss
    cost, base = (best.gpu_hours, plan.gpu_hours) if plan.gpu_hours else (best.total_flops, plan.total_flops)
    out["cost_ratio"] = None if not base else cost / base  # lifetime cost over the plan's (GPU-hours on a GPU)
    return out


def _calibrated_ptq(plan: Plan, law: Any) -> float | None:
    """The PTQ degradation of this plan's N, D and bits under the evidence-calibrated law."""
    if plan.inference_precision is None or plan.law == CALIBRATED_PTQ_LAW:
        return None
    try:
        cal = load_law(CALIBRATED_PTQ_LAW)
        b = plan.bits
        return float(cal.ptq_degradation(plan.params, plan.tokens, plan.inference_precision, b.weights, b.activations, b.kv))
    except PrecplanError:
        return None


def _what(p: Plan) -> str:
    fmt = p.format or p.train_format or f"{p.bits.weights:.3g}-bit"
    return f"{format_count(p.params)} on {format_count(p.tokens)} tokens in {fmt}"


def _where(p: Plan) -> str:
    if p.gpu is None:
        return ""
    if p.wall_days is None or p.gpus is None:
        return f" on {p.gpu.upper()}s"
    days = f"{p.wall_days:,.0f}" if p.wall_days >= 100 else f"{p.wall_days:.3g}"
    return f" ({days} days on {p.gpus} {p.gpu.upper()}s)"


def _verdict(plan: Plan, plaus: Plausibility, trust: str, cal_ptq: float | None) -> str:
    refused = plan.mode == "target-loss" and not plaus.within and plaus.edge is None  # no plausible plan reaches it
    lo, hi = plaus.bounds
    if plan.mode == "target-loss":
        cost = f"{plan.gpu_hours:,.0f} GPU-hours" if plan.gpu_hours is not None else f"{plan.total_flops:.3g} FLOPs"
        lifetime = any(n.startswith("serving 'lifetime-cost'") for n in plan.notes)
        if refused:
            buys = " (the loss the cluster's budget buys)" if lifetime else ""
            where = _where(plan)[2:-1] + "; " if _where(plan).startswith(" (") else ""
            lead = (f"No plausible plan reaches loss {plan.target_loss:.4g}{buys}: the cheapest by {plan.law} trains {_what(plan)}"
                    f" ({where}{plaus.tokens_per_param:.3g} tokens/param; real runs span {lo:g}-{hi:,.0f})")
        elif lifetime:
            lead = (f"For the least lifetime cost (training + serving {format_count(plan.inference_tokens)} tokens) at the loss"
                    f" the cluster's budget buys ({plan.target_loss:.4g}), train {_what(plan)}{_where(plan)}, {cost} over its life")
        else:
            lead = f"Reach loss {plan.target_loss:.4g} by training {_what(plan)}{_where(plan)} ({cost} over its life)"
    else:
        lead = f"Train {_what(plan)}{_where(plan)}"
    if plan.inference_precision is not None:
        lead += f"; serving at {plan.inference_precision:g} bits costs {plan.decomposition.ptq_degradation:.2g} nats by {plan.law}"
        if cal_ptq is not None and math.isfinite(cal_ptq):
            lead += f" ({cal_ptq:.2g} by {CALIBRATED_PTQ_LAW}, refit on real models)"
    parts = [lead + "."]
    if not plaus.within:
        if refused:
            out = f"The shape is driven by {plaus.driver}."
        else:
            out = (f"This plan is outside real practice: {plaus.tokens_per_param:.3g} tokens/param (real runs span"
                   f" {lo:g}-{hi:,.0f}), driven by {plaus.driver}.")
        if plaus.edge is not None:
            e = plaus.edge
            cost = (f"{e['cost_ratio']:.2f}x the lifetime cost" if plan.mode == "target-loss" and e.get("cost_ratio")
                    else f"loss {e['loss_gap']:+.4f}")
            out += (f" Within practice: {format_count(e['params'])} on {format_count(e['tokens'])} tokens"
                    f" ({e['tokens_per_param']:.3g} tokens/param, {cost}).")
        if plaus.fallback is not None:
            f = plaus.fallback
            out += (f" Plausible instead: train {format_count(f['params'])} on {format_count(f['tokens'])} tokens"
                    f" ({f['tokens_per_param']:.3g} tokens/param) within the cluster's budget, serving priced beside it"
                    f" (loss {f['loss']:.4f}).")
        if plaus.calibrated is not None:
            c = plaus.calibrated
            also = "" if within_envelope(c["tokens_per_param"]) else ", also outside practice"
            out += (f" Under {CALIBRATED_PTQ_LAW}: {format_count(c['params'])} on {format_count(c['tokens'])} tokens"
                    f" ({c['tokens_per_param']:.3g} tokens/param{also}).")
        parts.append(out)
    parts.append(f"Trust: {trust}.")
    return " ".join(parts)


_FLOAT_NOTE = re.compile(r"^floating-point weights \((?P<fmt>[^)]+)\) served by (?P<law>\S+), the law's float variant$")
_EXTRAPOLATES = re.compile(r"the law extrapolates \((?P<what>.+?); not a measured regime\)")


def condensed(plan: Any) -> tuple[list[str], list[str]]:
    """A plan's (or a sweep's) notes and warnings with each fact said once: repeated notes dropped, the
    float-variant notes of several rows merged, the "no coefficient samples" law fact made one
    short line, and the extrapolation warnings (one per quantity, and the lead) made one line.

    Returns
    -------
    (notes, warnings) : (list of str, list of str)
    """
    notes: list[str] = []
    floats: dict[str, list[str]] = {}
    law_id = getattr(plan, "law", None) or plan.family.id
    for n in plan.notes:
        m = _FLOAT_NOTE.match(n)
        if m:
            floats.setdefault(m["law"], []).append(m["fmt"])
        elif "carries no coefficient samples" in n:
            notes.append(f"law {law_id}: no coefficient samples, so point estimates without intervals (precplan laws show {law_id})")
        elif n not in notes:
            notes.append(n)
    for law, fmts in floats.items():
        notes.append(f"floating-point weights ({', '.join(dict.fromkeys(fmts))}) predicted by {law}, the law's float variant")
    warnings: list[str] = []
    extrapolating = None
    for w in plan.warnings:
        m = _EXTRAPOLATES.search(w)
        if m:
            extrapolating = extrapolating or m["what"]
        elif "outside the range law" in w and not w.startswith("bits"):
            extrapolating = extrapolating or w.split(":")[0]
        elif w not in warnings:
            warnings.append(w)
    if extrapolating:
        warnings.insert(0, f"extrapolation: {extrapolating} (how far to trust it: see the verdict)")
    return notes, warnings


def laws_verdict(results: list) -> str | None:
    """One sentence over the plans of several laws (:func:`~precplan.optimize.compare_laws`):
    how far apart they put N* and D*, and which law extrapolates least.

    Returns ``None`` with fewer than two plans."""
    plans = [r for r in results if isinstance(r, Plan)]
    if len(plans) < 2:
        return None
    n = [p.params for p in plans]
    d = [p.tokens for p in plans]
    text = (f"The laws put N* at {format_count(min(n))} to {format_count(max(n))} ({max(n) / min(n):.3g}x apart) and D* at"
            f" {format_count(min(d))} to {format_count(max(d))} ({max(d) / min(d):.3g}x apart).")
    scored = [p for p in plans if p.extrapolation_factor is not None]
    if scored:
        best = min(scored, key=lambda p: p.extrapolation_factor)
        text += f" Least extrapolated: {best.law} ({_what(best)}), {best.trust}."
    return text


def sweep_verdict(law: Any, params: Any, tokens: Any, budget: Any) -> str:
    """One sentence over a budget sweep: how N*, D* and D/N move, how many plans lie outside the
    plausibility envelope, and how far to trust the furthest-extrapolated plan."""
    import numpy as np

    N, D = np.asarray(params, dtype=float), np.asarray(tokens, dtype=float)
    tpp = D / N
    out = np.sum((tpp < MIN_TOKENS_PER_PARAM) | (tpp > MAX_TOKENS_PER_PARAM))
    over = "" if budget is None else f" over budgets {np.min(budget):.3g} to {np.max(budget):.3g}"
    text = (f"{law.id}{over}: N* {format_count(N.min())} to {format_count(N.max())}, D* {format_count(D.min())} to"
            f" {format_count(D.max())}, {tpp.min():.3g} to {tpp.max():.3g} tokens/param.")
    if out:
        text += (f" {int(out)} of {N.size} plans lie outside real practice ({MIN_TOKENS_PER_PARAM:g}-{MAX_TOKENS_PER_PARAM:,.0f}"
                 " tokens/param).")
    return text + f" Trust, at the furthest plan: {trust_phrase(extrapolation(law, N, D).factor)}."
