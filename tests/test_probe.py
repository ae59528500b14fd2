"""Record in the learner's kernel, replay in the grader: the replayed hidden check reaches
the same verdict as the hidden check run directly, and nothing done on the recording side
(monkeypatching the checks, numpy or assert; editing the record) buys a pass."""
from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

import course.checks.core as core
from autograder.hidden import fc_layers as hidden
from course.recording import MAX_ARRAY_BYTES, PROBE_ENV, ReplayError, read_seed, write_seed
from autograder.mistakes import fc_layers as fc_wrong
from autograder.mistakes.registry import LESSONS as WRONG

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
    seed = read_seed(folder)  # the grader's own copy: it drew it
    getattr(module, check_name)(*functions)  # "in the kernel": records, judges nothing
    monkeypatch.delenv(PROBE_ENV)
    return getattr(module, check_name).verify(folder, seed)  # "in the grader"


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
    seed = read_seed(probe)
    hidden.affine_forward(fc_wrong.affine_forward_no_bias)
    monkeypatch.undo()  # the grader's process was never patched
    monkeypatch.delenv(PROBE_ENV, raising=False)
    assert hidden.affine_forward.verify(probe, seed).failures


def test_a_function_that_leaves_x_changed_is_caught_on_replay(probe, monkeypatch):
    report = _record("numerical_gradient", (fc_wrong.numerical_gradient_leaves_x_changed,), probe, monkeypatch)
    assert any(line.quantity.startswith("x") and "changed" in line.problem for line in report.failures)


def test_missing_or_forged_records_fail(probe, monkeypatch):
    seed = read_seed(probe)
    monkeypatch.delenv(PROBE_ENV)
    with pytest.raises(ReplayError, match="left no record"):
        hidden.affine_forward.verify(probe, seed)
    # A record whose calls do not match what the check asks for.
    monkeypatch.setenv(PROBE_ENV, str(probe))
    hidden.affine_forward(fc_wrong.CORRECT["affine_forward"][0])
    monkeypatch.delenv(PROBE_ENV)
    meta_path = probe / "affine_forward.json"
    meta = json.loads(meta_path.read_text())
    meta["calls"] = meta["calls"][:-1]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ReplayError, match="ends before"):
        hidden.affine_forward.verify(probe, seed)
    meta["calls"][0]["function"] = "something_else"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ReplayError, match="where the check calls") as raised:
        hidden.affine_forward.verify(probe, seed)
    assert "something_else" not in str(raised.value)  # the record's text is never echoed


def test_records_never_unpickle(probe, monkeypatch):
    seed = read_seed(probe)
    hidden.affine_forward(fc_wrong.CORRECT["affine_forward"][0])
    monkeypatch.delenv(PROBE_ENV)
    # A bare pickled .npy in place of the archive, then an archive holding one.
    np.save(probe / "affine_forward.npz", np.array([object()], dtype=object), allow_pickle=True)
    (probe / "affine_forward.npz").write_bytes((probe / "affine_forward.npz.npy").read_bytes())
    with pytest.raises(ReplayError, match="not an .npz"):
        hidden.affine_forward.verify(probe, seed)
    np.savez(probe / "affine_forward.npz", c0_r=np.array([object()], dtype=object))
    with pytest.raises(ReplayError, match="allow_pickle"):
        hidden.affine_forward.verify(probe, seed)


# ------------------------------------------------------------------ the record folder is hostile


@pytest.fixture
def recorded(probe, monkeypatch):
    """A correct record of affine_forward, and the seed the grader kept."""
    seed = read_seed(probe)
    hidden.affine_forward(fc_wrong.CORRECT["affine_forward"][0])
    monkeypatch.delenv(PROBE_ENV)
    return probe, seed


def test_the_grader_uses_the_seed_it_kept(recorded):
    probe, seed = recorded
    assert not hidden.affine_forward.verify(probe, seed).failures
    (probe / "seed").unlink()
    (probe / "seed").symlink_to("/etc/passwd")  # never read by the grader
    assert not hidden.affine_forward.verify(probe, seed).failures
    # Cases the kernel drew from a seed it chose do not replay against the grader's.
    assert hidden.affine_forward.verify(probe, seed + 1).failures


def _verify_soon(probe, seed):
    """verify in a thread: a record that blocks the grader fails the test instead of hanging it."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(hidden.affine_forward.verify, probe, seed)
        return future.result(timeout=30)


@pytest.mark.parametrize("attack", ["fifo", "dev_zero", "link_to_secret", "folder"])
def test_records_that_are_not_regular_files_are_refused(recorded, tmp_path, attack):
    import os

    probe, seed = recorded
    secret = tmp_path / "secret"
    secret.write_text('{"check": "affine_forward", "calls": [], "SECRET": 1}')
    for name in ("affine_forward.json", "affine_forward.npz"):
        (probe / name).unlink()
        if attack == "fifo":
            os.mkfifo(probe / name)
        elif attack == "dev_zero":
            (probe / name).symlink_to("/dev/zero")
        elif attack == "link_to_secret":
            (probe / name).symlink_to(secret)
        else:
            (probe / name).mkdir()
    with pytest.raises(ReplayError) as raised:
        _verify_soon(probe, seed)
    assert "SECRET" not in str(raised.value)


def test_records_are_read_under_a_cap_on_bytes_actually_read(recorded, monkeypatch):
    import course.recording as probe_module

    probe, seed = recorded
    monkeypatch.setattr(probe_module, "MAX_BYTES", 64)
    with pytest.raises(ReplayError, match="larger than"):
        hidden.affine_forward.verify(probe, seed)


def _npy_header(length: int) -> bytes:
    """The .npy header of a float64 vector of ``length`` (what the array's bytes follow)."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": (length,)})
    return buffer.getvalue()


def test_archives_are_capped_on_decompressed_size(recorded):
    import zipfile

    probe, seed = recorded
    header = _npy_header(MAX_ARRAY_BYTES // 8 + 1)
    with zipfile.ZipFile(probe / "affine_forward.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("c0_r.npy", header + bytes(MAX_ARRAY_BYTES + 8))  # about 1,000 times smaller compressed
    with pytest.raises(ReplayError, match="too large once decompressed"):
        hidden.affine_forward.verify(probe, seed)
    # Under the total, but beyond any real record's compression ratio.
    with zipfile.ZipFile(probe / "affine_forward.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("c0_r.npy", _npy_header(10**6) + bytes(8 * 10**6))
    with pytest.raises(ReplayError, match="compressed beyond"):
        hidden.affine_forward.verify(probe, seed)


def test_an_array_header_larger_than_its_member_is_refused(recorded):
    import zipfile

    probe, seed = recorded
    header = _npy_header(10**10)
    with zipfile.ZipFile(probe / "affine_forward.npz", "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("c0_r.npy", header + bytes(80))
    with pytest.raises(ReplayError, match="shorter than their headers"):
        hidden.affine_forward.verify(probe, seed)
