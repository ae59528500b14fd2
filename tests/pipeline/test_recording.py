"""Record in the learner's kernel, replay in the grader: the replayed hidden check reaches
the same verdict as the hidden check run directly, and nothing done on the recording side
(monkeypatching the checks, numpy or assert; editing the record) buys a pass."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

import course.checks.core as core
from autograder.hidden import fc_layers as hidden
from autograder.mistakes import fc_layers as fc_wrong
from autograder.mistakes.registry import LESSONS as WRONG
from course.recording import (
    MAX_ARRAY_BYTES,
    MAX_ARRAYS,
    MAX_CALLS,
    MAX_DEPTH,
    MAX_META_BYTES,
    MAX_NODES,
    MAX_STRING_CHARS,
    RECORD_ENV,
    Recorder,
    Replayer,
    ReplayError,
    Uncarried,
    read_seed,
    write_seed,
)

#: lesson -> (its hidden checks, its known-wrong variants): every lesson's record/replay is tested.
LESSONS = {name: (importlib.import_module(f"autograder.hidden.{name}"), wrong) for name, wrong in WRONG.items()}


@pytest.fixture
def record_folder(tmp_path, monkeypatch):
    """A record folder with a grading-time seed, as the grader prepares it."""
    folder = tmp_path / "record_folder"
    write_seed(folder, int(np.random.default_rng().integers(2**62)))
    monkeypatch.setenv(RECORD_ENV, str(folder))
    return folder


def _record(check_name: str, functions, folder, monkeypatch, module=hidden):
    seed = read_seed(folder)  # the grader's own copy: it drew it
    getattr(module, check_name)(*functions)  # "in the kernel": records, judges nothing
    monkeypatch.delenv(RECORD_ENV)
    return getattr(module, check_name).verify(folder, seed)  # "in the grader"


CORRECT_CASES = [
    pytest.param(lesson, name, id=f"{lesson}.{name}")
    for lesson, (_, wrong_module) in LESSONS.items()
    for name in sorted(wrong_module.CORRECT)
]


@pytest.mark.parametrize("lesson, check_name", CORRECT_CASES)
def test_correct_functions_pass_after_replay(lesson, check_name, record_folder, monkeypatch):
    module, wrong_module = LESSONS[lesson]
    report = _record(check_name, wrong_module.CORRECT[check_name], record_folder, monkeypatch, module)
    assert not report.failures, report.summary()


HIDDEN_VARIANTS = [
    pytest.param(lesson, name, wrong, id=f"{lesson}.{name}.{wrong.name}")
    for lesson, (_, wrong_module) in LESSONS.items()
    for name, variants in wrong_module.VARIANTS.items()
    for wrong in variants
    if "hidden" in wrong.caught_by
]


@pytest.mark.parametrize("lesson, check_name, wrong", HIDDEN_VARIANTS)
def test_known_wrong_variants_fail_after_replay(lesson, check_name, wrong, record_folder, monkeypatch, capsys):
    try:
        report = _record(check_name, wrong.functions, record_folder, monkeypatch, LESSONS[lesson][0])
    except Exception:
        return  # crashed while recording or replaying: no points either way
    assert report.failures, f"{wrong.mistake} passes the replayed hidden check"


def test_recording_prints_no_verdict(record_folder, capsys):
    hidden.affine_forward(fc_wrong.affine_forward_no_bias)  # wrong, but judged outside only
    out = capsys.readouterr().out
    assert "recorded" in out and "FAIL" not in out and "OK" not in out


def test_monkeypatched_checks_and_numpy_gain_nothing(record_folder, monkeypatch):
    # The cheat: make every in-kernel comparison pass, and make numpy agree with anything.
    monkeypatch.setattr(core.Report, "finish", lambda self: None)
    monkeypatch.setattr(core, "describe_mismatch", lambda *a, **k: ("", 0.0))
    monkeypatch.setattr(np.testing, "assert_allclose", lambda *a, **k: None)
    seed = read_seed(record_folder)
    hidden.affine_forward(fc_wrong.affine_forward_no_bias)
    monkeypatch.undo()  # the grader's process was never patched
    monkeypatch.delenv(RECORD_ENV, raising=False)
    assert hidden.affine_forward.verify(record_folder, seed).failures


def test_a_function_that_leaves_x_changed_is_caught_on_replay(record_folder, monkeypatch):
    report = _record("numerical_gradient", (fc_wrong.numerical_gradient_leaves_x_changed,), record_folder, monkeypatch)
    assert any(line.quantity.startswith("x") and "changed" in line.problem for line in report.failures)


def test_missing_or_forged_records_fail(record_folder, monkeypatch):
    seed = read_seed(record_folder)
    monkeypatch.delenv(RECORD_ENV)
    with pytest.raises(ReplayError, match="left no record"):
        hidden.affine_forward.verify(record_folder, seed)
    # A record whose calls do not match what the check asks for.
    monkeypatch.setenv(RECORD_ENV, str(record_folder))
    hidden.affine_forward(fc_wrong.CORRECT["affine_forward"][0])
    monkeypatch.delenv(RECORD_ENV)
    meta_path = record_folder / "affine_forward.json"
    meta = json.loads(meta_path.read_text())
    meta["calls"] = meta["calls"][:-1]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ReplayError, match="ends before"):
        hidden.affine_forward.verify(record_folder, seed)
    meta["calls"][0]["function"] = "something_else"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ReplayError, match="where the check calls") as raised:
        hidden.affine_forward.verify(record_folder, seed)
    assert "something_else" not in str(raised.value)  # the record's text is never echoed


def test_records_never_unpickle(record_folder, monkeypatch):
    seed = read_seed(record_folder)
    hidden.affine_forward(fc_wrong.CORRECT["affine_forward"][0])
    monkeypatch.delenv(RECORD_ENV)
    # A bare pickled .npy in place of the archive, then an archive holding one.
    np.save(record_folder / "affine_forward.npz", np.array([object()], dtype=object), allow_pickle=True)
    (record_folder / "affine_forward.npz").write_bytes((record_folder / "affine_forward.npz.npy").read_bytes())
    with pytest.raises(ReplayError, match="not an .npz"):
        hidden.affine_forward.verify(record_folder, seed)
    np.savez(record_folder / "affine_forward.npz", c0_r=np.array([object()], dtype=object))
    with pytest.raises(ReplayError, match="allow_pickle"):
        hidden.affine_forward.verify(record_folder, seed)


# ------------------------------------------------------------------ the record folder is hostile


@pytest.fixture
def recorded(record_folder, monkeypatch):
    """A correct record of affine_forward, and the seed the grader kept."""
    seed = read_seed(record_folder)
    hidden.affine_forward(fc_wrong.CORRECT["affine_forward"][0])
    monkeypatch.delenv(RECORD_ENV)
    return record_folder, seed


def test_the_grader_uses_the_seed_it_kept(recorded):
    record_folder, seed = recorded
    assert not hidden.affine_forward.verify(record_folder, seed).failures
    (record_folder / "seed").unlink()
    (record_folder / "seed").symlink_to("/etc/passwd")  # never read by the grader
    assert not hidden.affine_forward.verify(record_folder, seed).failures
    # Cases the kernel drew from a seed it chose do not replay against the grader's.
    assert hidden.affine_forward.verify(record_folder, seed + 1).failures


def _verify_soon(record_folder, seed):
    """verify in a thread: a record that blocks the grader fails the test instead of hanging it."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(hidden.affine_forward.verify, record_folder, seed)
        return future.result(timeout=30)


