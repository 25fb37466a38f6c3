"""Hyperparameter-law files: ``laws/hparams/*.yaml`` (shipped in the wheel as
``precplan/_laws/hparams``). Each law gives the optimal peak learning rate and batch size (in
tokens) as a power law ``coef * N^a * D^b * C^c`` in non-embedding parameters N, training tokens
D and training compute C, with what it was fit on and its fit range."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from precplan.errors import PrecplanError
from precplan.io import bundled_dir

__all__ = ["PowerLaw", "HparamLaw", "hparam_laws_dir", "bundled_hparam_names", "load_hparam_law"]

_VARIABLES = ("params", "tokens", "compute")
_KEYS = {"id", "title", "citation", "ref", "learning_rate", "batch_tokens", "compute", "fit", "fit_range", "notes"}


@dataclass(frozen=True)
class PowerLaw:
    """``coef * params^params_exp * tokens^tokens_exp * compute^compute_exp``."""

    coef: float
    params_exp: float = 0.0
    tokens_exp: float = 0.0
    compute_exp: float = 0.0

    def __call__(self, params: float, tokens: float, compute: float) -> float:
        """The law's value at one (N, D, C)."""
        return self.coef * params ** self.params_exp * tokens ** self.tokens_exp * compute ** self.compute_exp


@dataclass(frozen=True)
class HparamLaw:
    """One hyperparameter law, as its file states it."""

    id: str
    title: str
    citation: str
    ref: str
    learning_rate: PowerLaw
    batch_tokens: PowerLaw
    compute: str
    fit: dict[str, str]
    fit_range: dict[str, tuple[float, float]]
    notes: tuple[str, ...] = field(default=())


def hparam_laws_dir() -> Path:
    """Where the bundled hyperparameter laws live (inside the wheel or ``laws/hparams``)."""
    return bundled_dir("laws") / "hparams"


def bundled_hparam_names() -> list[str]:
    """Ids of the bundled hyperparameter laws (file stems), sorted."""
    return sorted(p.stem for p in hparam_laws_dir().glob("*.yaml"))


def _power(raw: Any, where: str) -> PowerLaw:
    if not isinstance(raw, Mapping) or "coef" not in raw or set(raw) - {"coef", *_VARIABLES}:
        raise PrecplanError(f"{where}: expected {{coef, params, tokens, compute}} (exponents), got {raw!r}")
    vals = {k: float(v) for k, v in raw.items()}
    if not all(math.isfinite(v) for v in vals.values()) or vals["coef"] <= 0:
        raise PrecplanError(f"{where}: coef must be a positive number and exponents finite")
    return PowerLaw(vals["coef"], vals.get("params", 0.0), vals.get("tokens", 0.0), vals.get("compute", 0.0))


def hparam_law_from_mapping(raw: Any, where: str) -> HparamLaw:
    """Validate a parsed file; raise :class:`PrecplanError` naming the file and key."""
    if not isinstance(raw, Mapping):
        raise PrecplanError(f"{where}: not a mapping")
    missing = {"id", "title", "citation", "learning_rate", "batch_tokens", "fit", "fit_range"} - set(raw)
    unknown = set(raw) - _KEYS
    if missing or unknown:
        raise PrecplanError(f"{where}: missing keys {sorted(missing)} / unknown keys {sorted(unknown)}")
    ranges: dict[str, tuple[float, float]] = {}
    for key, pair in dict(raw["fit_range"]).items():
        if key not in _VARIABLES or len(pair) != 2 or not 0 < float(pair[0]) < float(pair[1]):
            raise PrecplanError(f"{where}: fit_range.{key} must be one of {_VARIABLES} with 0 < low < high")
        ranges[key] = (float(pair[0]), float(pair[1]))
    return HparamLaw(
        id=str(raw["id"]), title=str(raw["title"]), citation=" ".join(str(raw["citation"]).split()),
        ref=" ".join(str(raw.get("ref", "")).split()),
        learning_rate=_power(raw["learning_rate"], f"{where}: learning_rate"),
        batch_tokens=_power(raw["batch_tokens"], f"{where}: batch_tokens"),
        compute=" ".join(str(raw.get("compute", "")).split()),
        fit={str(k): " ".join(str(v).split()) for k, v in dict(raw["fit"]).items()},
        fit_range=ranges, notes=tuple(str(n) for n in raw.get("notes", []) or []),
    )


def load_hparam_law(name_or_path: str | Path) -> HparamLaw:
    """A bundled hyperparameter law by id (``deepseek2024``, ``steplaw2025``) or a YAML path.

    Raises
    ------
    PrecplanError
        Unknown name, unreadable or malformed file.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = hparam_laws_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise PrecplanError(f"unknown hyperparameter law {str(name_or_path)!r}; bundled: {', '.join(bundled_hparam_names())}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PrecplanError(f"{path}: cannot read the hyperparameter law ({type(exc).__name__})") from None
    return hparam_law_from_mapping(raw, str(path))
