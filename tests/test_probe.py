"""Record in the learner's kernel, replay in the grader: the replayed hidden check reaches
the same verdict as the hidden check run directly, and nothing done on the recording side
(monkeypatching the checks, numpy or assert; editing the record) buys a pass."""
from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

import autograder.checks.core as core
from autograder.hidden import fc_layers as hidden
from autograder.probe import PROBE_ENV, ReplayError, write_seed
from tests.known_wrong import fc_layers as fc_wrong
from tests.known_wrong.registry import LESSONS as WRONG

#: lesson -> (its hidden checks, its known-wrong variants): every lesson's record/replay is tested.
LESSONS = {name: (importlib.import_module(f"autograder.hidden.{name}"), wrong) for name, wrong in WRONG.items()}


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A probe folder with a grading-time seed, as the grader prepares it."""
    folder = tmp_path / "probe"
    write_seed(folder, int(np.random.default_rng().integers(2**62)))
    monkeypatch.setenv(PROBE_ENV, str(folder))
    return folder


def _record(check_name: str, functions, folder, monkeypatch, module=hidden):
    getattr(module, check_name)(*functions)  # "in the kernel": records, judges nothing
    monkeypatch.delenv(PROBE_ENV)
    return getattr(module, check_name).verify(folder)  # "in the grader"


CORRECT_CASES = [
    pytest.param(lesson, name, id=f"{lesson}.{name}")
    for lesson, (_, wrong_module) in LESSONS.items()
    for name in sorted(wrong_module.CORRECT)
]


@pytest.mark.parametrize("lesson, check_name", CORRECT_CASES)
def test_correct_functions_pass_after_replay(lesson, check_name, probe, monkeypatch):
    module, wrong_module = LESSONS[lesson]
    report = _record(check_name, wrong_module.CORRECT[check_name], probe, monkeypatch, module)
    assert not report.failures, report.summary()


HIDDEN_VARIANTS = [
    pytest.param(lesson, name, wrong, id=f"{lesson}.{name}.{wrong.name}")
    for lesson, (_, wrong_module) in LESSONS.items()
    for name, variants in wrong_module.VARIANTS.items()
    for wrong in variants
    if "hidden" in wrong.caught_by
]


@pytest.mark.parametrize("lesson, check_name, wrong", HIDDEN_VARIANTS)
def test_known_wrong_variants_fail_after_replay(lesson, check_name, wrong, probe, monkeypatch, capsys):
    try:
        report = _record(check_name, wrong.functions, probe, monkeypatch, LESSONS[lesson][0])
    except Exception:
        return  # crashed while recording or replaying: no points either way
    assert report.failures, f"{wrong.mistake} passes the replayed hidden check"


def test_recording_prints_no_verdict(probe, capsys):
    hidden.affine_forward(fc_wrong.affine_forward_no_bias)  # wrong, but judged outside only
    out = capsys.readouterr().out
    assert "recorded" in out and "FAIL" not in out and "OK" not in out


def test_monkeypatched_checks_and_numpy_gain_nothing(probe, monkeypatch):
    # The cheat: make every in-kernel comparison pass, and make numpy agree with anything.
    monkeypatch.setattr(core.Report, "finish", lambda self: None)
    monkeypatch.setattr(core, "describe_mismatch", lambda *a, **k: ("", 0.0))
    monkeypatch.setattr(np.testing, "assert_allclose", lambda *a, **k: None)
    hidden.affine_forward(fc_wrong.affine_forward_no_bias)
    monkeypatch.undo()  # the grader's process was never patched
    monkeypatch.delenv(PROBE_ENV, raising=False)
    assert hidden.affine_forward.verify(probe).failures


def test_a_function_that_leaves_x_changed_is_caught_on_replay(probe, monkeypatch):
    report = _record("numerical_gradient", (fc_wrong.numerical_gradient_leaves_x_changed,), probe, monkeypatch)
    assert any(line.quantity == "x after" for line in report.failures)


def test_missing_or_forged_records_fail(probe, monkeypatch):
    monkeypatch.delenv(PROBE_ENV)
    with pytest.raises(ReplayError, match="left no record"):
        hidden.affine_forward.verify(probe)
    # A record whose calls do not match what the check asks for.
    monkeypatch.setenv(PROBE_ENV, str(probe))
    hidden.affine_forward(fc_wrong.CORRECT["affine_forward"][0])
    monkeypatch.delenv(PROBE_ENV)
    meta_path = probe / "affine_forward.json"
    meta = json.loads(meta_path.read_text())
    meta["calls"] = meta["calls"][:-1]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ReplayError, match="ends before"):
        hidden.affine_forward.verify(probe)
    meta["calls"][0]["function"] = "something_else"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ReplayError, match="where the check calls"):
        hidden.affine_forward.verify(probe)


def test_records_never_unpickle(probe, monkeypatch):
    hidden.affine_forward(fc_wrong.CORRECT["affine_forward"][0])
    monkeypatch.delenv(PROBE_ENV)
    np.save(probe / "affine_forward.npz", np.array([object()], dtype=object), allow_pickle=True)
    (probe / "affine_forward.npz").write_bytes((probe / "affine_forward.npz.npy").read_bytes())
    with pytest.raises(ValueError, match="allow_pickle"):
        hidden.affine_forward.verify(probe)