@pytest.mark.parametrize("attack", ["fifo", "dev_zero", "link_to_secret", "folder"])
def test_records_that_are_not_regular_files_are_refused(recorded, tmp_path, attack):
    import os

    record_folder, seed = recorded
    secret = tmp_path / "secret"
    secret.write_text('{"check": "affine_forward", "calls": [], "SECRET": 1}')
    for name in ("affine_forward.json", "affine_forward.npz"):
        (record_folder / name).unlink()
        if attack == "fifo":
            os.mkfifo(record_folder / name)
        elif attack == "dev_zero":
            (record_folder / name).symlink_to("/dev/zero")
        elif attack == "link_to_secret":
            (record_folder / name).symlink_to(secret)
        else:
            (record_folder / name).mkdir()
    with pytest.raises(ReplayError) as raised:
        _verify_soon(record_folder, seed)
    assert "SECRET" not in str(raised.value)


def test_records_are_read_under_a_cap_on_bytes_actually_read(recorded, monkeypatch):
    import course.recording as probe_module

    record_folder, seed = recorded
    monkeypatch.setattr(probe_module, "MAX_BYTES", 64)
    with pytest.raises(ReplayError, match="larger than"):
        hidden.affine_forward.verify(record_folder, seed)


def _npy_header(length: int) -> bytes:
    """The .npy header of a float64 vector of ``length`` (what the array's bytes follow)."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": (length,)})
    return buffer.getvalue()


def test_archives_are_capped_on_decompressed_size(recorded):
    import zipfile

    record_folder, seed = recorded
    header = _npy_header(MAX_ARRAY_BYTES // 8 + 1)
    with zipfile.ZipFile(record_folder / "affine_forward.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("c0_r.npy", header + bytes(MAX_ARRAY_BYTES + 8))  # about 1,000 times smaller compressed
    with pytest.raises(ReplayError, match="too large once decompressed"):
        hidden.affine_forward.verify(record_folder, seed)
    # Under the total, but beyond any real record's compression ratio.
    with zipfile.ZipFile(record_folder / "affine_forward.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("c0_r.npy", _npy_header(10**6) + bytes(8 * 10**6))
    with pytest.raises(ReplayError, match="compressed beyond"):
        hidden.affine_forward.verify(record_folder, seed)


def test_an_array_header_larger_than_its_member_is_refused(recorded):
    import zipfile

    record_folder, seed = recorded
    header = _npy_header(10**10)
    with zipfile.ZipFile(record_folder / "affine_forward.npz", "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("c0_r.npy", header + bytes(80))
    with pytest.raises(ReplayError, match="shorter than their headers"):
        hidden.affine_forward.verify(record_folder, seed)


# ------------------------------------------------------------------ containers: records carry plain data


def _record_calls(folder: Path, function, calls, name="f"):
    """Record ``function`` on each (args, kwargs) of ``calls``, as a hidden check does in the kernel."""
    recorder = Recorder()
    wrapped = recorder.wrap(function, name)
    results = [wrapped(*args, **kwargs) for args, kwargs in calls]
    recorder.save(folder, "check")
    return results


def _replay_calls(folder: Path, calls, name="f"):
    """Replay them in the grader, on the grader's own arguments: the results, then finish()."""
    replayer = Replayer(folder, "check")
    (stand_in,) = replayer.functions([name])
    results = [stand_in(*args, **kwargs) for args, kwargs in calls]
    replayer.finish()
    return results


