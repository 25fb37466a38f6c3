"""Fixtures shared by the tests (a CLI runner, a seeded torch RNG) and pytest configuration.

The papers' constants and formulas are in tests/reference.py, brute-force oracles and synthetic
runs in tests/oracles.py; tests import those, never this file."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def torch_seed():
    """Seed torch's global generator for one test (layers initialise from it) and restore its
    state afterwards, so no test sees another's draws. Yields a seeded ``torch.Generator`` for
    the test's own random tensors."""
    torch = pytest.importorskip("torch")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield torch.Generator().manual_seed(0)


@pytest.fixture(scope="module")
def torch_seed_module():
    """:func:`torch_seed` for module-scoped fixtures (e.g. one model trained once per module)."""
    torch = pytest.importorskip("torch")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield torch.Generator().manual_seed(0)
