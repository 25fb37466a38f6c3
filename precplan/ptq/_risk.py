"""``ptq-risk``: how much post-training quantization (PTQ) hurts, and when more data starts to hurt.

Kumar et al. 2024 ("Scaling Laws for Precision") found that PTQ degrades a model more the
longer it was trained (eq. 2): at fixed N and serving precision P_post the post-PTQ loss

    L(D) = E + A N_eff^-alpha + B D^-beta + K D^gamma_D,
    K    = C_T exp(-P_post / gamma_post + b) / N_eff^gamma_N * R            (eqs. 2, 8-9)

falls and then rises in D. Its minimum is the critical data size D_crit (eq. 13; the printed
eq. 12 drops a beta). All loss values here come from :class:`precplan.laws._law.Law` methods; the
only new math is the closed form of D_crit (:func:`d_crit`). Results are plain dataclasses
that :mod:`precplan.cli._render` turns into JSON and ``precplan.cli._ptq_risk`` into tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from precplan.errors import PrecplanError
from precplan.laws import (
    ASSUMED_LABEL, DEFAULT_LEVEL, ROBUSTNESS, Law, as_law, check_level, extrapolation_lead, intervals, law_for_weights,
    plausibility_warnings, uncertainty, uncertainty_notes,
)
from precplan.units import format_count, parse_count
from precplan.precision import Bits, Precision, parse_precision
from precplan.ptq._evidence import ptq_evidence
from precplan.ptq._math import d_crit
from precplan.ptq._results import CurvePoint, PtqCurves, PtqRisk, PtqSweep, ServingRow, TrainingOption
from precplan.ptq._verdict import NEAR_FACTOR, data_status, offset_note, verdict  # noqa: F401 (NEAR_FACTOR re-exported)

__all__ = ["DEFAULT_POSTS", "d_crit", "degradation_curves", "plot_token_grid", "ptq_risk", "ptq_sweep"]

DEFAULT_POSTS = (2, 3, 4, 5, 6, 7, 8)


# ------------------------------------------------------------------------------------ math
# ------------------------------------------------------------------------------------ setup
@dataclass(frozen=True)
class _Setup:
    law: Law
    bits: Bits
    post: Precision
    posts: list[Precision]
    notes: list[str]


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _setup(law, params, tokens, post, posts, weights, activations, kv) -> _Setup:
    """Validate the request; pick the law variant for the weight format; settle the precisions."""
    law.require_ptq()
    tokens = np.atleast_1d(np.asarray(tokens, dtype=float))
    if not (np.isfinite(params) and params > 0) or not np.all(np.isfinite(tokens) & (tokens > 0)):
        raise PrecplanError("--params and --tokens must be positive numbers")
    pw, pa, pkv = (parse_precision(p) for p in (weights, activations, kv))
    law, variant_note = law_for_weights(law, pw)
    law.require_ptq()
    law.check_domain(params, tokens, pw.bits, pa.bits, pkv.bits)
    head = parse_precision(post)

    def check(p: Precision, option: str) -> None:
        if p.bits >= pw.bits:
            example = 4 if pw.bits > 4 else max(np.ceil(pw.bits) - 1, 1)
            raise PrecplanError(
                f"{option} {p.name} is at or above the weights' training precision ({pw.bits:g} bits):"
                f" post-training quantization must go below it (e.g. --post {example:g})"
            )

    check(head, "--post")
    if posts is None:
        chosen = [parse_precision(b) for b in DEFAULT_POSTS if b < pw.bits]
    else:
        chosen = [parse_precision(p) for p in posts]
        for p in chosen:
            check(p, "--posts")
    chosen = [p for p in chosen if p.bits != head.bits] + [head]  # the headline's name wins
    unique = {p.bits: p for p in reversed(chosen)}  # otherwise the first mention of a bit count
    ordered = sorted(unique.values(), key=lambda p: p.bits)
    notes = [variant_note] if variant_note else []
    floats = [p.name for p in ordered if p.is_float]
    if floats and law.weight_format != "float":
        notes.append(
            f"the PTQ terms were fit on integer quantization (GPTQ); {', '.join(floats)} is predicted as an"
            " integer format of the same bit count"
        )
    if "bits" in law.fit_range:
        lo, hi = law.fit_range["bits"]
        outside = [p.name for p in ordered if not lo <= p.bits <= hi]
        if outside:
            notes.append(
                f"serving precision {', '.join(outside)} lies outside the bits law {law.id!r} was fit on"
                f" ({lo:g}..{hi:g}): those rows extrapolate"
            )
    notes += offset_note(law)  # D_crit and the degradation depend on how b_post is read
    return _Setup(law, Bits(pw.bits, pa.bits, pkv.bits), head, ordered, notes)


def _assumed_notes(law: Law, s: _Setup) -> tuple[list[str], list[str]]:
    """Which robustness constants are assumed, and how much they move the headline numbers."""
    b = s.bits
    options = [name for name in ROBUSTNESS if name in law.assumed]  # the lower-precision rows
    assumed = law.assumed_robustness_constants(s.post.bits, b.weights, b.activations, b.kv)
    if not options:
        return [], []
    if not assumed:
        return options, [
            f"the headline numbers do not depend on assumed constants (trained at the law's reference"
            f" precision, the robustness term is 1); the 'trained at lower precision' rows use"
            f" {', '.join(options)}: {ASSUMED_LABEL}"
        ]
    r = float(law.robustness(s.post.bits, b.weights, b.activations, b.kv))
    shift = r ** (-1.0 / (law.c("gamma_D") + law.c("beta"))) if r > 0 else float("inf")
    note = (
        f"the PTQ degradation is scaled by the training-precision robustness term (Kumar et al. eq. 9)"
        f" R = {r:.4f} at {s.post.name}, which uses {', '.join(assumed)}: {ASSUMED_LABEL};"
        f" R moves D_crit by a factor R^(-1/(gamma_D+beta)) = {shift:.4g}. The 'trained at lower"
        " precision' rows depend on these assumptions most."
    )
    return assumed, [note]


def _serving_rows(law: Law, params: float, s: _Setup, tokens: float | None) -> list[ServingRow]:
    b = s.bits
    bits = np.array([p.bits for p in s.posts])
    dcs = d_crit(law, params, bits, b.weights, b.activations, b.kv)
    at_dc = law.loss(params, np.where(np.isfinite(dcs), dcs, 1.0), b.weights, b.activations, b.kv, post=bits)
    rows = []
    if tokens is not None:
        before = float(law.loss(params, tokens, b.weights, b.activations, b.kv))
        after = law.loss(params, tokens, b.weights, b.activations, b.kv, post=bits)
        deltas = law.ptq_degradation(params, tokens, bits, b.weights, b.activations, b.kv)
    for i, p in enumerate(s.posts):
        dc = float(dcs[i])
        extra = {}
        if tokens is not None:
            deg = float(deltas[i])
            extra = dict(
                loss_after=float(after[i]),
                degradation=deg,
                degradation_share=deg / (before - law.c("E")),
                perplexity_factor=float(np.exp(deg)),
                tokens_over_d_crit=tokens / dc if np.isfinite(dc) else 0.0,
                status=data_status(tokens, dc),
            )
        rows.append(ServingRow(p.bits, p.name, _finite(dc), float(at_dc[i]) if np.isfinite(dc) else None, **extra))
    return rows


def _training_options(law: Law, params: float, tokens: float, s: _Setup) -> list[TrainingOption]:
    """The planned training precisions, 8-bit training of every operand, and weights trained
    natively at the serving precision (no PTQ needed), each served at ``s.post``."""
    b, post = s.bits, s.post.bits
    options = [(f"as planned: {b.weights:g}/{b.activations:g}/{b.kv:g}", b)]
    if post < 8 < min(b.weights, b.activations, b.kv):
        options.append(("all at 8 bits: 8/8/8", Bits(8.0, 8.0, 8.0)))
    options.append((f"weights natively at {s.post.name} (no PTQ): {post:g}/{b.activations:g}/{b.kv:g}", Bits(post, b.activations, b.kv)))
    out = []
    for label, o in options:
        n_eff = float(law.effective_params(params, o.weights, o.activations, o.kv))
        if n_eff <= 0:
            out.append(TrainingOption(label, o, False, None, None, None, None, None))
            continue
        before = float(law.loss(params, tokens, o.weights, o.activations, o.kv))
        after = float(law.loss(params, tokens, o.weights, o.activations, o.kv, post=post))
        delta = float(law.ptq_degradation(params, tokens, post, o.weights, o.activations, o.kv))
        r = float(law.robustness(post, o.weights, o.activations, o.kv))
        dc = float(d_crit(law, params, post, o.weights, o.activations, o.kv))
        out.append(TrainingOption(label, o, True, before, delta, after, r, _finite(dc)))
    return out


@dataclass(frozen=True)
class _Point:
    """The PTQ quantities at one or many token counts (arrays), shared by the single point and
    the sweep so that both compute them the same way."""

    before: np.ndarray
    after: np.ndarray
    delta: np.ndarray
    d_crit: np.ndarray


def _evaluate(law: Law, params: float, tokens: ArrayLike, s: _Setup) -> _Point:
    """Loss before and after PTQ (Kumar et al. 2024, eq. 10), the degradation (eqs. 2, 8-9) and
    D_crit (eq. 13), for ``tokens`` at the setup's precisions. A sampled law (``law.sampled(2)``,
    samples on axis 0) gives every coefficient sample at once."""
    b, p = s.bits, s.post.bits
    return _Point(
        before=law.loss(params, tokens, b.weights, b.activations, b.kv),
        after=law.loss(params, tokens, b.weights, b.activations, b.kv, post=p),
        delta=law.ptq_degradation(params, tokens, p, b.weights, b.activations, b.kv),
        d_crit=np.asarray(d_crit(law, params, p, b.weights, b.activations, b.kv)),
    )


def _loss_at(law: Law, params: float, dc: float, s: _Setup) -> float | None:
    """The post-PTQ loss at D_crit (None where D_crit is infinite)."""
    b = s.bits
    return float(law.loss(params, dc, b.weights, b.activations, b.kv, post=s.post.bits)) if np.isfinite(dc) else None


@dataclass(frozen=True)
class _Assessment:
    """Everything ``ptq_risk`` and ``ptq_sweep`` share: one evaluation over the token array."""

    s: _Setup
    params: float
    tokens: np.ndarray
    point: _Point
    d_crit: float
    loss_at_d_crit: float | None
    assumed: list[str]
    notes: list[str]
    warnings: list[str]
    samples: _Point | None  # the same quantities per coefficient sample (samples x tokens), if the law has samples


def _assess(law, params, tokens, post, posts, weights, activations, kv) -> _Assessment:
    """Validate, evaluate at every token count at once, and collect the warnings and notes."""
    law, params = as_law(law), parse_count(params, "params")
    tokens = np.atleast_1d(np.asarray([parse_count(t, "tokens") for t in np.atleast_1d(tokens)], dtype=float))
    s = _setup(law, params, tokens, post, posts, weights, activations, kv)
    law, b, p = s.law, s.bits, s.post.bits
    pt = _evaluate(law, params, tokens, s)
    dc = float(pt.d_crit)
    assumed, notes = _assumed_notes(law, s)
    warnings = law.extrapolation_warnings(params, tokens, [b.weights, b.activations, b.kv, p])
    warnings += plausibility_warnings(params, tokens, None, what="this model")
    samples = None
    if law.has_samples:
        S = law.samples.count
        sp = _evaluate(law.sampled(2), params, tokens[None, :], s)
        samples = _Point(*(np.broadcast_to(np.asarray(x, dtype=float), (S, tokens.size)) for x in (sp.before, sp.after, sp.delta)),
                         d_crit=np.broadcast_to(np.asarray(d_crit(law.sampled(), params, p, b.weights, b.activations, b.kv), dtype=float), (S,)))
    return _Assessment(s, params, tokens, pt, dc, _loss_at(law, params, dc, s), assumed, s.notes + notes, warnings, samples)


def _uncertainty(law: Law, a: _Assessment, level: float) -> dict | None:
    """Intervals over the law's coefficient samples: D_crit, and per token count the loss before
    and after PTQ and the degradation (lists in token order)."""
    if a.samples is None:
        return None
    sp = a.samples
    head = uncertainty(law, level, {"d_crit": sp.d_crit})
    for key, arr in (("loss_before", sp.before), ("loss_after", sp.after), ("degradation", sp.delta)):
        head[key] = intervals(arr.T, level)
    return head


def _single(unc: dict | None) -> dict | None:
    """The one-token-count view of :func:`_uncertainty`: each per-token list becomes its one interval."""
    if unc is None:
        return None
    return {k: (v[0] if k in ("loss_before", "loss_after", "degradation") else v) for k, v in unc.items()}


# ------------------------------------------------------------------------------------ API
def ptq_risk(
    law: Law | str,
    params: float | str,
    tokens: float | str,
    post: Precision | float | str = 4,
    posts: list | None = None,
    weights: Precision | float | str = 16,
    activations: Precision | float | str = 16,
    kv: Precision | float | str = 16,
    level: float = DEFAULT_LEVEL,
) -> PtqRisk:
    """PTQ risk of an ``params``-parameter model trained on ``tokens`` tokens, served at ``post``
    (the headline), with a table over ``posts`` (default 2..8 bits below the training precision):
    the one-token-count view of :func:`ptq_sweep`'s evaluation, plus the training-precision
    options, the nearest published measurements and the real-model evidence.

    Parameters
    ----------
    law : Law or str
        A law with PTQ terms (kumar2024).
    params, tokens : float or str
        Parameters and training tokens (``8B``, ``15T``).
    post : precision
        Serving precision of the headline (bits or a format: ``4``, ``int4``).
    posts : list or None
        Serving precisions of the table.
    weights, activations, kv : precision
        Training precisions (default 16).
    level : float
        Central interval level over coefficient samples.

    Returns
    -------
    PtqRisk
        ``verdict`` is the evidence-led sentence (:func:`precplan.ptq.ptq_evidence`) where the law
        has PTQ terms to compare; ``law_verdict`` the law's own statement about D_crit.

    Raises
    ------
    PrecplanError
        Non-positive ``params``/``tokens``, a serving precision at or above the training one.

    Example
    -------
    >>> from precplan.ptq import ptq_risk
    >>> r = ptq_risk("kumar2024", "8B", "15T", post=4)
    >>> round(r.perplexity_factor, 2), round(r.evidence.calibrated_perplexity, 2) < 1.2
    (1.49, True)
    """
    level = check_level(level)
    a = _assess(law, params, tokens, post, posts, weights, activations, kv)
    s, law, params = a.s, a.s.law, a.params
    b, p, tokens = s.bits, s.post.bits, float(a.tokens[0])
    before, after, delta = float(a.point.before[0]), float(a.point.after[0]), float(a.point.delta[0])
    dc, at_dc = a.d_crit, a.loss_at_d_crit
    status = data_status(tokens, dc)
    far = extrapolation_lead(law, params, tokens) is not None  # the evidence's trust line says how far
    said = verdict(status, tokens, dc, s.post.name, after, at_dc if at_dc is not None else after,
                   f"{law.id}'s formula says" if far else None)
    warnings = list(a.warnings)
    if status == "near":
        warnings.append(said)
    table = _serving_rows(law, params, s, tokens)
    warnings += [w for row in table for w in
                 plausibility_warnings(params, None, row.loss_after, loss_what=f"the {row.post_name} row's loss after PTQ")]
    unc = _single(_uncertainty(law, a, level))
    ev = ptq_evidence(law, params, tokens, p, s.post.name, b, level)
    return PtqRisk(
        law=law.id,
        params=float(params),
        tokens=tokens,
        bits=b,
        post_bits=p,
        post_name=s.post.name,
        loss_before=before,
        loss_after=after,
        degradation=delta,
        degradation_share=delta / (before - law.c("E")),
        d_crit=_finite(dc),
        loss_at_d_crit=at_dc,
        tokens_over_d_crit=tokens / dc if np.isfinite(dc) else 0.0,
        status=status,
        verdict=ev.verdict,
        robustness=float(law.robustness(p, b.weights, b.activations, b.kv)),
        irreducible=law.c("E"),
        effective_params=float(law.effective_params(params, b.weights, b.activations, b.kv)),
        table=table,
        training=_training_options(law, params, tokens, s),
        assumed=a.assumed,
        warnings=warnings,
        notes=a.notes + ([] if unc is None else uncertainty_notes(law, unc)),
        measured=ev.measured,
        uncertainty=unc,
        perplexity_factor=float(np.exp(delta)),
        law_verdict=said,
        evidence=ev,
        law_facts=law_facts(law),
    )


def law_facts(law: Law) -> str:
    """The law's facts in one short line: the range it was fit on and whether it carries samples."""
    r = law.fit_range
    span = ", ".join(f"{format_count(r[k][0])}-{format_count(r[k][1])} {k}" for k in ("params", "tokens") if k in r)
    samples = f"{law.samples.count} coefficient samples ({law.samples.method})" if law.has_samples else "no coefficient samples (point estimates)"
    return f"{law.id}: fit on {span or 'an unstated range'}; {samples}; details: precplan laws show {law.id}"


