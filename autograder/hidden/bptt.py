"""Hidden checks for lesson 03: random shapes, edge cases (one step, a batch of one,
D != H and D == H, a nonzero initial state, fully masked sequences and steps, large
scores) and the NumPy references.

This module is on the grader's side: it may hold answer code. The backward checks leave the
cache's in-place check to the visible ones (the record cannot carry the arrays inside a
cache; a backward that changes its cache still fails "twice" when the change shows). The
known mistakes whose values need it (a gradient through Wh untransposed, the sampler's mistakes) are computed
here, from the references, and only when the references are there (never in a learner's
kernel). Every kind of case is chosen by index, not by a coin, so that a verdict never
depends on the grading seed.
"""
from __future__ import annotations

import functools

import numpy as np

from course.checks import bptt as visible
from . import hidden_check, lesson_reference

#: Shapes (N, T, D, H) always tried besides the random ones: one time step, a batch of one,
#: one input feature, and a square case (D == H) where a transposed weight cannot crash.
EDGE_SHAPES = [(1, 1, 3, 2), (2, 1, 1, 4), (1, 5, 4, 3), (3, 4, 4, 4), (2, 3, 5, 5)]
RANDOM_CASES = 3
#: sample's temperatures, cycled through by case: below, at and above 1
TEMPERATURES = (0.3, 1.6, 1.0, 0.7)


_reference = functools.partial(lesson_reference, __name__)


def _shapes(rng: np.random.Generator):
    return EDGE_SHAPES + [tuple(int(v) for v in rng.integers(1, 7, size=4)) for _ in range(RANDOM_CASES)]


def _weights(rng, d, h):
    Wx = rng.normal(scale=1 / np.sqrt(d), size=(d, h))
    Wh = rng.normal(scale=1 / np.sqrt(h), size=(h, h))
    return Wx, Wh, rng.normal(scale=0.5, size=h)


# ------------------------------------------------------------------ known mistakes (grader side)


def step_mistakes(ref, x, prev_h, Wx, Wh, b, dnext_h) -> dict:
    next_h, _ = ref.rnn_step_forward(x, prev_h, Wx, Wh, b)
    da = dnext_h * (1 - next_h**2)
    mistakes = {"dWh": {"dWh multiplies prev_h (the state entering the step), not next_h": next_h.T @ da}}
    if Wh.shape[0] == Wh.shape[1]:
        mistakes["dprev_h"] = {"dprev_h = da Wh^T (Wh transposed), not da Wh": da @ Wh}
    return mistakes


def sequence_mistakes(ref, x, h0, Wx, Wh, b, dh) -> dict:
    _, cache = ref.rnn_forward(x, h0, Wx, Wh, b)
    T = x.shape[1]

    def walk(order, upstream):
        dx = np.zeros_like(x)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
        dprev = np.zeros_like(h0)
        for t in order:
            dx[:, t], dprev, gWx, gWh, gb = ref.rnn_step_backward(upstream[:, t] + dprev, cache[t])
            dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
        return dict(zip(visible.SEQ_NAMES, (dx, dprev, dWx, dWh, db)))

    last_only = np.zeros_like(dh)
    last_only[:, -1] = dh[:, -1]
    found: dict = {}
    for hint, grads in (("walk backwards in time: t from T-1 down to 0", walk(range(T), dh)),
                        ("visit every step down to t = 0", walk(range(T - 1, 0, -1), dh)),
                        ("every step's state gets its own upstream gradient dh[:, t], not only the last", walk(range(T - 1, -1, -1), last_only))):
        for name, value in grads.items():
            found.setdefault(name, {})[hint] = value
    return found


# ------------------------------------------------------------------ the hidden checks