def assert_same_value(actual, expected):
    """Equal in structure, types (tuple is not list, int is not bool or float, a tensor is not
    an array) and values, NaN equal to NaN."""
    import torch

    assert type(actual) is type(expected), (type(actual), type(expected))
    if isinstance(expected, torch.Tensor):
        assert actual.dtype == expected.dtype and torch.equal(actual, expected)
    elif isinstance(expected, (np.ndarray, np.generic)):
        assert actual.dtype == expected.dtype and np.shape(actual) == np.shape(expected)
        np.testing.assert_array_equal(actual, expected)
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_same_value(a, e)
    elif isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            assert_same_value(actual[key], expected[key])
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(actual)
    else:
        assert actual == expected


def _nested_value():
    import torch

    rng = np.random.default_rng(3)
    shared = rng.normal(size=(2, 3))
    return {
        "h": rng.normal(size=(2, 4, 3)),
        "cache": [(rng.normal(size=(2, 3)), shared, np.int32(7), 3, 2.5, True, None, "tanh") for _ in range(3)],
        "mask": np.array([[True, False], [False, True]]),
        "idx": np.arange(5, dtype=np.int64),
        "half": np.ones((2, 2), dtype=np.float16),
        "complex": np.array([1 + 2j, -0.5j]),
        "scalars": (np.float64(1.5), np.float32(-2.0), np.bool_(False), np.uint8(200)),
        "numbers": [0, -(2**62), 1e-300, float("inf"), float("nan"), False],
        "text": "naïve \U0001f600 \t\r\n\x00 " + "x" * 1000,
        "empty": ([], {}, (), "", np.zeros((0, 3))),
        "tensor": torch.arange(6, dtype=torch.float64).reshape(2, 3),
        "int tensor": torch.tensor([1, 2], dtype=torch.int64),
        "deep": [[[[[[[[1]]]]]]]],
    }


