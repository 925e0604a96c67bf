"""The probes on small realistic training runs: silent on every healthy run, and each
buggy run (the seeds' post-mortems and the classic failures) reported with the right
finding, by the step documented in docs/runtime.md."""

from __future__ import annotations

import functools

import pytest

torch = pytest.importorskip("torch")

from tests.runtime import training_runs  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@functools.cache
def run(fn):
    return fn()


@pytest.mark.parametrize("name", list(training_runs.HEALTHY))
def test_healthy_run_has_no_findings(name):
    w = run(training_runs.HEALTHY[name])
    assert w.findings == [], w.summary()
    assert w.step >= 200


@pytest.mark.parametrize("name", list(training_runs.BUGGY))
def test_buggy_run_is_reported(name):
    fn, kind, code, by_step = training_runs.BUGGY[name]
    w = run(fn)
    hits = [f for f in w.findings if f.kind == kind]
    assert hits, w.summary()
    assert hits[0].code == code, w.summary()
    assert hits[0].step <= by_step, w.summary()
