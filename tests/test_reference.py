"""The reference formulas (tests/reference.py) and oracles (tests/oracles.py) check themselves
against the papers' published figures and against known answers, before other tests trust them."""

from __future__ import annotations

import numpy as np
import pytest

from oracles import bisect, gradient_by_differences, ptq_argmin, ptq_data_dependent, zoom_min
from reference import ASSUMED_C, KUMAR, LOSS_220M_16B, NEFF_RATIO_16_TO_4, kumar_loss, n_eff


def test_reference_reproduces_published_loss():
    # Kumar et al. 2024, Table 2: L(220M, 16B, 16-bit) = 3.2298 with raw counts.
    assert abs(kumar_loss(KUMAR, 220e6, 16e9) - LOSS_220M_16B) < 5e-5


def test_reference_four_bit_size_penalty():
    # N_eff(16 bits) / N_eff(4 bits) = 5.2 (all three operands at 4 bits).
    ratio = n_eff(KUMAR, 1.0) / n_eff(KUMAR, 1.0, 4.0, 4.0, 4.0)
    assert abs(ratio - NEFF_RATIO_16_TO_4) < 0.05


def test_reference_argmin_is_a_minimum():
    c = dict(KUMAR, C_w=ASSUMED_C, C_a=ASSUMED_C, C_kv=ASSUMED_C)
    d = ptq_argmin(c, 1e9, 4.0)
    y0 = ptq_data_dependent(c, 1e9, d, 4.0)
    assert ptq_data_dependent(c, 1e9, d * 1.01, 4.0) > y0 < ptq_data_dependent(c, 1e9, d / 1.01, 4.0)


def test_oracles_find_known_answers():
    # zoom_min: |x - pi| + 1 on [0, 10] (a kink: the argmin is sharp); bisect: sqrt(2) as the root
    # of 2 - x^2 on [0, 2]
    x, y = zoom_min(lambda x: np.abs(x - np.pi) + 1.0, 0.0, 10.0)
    assert x == pytest.approx(np.pi, abs=1e-9) and y == pytest.approx(1.0, abs=1e-9)
    assert float(bisect(lambda x: 2.0 - x * x, np.array(0.0), np.array(2.0))) == pytest.approx(2**0.5, rel=1e-14)
    # central differences of x0^3 + x0 x1 at (2, 5): (3 * 4 + 5, 2) = (17, 2)
    g = gradient_by_differences(lambda v: v[0] ** 3 + v[0] * v[1], np.array([2.0, 5.0]))
    np.testing.assert_allclose(g, [17.0, 2.0], rtol=1e-8)


def test_tests_import_only_reference_and_oracles_and_seed_locally():
    """The suite's layout: no test imports conftest or another test module (shared constants live in
    reference.py, oracles in oracles.py), and randomness comes from local seeded generators
    (np.random.default_rng(seed), torch.Generator().manual_seed(seed)) or the torch_seed fixture,
    never from global RNG state."""
    import re
    from pathlib import Path

    here = Path(__file__).resolve().parent
    bad_import = re.compile(r"^\s*(from|import)\s+(conftest|test_\w+)\b", re.M)
    global_rng = re.compile(
        r"np\.random\.(?!default_rng\b|Generator\b)\w+\s*\(|numpy\.random\.(?!default_rng\b|Generator\b)\w+\s*\("
        r"|^\s*import\s+random\b|^\s*from\s+random\s+import|torch\.(?:cuda\.)?manual_seed\s*\(|torch\.seed\s*\("
        r"|torch\.rand(?:n|int|perm)?\s*\((?![^\n]*generator=)",
        re.M,
    )
    offenders = []
    for path in sorted(here.glob("*.py")):
        text = path.read_text()
        if path.name == Path(__file__).name:
            text = text.split("def test_tests_import_only_reference_and_oracles_and_seed_locally")[0]
        offenders += [f"{path.name}: {m.group(0).strip()}" for m in bad_import.finditer(text)]
        if path.name != "conftest.py":  # the torch_seed fixture seeds (and restores) torch's global state
            offenders += [f"{path.name}: {m.group(0).strip()}" for m in global_rng.finditer(text)]
    assert offenders == []