def test_nested_containers_round_trip(tmp_path):
    value = _nested_value()
    (returned,) = _record_calls(tmp_path, lambda: value, [((), {})])
    assert returned is value  # the learner's own value goes back to the kernel's check
    (replayed,) = _replay_calls(tmp_path, [((), {})])
    assert_same_value(replayed, value)
    # One array at every step of a cache replays as one array (a check may look for aliasing).
    steps = replayed["cache"]
    assert steps[0][1] is steps[1][1] is steps[2][1] and steps[0][0] is not steps[1][0]


def test_values_are_copied_when_the_call_returns(tmp_path):
    buffer = np.zeros(3)

    def reuses_its_buffer(x):
        buffer[:] = x
        return buffer, [buffer]

    _record_calls(tmp_path, reuses_its_buffer, [((np.full(3, 1.0),), {}), ((np.full(3, 2.0),), {})])
    first, second = _replay_calls(tmp_path, [((None,), {}), ((None,), {})])
    np.testing.assert_array_equal(first[0], np.full(3, 1.0))
    np.testing.assert_array_equal(second[1][0], np.full(3, 2.0))


def test_replayed_tensors_stay_tensors_and_arrays_stay_arrays(tmp_path):
    import torch

    tensor = torch.ones(2, dtype=torch.float64, requires_grad=True) * 2
    _record_calls(tmp_path, lambda: (tensor, np.ones(2)), [((), {})])
    ((tensor, array),) = _replay_calls(tmp_path, [((), {})])
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float64 and tensor.tolist() == [2.0, 2.0]
    assert type(array) is np.ndarray
    report = core.Report("f", quiet=True)
    report.compare("out", tensor, np.full(2, 2.0), oracle="t")  # the visible checks' torch-tensor message
    assert report.failures and "torch tensor" in report.failures[0].problem


def test_arguments_changed_by_a_call_are_replayed_into_the_checks_arguments(tmp_path):
    def meddles(seqs, grads, cache, x, window, *, options):
        seqs.append(np.array([9]))  # a list grown
        seqs[0][0] = -1  # an array inside it changed
        grads["dW"] *= 2  # an array in a dict
        grads["db"] = np.zeros(1)  # a dict entry replaced
        cache[1][:] = 0  # an array inside a tuple
        options["seen"] = True

    def arguments():
        return (
            [np.array([1, 2]), np.array([3])],
            {"dW": np.ones((2, 2)), "db": np.ones(1)},
            (np.ones(2), np.ones(3)),
            np.arange(4.0),
            3,
            {"verbose": False},
        )

    kernel = arguments()
    _record_calls(tmp_path, meddles, [(kernel[:5], {"options": kernel[5]})])
    grader = arguments()
    untouched_x = grader[3]
    _replay_calls(tmp_path, [(grader[:5], {"options": grader[5]})])
    for replayed, recorded in zip(grader, kernel):
        assert_same_value(replayed, recorded)
    assert grader[3] is untouched_x  # an argument the call left alone is not in the record
    record = json.loads((tmp_path / "check.json").read_text())
    assert set(record["calls"][0]["after"]) == {"0", "1", "2", "options"}