def ptq_sweep(
    law: Law | str,
    params: float | str,
    tokens: ArrayLike,
    post: Precision | float | str = 4,
    posts: list | None = None,
    weights: Precision | float | str = 16,
    activations: Precision | float | str = 16,
    kv: Precision | float | str = 16,
    level: float = DEFAULT_LEVEL,
) -> PtqSweep:
    """The degradation curve over a token sweep at ``post`` (Kumar et al. 2024, fig. 3), with
    intervals per token count when the law carries coefficient samples: the same evaluation as
    :func:`ptq_risk`, over every token count at once."""
    level = check_level(level)
    a = _assess(law, params, tokens, post, posts, weights, activations, kv)
    s, law, params, tokens = a.s, a.s.law, a.params, a.tokens
    pt, dc, E = a.point, a.d_crit, law.c("E")
    curve = [
        CurvePoint(float(d), float(lb), float(la), float(dl), float(dl / (lb - E)), bool(d > dc), data_status(d, dc),
                   float(np.exp(dl)))
        for d, lb, la, dl in zip(tokens, pt.before, pt.after, pt.delta)
    ]
    unc = _uncertainty(law, a, level)
    if unc is not None:
        unc.pop("loss_before", None)
    return PtqSweep(
        law=law.id,
        params=float(params),
        bits=s.bits,
        post_bits=s.post.bits,
        post_name=s.post.name,
        d_crit=_finite(dc),
        loss_at_d_crit=a.loss_at_d_crit,
        curve=curve,
        table=_serving_rows(law, params, s, None),
        assumed=a.assumed,
        warnings=a.warnings + plausibility_warnings(params, None, pt.after, loss_what=f"the loss after PTQ to {s.post.name}"),
        notes=a.notes + ([] if unc is None else uncertainty_notes(law, unc)),
        uncertainty=unc,
        law_facts=law_facts(law),
    )


