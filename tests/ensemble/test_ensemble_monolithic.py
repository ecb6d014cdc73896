"""Monolithic secure training against the float trainer: one SGD step's
forward and backward on a small batch, and a short training run."""
import numpy as np
import pytest

import protocols
from ensemble.ml.train import forward, gradients, secure_sgd
from ensemble.models import backward, forward as float_forward, init_model, sgd_step
from ensemble.monolithic import data_order, run_monolithic
from ensemble.pipeline import prepare
from mpcore.fixedpoint import DEFAULT as FX

SECURE = [p for p in ("rep3", "rep4") if hasattr(protocols.protocol_class(p), "softmax")]


def _batch(n=16, d=12, c=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, d))
    y = rng.integers(0, c, size=n)
    Y = np.eye(c)[y]
    return X, y, Y


@pytest.mark.parametrize("protocol", ["ref"] + SECURE)
@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_forward_backward_match_float(protocol, kind):
    X, y, Y = _batch()
    model = init_model(X.shape[1], Y.shape[1], kind, hidden=(8,), rng=np.random.default_rng(3))
    acts = float_forward(model, X)
    want = backward(model, acts, y)

    def program(p):
        Xs = p.input_fx(X if p.party_id == 0 else None, 0, X.shape)
        Ys = p.input_fx(Y if p.party_id == 0 else None, 0, Y.shape)
        params = [(p.public(FX.encode(W)), p.public(FX.encode(b))) for W, b in model.layers]
        a, bits, logits = forward(p, params, Xs)
        grads = gradients(p, params, a, bits, logits, Ys)
        return p.reveal_fx(logits), [(p.reveal_fx(dW), p.reveal_fx(db)) for dW, db in grads]

    logits, grads = protocols.run(program, protocol, test_seed=5).values[0]
    assert np.allclose(logits, acts[-1], atol=2e-3)
    for (dW, db), (wW, wb) in zip(grads, want):
        assert np.allclose(dW, wW, atol=3e-3) and np.allclose(db, wb, atol=3e-3)


@pytest.mark.parametrize("protocol", SECURE[:1])
def test_sgd_steps_track_the_float_trainer(protocol):
    X, y, Y = _batch(n=32, seed=1)
    rng = np.random.default_rng(7)
    model = init_model(X.shape[1], Y.shape[1], "mlp", hidden=(8,), rng=rng)
    batches = data_order(len(X), 2, 16, rng)
    ref, vel = model, None
    for idx in batches:
        ref, vel = sgd_step(ref, backward(ref, float_forward(ref, X[idx]), y[idx]), vel, 0.1, 0.9)

    def program(p):
        Xs = p.input_fx(X if p.party_id == 0 else None, 0, X.shape)
        Ys = p.input_fx(Y if p.party_id == 0 else None, 0, Y.shape)
        params = secure_sgd(p, Xs, Ys, model.layers, batches, 0.1, 0.9)
        return [(p.reveal_fx(W), p.reveal_fx(b)) for W, b in params]

    got = protocols.run(program, protocol, test_seed=5).values[0]
    for (W, b), (rW, rb) in zip(got, ref.layers):
        assert np.allclose(W, rW, atol=5e-3) and np.allclose(b, rb, atol=5e-3)


def test_monolithic_run_reports_and_tracks_cleartext():
    s = prepare("digits", owners=3, model="logreg", epochs=2, seed=0, n=300)
    r = run_monolithic(s, SECURE[0] if SECURE else "ref", batch_size=64)
    assert r["mode"] == "monolithic" and r["models_kept"] is None
    assert abs(r["accuracy"] - r["cleartext_accuracy"]) <= 0.02
    assert r["predictions_agree_with_cleartext"] >= 0.97
    assert r["phases"]["train"]["rounds"] > 0 and r["phases"]["filter"]["rounds"] == 0