def _forward(x):
    return x * 2, (x.copy(), np.ones(2))


def _backward(dout, cache):
    return dout * cache[0]


def _backward_scales_its_cache(dout, cache):
    cache[0][:] *= 2  # a backward that consumes its cache: a second call would get another answer
    return dout * cache[0] / 2


def _forward_then_backward(report, forward, backward):
    """A check's calls: the backward gets the forward's own cache, which it must leave unchanged."""
    _, cache = core.call_student(forward, np.arange(3.0), returns=("out", "cache"))
    core.call_unchanged(report, backward, np.ones(3), cache, argument_names=("dout", "cache"))


@pytest.mark.parametrize("backward, changed", [(_backward, []), (_backward_scales_its_cache, ["cache"])])
def test_a_backward_that_changes_its_replayed_cache_is_caught(tmp_path, backward, changed):
    recorder = Recorder()
    _forward_then_backward(
        core.Report("b", quiet=True), recorder.wrap(_forward, "forward"), recorder.wrap(backward, "backward")
    )
    recorder.save(tmp_path, "check")
    replayer = Replayer(tmp_path, "check")
    report = core.Report("b", quiet=True)
    _forward_then_backward(report, *replayer.functions(["forward", "backward"]))
    replayer.finish()
    assert [line.quantity for line in report.failures] == changed


def test_an_argument_given_an_object_the_record_cannot_carry_fails_on_replay(tmp_path):
    _record_calls(tmp_path, lambda seqs: seqs.append(object()), [(([np.ones(2)],), {})])
    seqs = [np.ones(2)]
    _replay_calls(tmp_path, [((seqs,), {})])
    assert isinstance(seqs[1], Uncarried)
    before = core.snapshot([np.ones(2)])
    assert not core._same(before, seqs)  # the visible checks' "left changed" sees it


class SecretObject:
    """A learner's own kind of object: the record cannot carry it."""


def _nested(depth):
    value = np.ones(2)
    for _ in range(depth):
        value = [value]
    return value


def _self_containing():
    value = []
    value.append(value)
    return value


def _bfloat16():
    import torch

    return torch.ones(2, dtype=torch.bfloat16)


UNCARRIABLE = {
    "object": (SecretObject, "not plain data"),
    "int keys": (lambda: {1: np.ones(2)}, "not plain data"),
    "object array": (lambda: np.array([np.ones(2), None], dtype=object), "of a type the record does not carry"),
    "str array": (lambda: np.array(["a", "b"]), "of a type the record does not carry"),
    "bfloat16": (_bfloat16, "of a type the record does not carry"),
    "deep": (lambda: _nested(MAX_DEPTH + 5), f"more than {MAX_DEPTH} levels deep"),
    "self-containing": (_self_containing, f"more than {MAX_DEPTH} levels deep"),
    "long string": (lambda: "x" * (MAX_STRING_CHARS + 1), "more data than a record may hold"),
}