def degradation_curves(
    law: Law,
    params: float,
    tokens: ArrayLike,
    posts: ArrayLike,
    weights: float = 16,
    activations: float = 16,
    kv: float = 16,
    planned_tokens: float | None = None,
    level: float = DEFAULT_LEVEL,
) -> PtqCurves:
    """Post-PTQ loss and degradation on a token grid for each serving precision (for plots).
    Precisions are bit counts here (the caller validated them); the law is used as given."""
    law.require_ptq()
    t = np.asarray(tokens, dtype=float)
    bits = np.asarray([parse_precision(p).bits for p in np.atleast_1d(posts)], dtype=float)
    names = [parse_precision(p).name for p in np.atleast_1d(posts)]
    before = law.loss(params, t, weights, activations, kv)
    after = law.loss(params, t[None, :], weights, activations, kv, post=bits[:, None])
    dcs = d_crit(law, params, bits, weights, activations, kv)
    at_dc = law.loss(params, np.where(np.isfinite(dcs), dcs, 1.0), weights, activations, kv, post=bits)
    used = {c for p in bits for c in law.robustness_constants_used(float(p), weights, activations, kv)}
    assumed = [name for name in ROBUSTNESS if name in used and name in law.assumed]
    return PtqCurves(
        law=law.id,
        params=float(params),
        bits=Bits(float(weights), float(activations), float(kv)),
        tokens=t,
        post_bits=bits,
        post_names=names,
        loss_before=before,
        loss_after=after,
        degradation=law.ptq_degradation(params, t[None, :], bits[:, None], weights, activations, kv),
        d_crit=dcs,
        loss_at_d_crit=np.where(np.isfinite(dcs), at_dc, np.nan),
        planned_tokens=planned_tokens,
        assumed=assumed,
        loss_after_band=_loss_band(law, params, t, bits, weights, activations, kv, level),
        band_level=level if law.has_samples else None,
    )