@hidden_check("rnn_step_forward", "rnn_step_backward")
def rnn_step_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, _, d, h in _shapes(rng):
        x, prev_h, (Wx, Wh, b), dnext_h = rng.normal(size=(n, d)), np.tanh(rng.normal(size=(n, h))), _weights(rng, d, h), rng.normal(size=(n, h))
        visible.compare_rnn_step_backward(report, *functions, x, prev_h, Wx, Wh, b, dnext_h,
                                          reference=ref and (ref.rnn_step_forward, ref.rnn_step_backward), numeric=False, cache_name=None,
                                          mistakes=ref and step_mistakes(ref, x, prev_h, Wx, Wh, b, dnext_h))


@hidden_check("rnn_forward", "rnn_backward")
def rnn_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, t, d, h) in enumerate(_shapes(rng)):
        # Every other case has an upstream gradient at the last step only (the classic
        # many-to-one case), where a dropped carry leaves every earlier step at zero.
        dh = rng.normal(size=(n, t, h))
        if case % 2:  # by index, not by coin: each kind of case must always be there
            dh[:, :-1] = 0.0
        x, h0, (Wx, Wh, b) = rng.normal(size=(n, t, d)), np.tanh(rng.normal(size=(n, h))), _weights(rng, d, h)
        visible.compare_rnn_backward(report, *functions, x, h0, Wx, Wh, b, dh,
                                     reference=ref and (ref.rnn_forward, ref.rnn_backward), numeric=False, cache_name=None,
                                     mistakes=ref and sequence_mistakes(ref, x, h0, Wx, Wh, b, dh))


@hidden_check("temporal_affine_forward", "temporal_affine_backward")
def temporal_affine_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, t, h, m in _shapes(rng):
        visible.compare_temporal_affine_backward(report, *functions, rng.normal(size=(n, t, h)), rng.normal(size=(h, m)),
                                                 rng.normal(size=m), rng.normal(size=(n, t, m)),
                                                 reference=ref and (ref.temporal_affine_forward, ref.temporal_affine_backward),
                                                 numeric=False, cache_name=None)


@hidden_check("temporal_softmax_loss")
def temporal_softmax_loss(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, t, _, v) in enumerate(_shapes(rng)):
        v = v + 1
        x = rng.normal(scale=3.0, size=(n, t, v))
        y = rng.integers(0, v, size=(n, t))
        mask = rng.random((n, t)) < 0.6
        mask[0, 0] = True
        if case == 0:
            mask[:] = True
        if case % 3 == 1:  # a fully masked sequence (when there are two) and a fully masked step
            mask[-1] = n == 1
            mask[:, -1] = t == 1
        visible.compare_temporal_softmax_loss(report, *functions, x, y, mask, reference=ref and ref.temporal_softmax_loss)
        if case % 2 == 0:  # large scores: shifted, on very different scales, a large wrong margin
            offsets = rng.choice([-900.0, -500.0, 0.0, 600.0, 900.0], size=(n, t))
            offsets.flat[0], offsets.flat[-1] = 900.0, -900.0  # the two extremes always there (both in one step when N = T = 1)
            visible.compare_large_scores(report, *functions, x, y, mask, visible.stability_cases(x, y, offsets),
                                         reference=ref and ref.temporal_softmax_loss)


@hidden_check("clip_gradients_arrays")
def clip_gradients(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, t, d, h) in enumerate(_shapes(rng)):
        grads = [rng.normal(size=(d, h)), rng.normal(size=(h, h)), rng.normal(size=h)][: 1 + case % 3]
        total = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
        max_norm = total * (rng.uniform(0.1, 0.9) if case % 2 == 0 else rng.uniform(1.1, 3.0))
        visible.compare_clip_gradients(report, *functions, grads, max_norm, reference=ref and ref.clip_gradients_arrays)