@pytest.mark.parametrize("kind", UNCARRIABLE)
def test_a_value_the_record_cannot_carry_fails_the_replayed_comparison(tmp_path, kind):
    build, reason = UNCARRIABLE[kind]
    value = build()
    _record_calls(tmp_path, lambda: (np.ones(2), value), [((), {})])
    ((out, cache),) = _replay_calls(tmp_path, [((), {})])
    np.testing.assert_array_equal(out, np.ones(2))  # the rest of the value is carried
    while isinstance(cache, list):
        cache = cache[0]
    assert isinstance(cache, Uncarried)
    report = core.Report("f", quiet=True)
    with pytest.raises(ReplayError, match=reason) as raised:
        report.compare("cache", cache, np.ones(2), oracle="o")
    assert "SecretObject" not in str(raised.value)
    for use in (bool, len, float, iter, lambda v: v == 1, lambda v: v[0], np.asarray):
        with pytest.raises(ReplayError):
            use(cache)
    # A check that looks at the type first sees the stand-in, not a tuple: it fails too.
    assert not isinstance(cache, (tuple, list, np.ndarray)) and "SecretObject" not in repr(cache)


def test_a_cache_the_record_cannot_carry_fails_a_hidden_check(record_folder, monkeypatch):
    rnn = LESSONS["rnn_cell"]
    correct = rnn[1].CORRECT["rnn_step_forward"][0]

    def step_with_an_object_cache(*args):
        return correct(*args)[0], SecretObject()

    seed = read_seed(record_folder)
    rnn[0].rnn_step_forward(step_with_an_object_cache)
    monkeypatch.delenv(RECORD_ENV)
    try:
        report = rnn[0].rnn_step_forward.verify(record_folder, seed)
    except ReplayError as error:
        assert "SecretObject" not in str(error)
    else:
        assert any(line.quantity == "cache" for line in report.failures)


def _rnn_sequence_inputs(seed=5, N=2, T=4, D=3, H=5):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(N, T, D)),
        np.tanh(rng.normal(size=(N, H))),
        rng.normal(size=(D, H)) / 2,
        rng.normal(size=(H, H)) / 2,
        rng.normal(size=H) / 2,
    )


def _sequence_cache_report(folder: Path, rnn_forward) -> core.Report:
    """rnn_forward's comparisons, cache included, recorded in 'the kernel' and replayed."""
    from course.checks import rnn_cell as visible

    recorder = Recorder()
    visible.compare_rnn_forward(
        core.Report("rnn_forward", quiet=True),
        recorder.wrap(rnn_forward, "rnn_forward"),
        *_rnn_sequence_inputs(),
    )
    recorder.save(folder, "rnn_forward")
    replayer = Replayer(folder, "rnn_forward")
    report = core.Report("rnn_forward", aggregate=True)
    visible.compare_rnn_forward(report, *replayer.functions(["rnn_forward"]), *_rnn_sequence_inputs())
    replayer.finish()
    return report


def test_a_replayed_list_of_tuples_cache_is_compared(tmp_path):
    from autograder.reference import rnn_cell as reference

    report = _sequence_cache_report(tmp_path, reference.rnn_forward)
    assert not report.failures, report.summary()
    compared = {line.quantity for line in report.lines}
    assert {f"steps' cache[{i}] {field}" for i, field in enumerate(("x", "prev_h", "Wx", "Wh", "next_h"))} <= compared


@pytest.mark.parametrize(
    "wrong, quantity",
    [
        ("forward_cache_reversed", "steps' cache[0] x"),  # newest step first
        ("forward_one_state_buffer", "steps' cache[4] next_h"),  # every step holds one buffer
        ("forward_cache_of_states", "cache"),  # states, not step caches
    ],
)
def test_a_wrong_replayed_cache_is_caught(tmp_path, wrong, quantity):
    from autograder.mistakes import rnn_cell as mistakes

    report = _sequence_cache_report(tmp_path, getattr(mistakes, wrong))
    assert quantity in {line.quantity for line in report.failures}, report.summary()


# ------------------------------------------------------------------ hostile records of containers


