"""Shared fixtures: a CLI runner and the published constants typed in from the papers (independent
of the bundled YAML files, so tests check the files as well as the math)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

# Kumar et al. 2024, Appendix K Table 2, as typed in from the paper (docs/science.md section 2).
KUMAR = dict(
    E=2.7648, A=4.299e3, B=1.806e4, alpha=0.4965, beta=0.4965,
    gamma_w=2.6745, n_w=0.3037, gamma_a=2.2102, n_a=1.4072, gamma_kv=0.9578, n_kv=2.4185,
    C_T=0.0598, gamma_D=0.5068, gamma_N=0.3439, gamma_post=0.5907, b_post=1.1277,
)

# Real published runs bundled with the repository (data/README.md gives sources and licenses).
EXTERNAL = Path(__file__).resolve().parents[1] / "data"


def kumar_factor(bits: float, operand: str) -> float:
    """1 - exp(-P/gamma_x + n_x), written out from docs/science.md section 4 (not from precplan)."""
    return 1.0 - math.exp(-bits / KUMAR[f"gamma_{operand}"] + KUMAR[f"n_{operand}"])


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


