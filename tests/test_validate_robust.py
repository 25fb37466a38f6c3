"""Failure paths of a validate run: a data thread that raises, --compile without a compiler (CPU, fast)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from precplan.errors import PrecplanError  # noqa: E402
from precplan.validate._train import compiled_loss, placement, prefetch  # noqa: E402


def test_a_failing_data_thread_raises_in_the_consumer():
    def stream():
        yield np.zeros((2, 3))
        yield np.ones((2, 3))
        raise OSError("disk went away")

    it = prefetch(stream())
    assert next(it).sum() == 0 and next(it).sum() == 6
    result = {}

    def consume():
        try:
            next(it)
        except RuntimeError as exc:
            result["exc"] = exc

    t = threading.Thread(target=consume)
    t.start()
    t.join(timeout=10)
    assert not t.is_alive(), "the consumer hung instead of seeing the failure"
    assert "data loading failed" in str(result["exc"]) and "disk went away" in str(result["exc"])
    assert isinstance(result["exc"].__cause__, OSError)


def test_an_exhausted_data_stream_is_an_error_not_a_hang():
    it = prefetch(iter([np.zeros(1)]))
    next(it)
    with pytest.raises(RuntimeError, match="ended"):
        next(it)


def test_compile_without_a_compiler_is_one_line(monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(PrecplanError, match="--compile on the CPU needs a C/C\\+\\+ compiler"):
        compiled_loss(None, placement("cpu"))