def _write_record(folder: Path, calls, arrays=None, check="check"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{check}.json").write_text(json.dumps({"check": check, "calls": calls}))
    np.savez(folder / f"{check}.npz", **(arrays or {"c0_0": np.ones(2)}))


def _call(result, **extra):
    return {"function": "f", "after": {}, "result": result, **extra}


def _nested_nodes(depth):
    node = {"kind": "none"}
    for _ in range(depth):
        node = {"kind": "list", "items": [node]}
    return node


class _Touches:
    """Unpickling this creates a file: a record that holds it must never be unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def _pickled_member(folder: Path):
    import io
    import zipfile

    buffer = io.BytesIO()
    np.save(buffer, np.array([_Touches(folder.parent / "unpickled")], dtype=object), allow_pickle=True)
    _write_record(folder, [_call({"kind": "array", "array": "c0_0"})])
    with zipfile.ZipFile(folder / "check.npz", "w") as archive:
        archive.writestr("c0_0.npy", buffer.getvalue())


def _many_arrays(folder: Path):
    _write_record(folder, [_call({"kind": "none"})], {f"c0_{i}": np.zeros(1) for i in range(MAX_ARRAYS + 1)})


def _zip_bomb(folder: Path):
    import zipfile

    _write_record(folder, [_call({"kind": "array", "array": "c0_0"})])
    with zipfile.ZipFile(folder / "check.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("c0_0.npy", _npy_header(MAX_ARRAY_BYTES // 8 + 1) + bytes(MAX_ARRAY_BYTES + 8))


def _link(folder: Path):
    _write_record(folder, [_call({"kind": "none"})])
    secret = folder.parent / "secret.json"
    secret.write_text(json.dumps({"check": "check", "calls": [_call({"kind": "str", "value": "SECRET"})]}))
    (folder / "check.json").unlink()
    (folder / "check.json").symlink_to(secret)


def _fifo(folder: Path):
    import os

    _write_record(folder, [_call({"kind": "none"})])
    (folder / "check.npz").unlink()
    os.mkfifo(folder / "check.npz")


def _json_text(text: str):
    def write(folder: Path):
        _write_record(folder, [])
        (folder / "check.json").write_text(text)

    return write


def _calls(*calls, arrays=None):
    return lambda folder: _write_record(folder, list(calls), arrays)


ARRAY = {"kind": "array", "array": "c0_0"}
HOSTILE = {
    "deep values": (_calls(_call(_nested_nodes(MAX_DEPTH + 2))), "nested too deeply"),
    "deep JSON": (_json_text("[" * 100_000 + "]" * 100_000), "not valid JSON"),
    "too many values": (_calls(_call({"kind": "list", "items": [{"kind": "none"}] * MAX_NODES})), "too many values"),
    "too many dict keys": (
        _calls(
            _call(
                {"kind": "dict", "keys": [f"k{i}" for i in range(MAX_NODES)], "items": [{"kind": "none"}] * MAX_NODES}
            )
        ),
        "too many values",
    ),
    "too many calls": (_calls(*[_call({"kind": "none"})] * (MAX_CALLS + 1)), "does not belong"),
    "too many arrays": (_many_arrays, "too many arrays"),
    "string bomb": (_calls(_call({"kind": "str", "value": "SECRET" * (MAX_STRING_CHARS // 6 + 1)})), "string longer"),
    "long dict key": (
        _calls(_call({"kind": "dict", "keys": ["SECRET" * (MAX_STRING_CHARS // 6 + 1)], "items": [{"kind": "none"}]})),
        "malformed",
    ),
    "JSON bomb": (
        _json_text(json.dumps({"check": "check", "calls": [], "pad": "SECRET" * (MAX_META_BYTES // 6 + 1)})),
        "larger than",
    ),
    "huge int": (_calls(_call({"kind": "int", "value": 10**70})), "malformed"),
    "huge int literal": (
        _json_text(
            '{"check": "check", "calls": [{"function": "f", "result": {"kind": "int", "value": ' + "9" * 5000 + "}}]}"
        ),
        "not valid JSON",
    ),
    "object dtype": (_calls(_call(ARRAY), arrays={"c0_0": np.array([None, 1], dtype=object)}), "allow_pickle"),
    "pickled member": (_pickled_member, "allow_pickle"),
    "str dtype": (_calls(_call(ARRAY), arrays={"c0_0": np.array(["SECRET"])}), "type no check compares"),
    "structured dtype": (
        _calls(_call(ARRAY), arrays={"c0_0": np.zeros(2, dtype=[("a", "f8")])}),
        "type no check compares",
    ),
    "symlink": (_link, "a link, not followed"),
    "FIFO": (_fifo, "not a regular file"),
    "zip bomb": (_zip_bomb, "too large once decompressed"),
    "missing array": (_calls(_call({"kind": "array", "array": "SECRET"})), "does not hold"),
    "one array in two calls": (_calls(_call(ARRAY), _call(ARRAY)), "two calls"),
    "unknown kind": (_calls(_call({"kind": "pickle", "value": "SECRET"})), "malformed"),
    "not a node": (_calls(_call(["SECRET"])), "malformed"),
    "bool posing as int": (_calls(_call({"kind": "int", "value": True})), "malformed"),
    "scalar of an array": (_calls(_call({"kind": "scalar", "array": "c0_0"})), "malformed"),
    "keys and items differ": (
        _calls(_call({"kind": "dict", "keys": ["a", "b"], "items": [{"kind": "none"}]})),
        "malformed",
    ),
    "repeated key": (_calls(_call({"kind": "dict", "keys": ["a", "a"], "items": [{"kind": "none"}] * 2})), "malformed"),
    "after not a dict": (_calls(_call({"kind": "none"}, after=["SECRET"])), "malformed"),
    "argument slot": (_calls(_call({"kind": "none"}, after={"²": {"kind": "none"}})), "malformed"),
    "big-endian tensor": (
        _calls(_call({"kind": "tensor", "array": "c0_0"}), arrays={"c0_0": np.ones(2, dtype=">f8")}),
        "malformed",
    ),
    "too many arguments": (
        _calls(_call({"kind": "none"}, after={str(i): {"kind": "none"} for i in range(100)})),
        "malformed",
    ),
}


@pytest.mark.parametrize("attack", HOSTILE)
def test_hostile_records_are_refused_with_a_fixed_message(tmp_path, attack):
    import concurrent.futures

    write, message = HOSTILE[attack]
    folder = tmp_path / "record_folder"
    write(folder)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a record that blocks fails instead of hanging
        future = pool.submit(Replayer, folder, "check")
        with pytest.raises(ReplayError, match=message) as raised:
            future.result(timeout=60)
    text = str(raised.value)
    assert text.startswith("check: ") and "SECRET" not in text and len(text) < 200
    assert not (tmp_path / "unpickled").exists()


def test_the_replay_reads_any_record_within_the_kernels_budget(tmp_path):
    # The kernel's budget is below the replay's caps: a record filled to it with the
    # bulkiest JSON there is (the longest ints, strings of characters that take 12 bytes
    # each) is read back, and what went past the budget replays as "too large".
    from course.recording import MAX_INT_DIGITS, RECORD_NODES, RECORD_STRING_CHARS

    big = -(10**MAX_INT_DIGITS - 1)
    keys = ("text", "more text", "ints")  # dict keys count as text too
    text = "\U0001f600" * (RECORD_STRING_CHARS - sum(map(len, keys)))
    value = dict(zip(keys, (text, "x", [big] * RECORD_NODES)))
    _record_calls(tmp_path, lambda: value, [((), {})])
    assert (tmp_path / "check.json").stat().st_size > MAX_META_BYTES // 2
    (replayed,) = _replay_calls(tmp_path, [((), {})])
    assert replayed["text"] == value["text"] and isinstance(replayed["more text"], Uncarried)
    assert replayed["ints"][: RECORD_NODES - 10] == [big] * (RECORD_NODES - 10)
    assert isinstance(replayed["ints"][-1], Uncarried)
    with pytest.raises(ReplayError, match="more data than a record may hold"):
        float(replayed["ints"][-1])