def _loss_band(law: Law, params: float, tokens: np.ndarray, bits: np.ndarray, weights: float, activations: float,
               kv: float, level: float) -> np.ndarray | None:
    """(n_posts, 2, n_tokens) central ``level`` band of the post-PTQ loss over the law's
    coefficient samples: one (samples x posts x tokens) evaluation."""
    if not law.has_samples:
        return None
    ls = law.sampled(3)
    S = law.samples.count
    after = np.broadcast_to(ls.loss(params, tokens[None, None, :], weights, activations, kv, post=bits[None, :, None]),
                            (S, bits.size, tokens.size))
    out = np.full((bits.size, 2, tokens.size), np.nan)
    for i in range(bits.size):
        for j, band in enumerate(intervals(after[:, i, :].T, level)):
            if band is not None:
                out[i, :, j] = band
    return out


def plot_token_grid(tokens: ArrayLike, d_crits: ArrayLike, points: int = 200, span: float = 1e3) -> np.ndarray:
    """A log-spaced token grid covering the planned tokens and the finite D_crits, at most
    ``span`` times beyond the planned range on either side."""
    t = np.atleast_1d(np.asarray(tokens, dtype=float))
    dc = np.asarray(d_crits, dtype=float)
    dc = dc[np.isfinite(dc)]
    lo, hi = float(t.min()), float(t.max())
    if t.size == 1:
        lo_all = min([lo] + list(dc)) / 3.0
        hi_all = max([hi] + list(dc)) * 3.0
        lo, hi = max(lo_all, lo / span), min(hi_all, hi * span)
    return np.logspace(np.log10(lo), np.log10(hi), points)