@hidden_check("char_rnn_loss_arrays")
def char_rnn_loss(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, t, v, h in _shapes(rng)[:6]:
        visible.compare_char_rnn_loss(report, *functions, *visible._char_inputs(rng, n, t, v + 1, h),
                                      reference=ref and ref.char_rnn_loss_arrays, numeric=False)


@hidden_check("tbptt_step_arrays")
def tbptt_step(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, t, v, h) in enumerate(_shapes(rng)[:5]):
        params, chunks, h0 = visible._tbptt_inputs(rng, n, t, v + 1, h, chunks=3)
        # max_norm from the first chunk's own gradient norm: clipping is active there in every
        # case but one, where it is not (by construction, not by chance).
        model = visible.char_model_oracle(params, *chunks[0], h0)
        norm = float(np.sqrt(sum(np.sum(model[f"d{p}"] ** 2) for p in visible.PARAM_NAMES)))
        max_norm = norm * (4.0 if case == 2 else float(rng.uniform(0.2, 0.7)))
        visible.compare_tbptt_step(report, *functions, params, chunks, h0, float(rng.uniform(0.05, 0.5)), max_norm,
                                   reference=ref and ref.tbptt_step_arrays)


# ------------------------------------------------------------------ sampling (the reference draws)


def sample_draws(ref, params, seed_idx, h0, length, temperature, seed, mistake=None):
    """The reference sampler's draws, or those of one known mistake (``MISTAKES``' keys)."""
    if mistake is None:
        return ref.sample(params, seed_idx, h0, length, temperature, np.random.default_rng(seed))
    V = params["Wy"].shape[1]
    rng = np.random.default_rng(seed)
    h = np.zeros_like(h0) if mistake == "ignores_h0" else h0
    current, out = int(seed_idx), []
    for _ in range(length):
        step_from = h0 if mistake == "drops_state" else h
        h, _ = ref.rnn_step_forward(np.eye(V)[[current]], step_from, params["Wx"], params["Wh"], params["b"])
        scores = (h @ params["Wy"] + params["by"])[0]
        scores = {"ignores_temperature": scores, "multiplies": scores * temperature}.get(mistake, scores / temperature)
        p = np.exp(scores - scores.max())
        p /= p.sum()
        drawn = int(rng.choice(V, p=p))
        out.append(drawn)
        current = int(np.argmax(p)) if mistake == "feeds_argmax" else drawn
    if mistake == "includes_seed":
        out = [int(seed_idx)] + out[:-1]
    return np.array(out, dtype=np.int64)


#: mistake -> its hint (the visible check's fixed draws carry the same hints)
MISTAKES = {
    "ignores_temperature": "divide the scores by the temperature before the softmax",
    "multiplies": "divide the scores by the temperature (not multiply)",
    "feeds_argmax": "feed the sampled character back as the next input, not the most likely one",
    "drops_state": "carry the hidden state from step to step: each step starts from the state the previous one returned",
    "ignores_h0": "start from the given state h0, not from zeros",
    "includes_seed": "return the generated characters only, not the seed character first",
}


def sample_mistakes(ref, params, seed_idx, h0, length, temperature, seed) -> dict:
    return {hint: sample_draws(ref, params, seed_idx, h0, length, temperature, seed, mistake) for mistake, hint in MISTAKES.items()}


@hidden_check("sample_arrays")
def sample(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (_, t, v, h) in enumerate(_shapes(rng)[:6]):
        v = v + 2
        params = visible._sample_params(rng, v, h)
        h0 = np.tanh(rng.normal(scale=2.0, size=(1, h)))
        seed_idx, seed, length = int(rng.integers(v)), int(rng.integers(2**31)), int(t + 5)
        for temperature in (TEMPERATURES[case % len(TEMPERATURES)], 1e-4):
            label = "T->0" if temperature < 0.01 else "idx"
            idx = visible.call_sample(report, *functions, params, seed_idx, h0, length, temperature, seed, label)
            if idx is None or ref is None:
                continue  # recording in a learner's kernel: the grader compares on replay
            expected = sample_draws(ref, params, seed_idx, h0, length, temperature, seed)
            visible.compare_sample_draws(report, idx, expected, length, label,
                                         sample_mistakes(ref, params, seed_idx, h0, length, temperature, seed), "reference")
