"""Monolithic secure training (the Dalskov-style baseline): mini-batch SGD
with momentum on softmax cross-entropy, in fixed point, inside MPC.

It mirrors `ensemble.models.train_model` step for step so the two can be
compared: the same initial weights (drawn from the public seed; the
initialisation does not depend on data, so it may be public), the same
public data order (a seeded permutation per epoch), the same update
    v = momentum * v + g;   W = W - lr * v.
Per step, on shared data:
  forward   Z_i = A_{i-1} W_i + b_i (fxmatmul), D_i = [Z_i >= 0] (drelu),
            A_i = D_i * Z_i (exact: D_i is 0/1)
  loss grad G = (softmax(Z_L) - Y) / n (one public fixed-point scaling)
  backward  dW_i = A_{i-1}^T G and G W_i^T in ONE fxmatmul_many, then
            G = (G W_i^T) * D_{i-1}
  update    all layers' v and W in two truncations (one round each)
Nothing is revealed: the result is the shared model. Imports protocols,
mpcore only.
"""
import numpy as np

from mpcore.shares import Shared


def _public_params(proto, layers):
    fx = proto.fx
    return [(proto.public(fx.encode(W)), proto.public(fx.encode(b))) for W, b in layers]


def _zeros_like(proto, x):
    return proto.public(np.zeros(x.shape, dtype=np.uint64))


def forward(proto, params, X):
    """Returns (activations [A_0..A_{L-1}], relu bits [D_1..D_{L-1}], logits)."""
    acts, bits = [X], []
    A = X
    for i, (W, b) in enumerate(params):
        Z = proto.fxmatmul(A, W) + b.reshape(1, -1)
        if i == len(params) - 1:
            return acts, bits, Z
        D = proto.drelu(Z)
        A = proto.mul(D, Z)
        acts.append(A)
        bits.append(D)


def gradients(proto, params, acts, bits, logits, Y):
    """[(dW_i, db_i)] of the mean softmax cross-entropy (shared)."""
    n = logits.shape[0]
    P = proto.softmax(logits)
    G = proto.fxmul_public(P - Y, 1.0 / n)
    grads = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        A_prev = acts[i]
        if i == 0:
            dW, = proto.fxmatmul_many([(A_prev.T, G)])
            grads[i] = (dW, proto.sum(G, axis=0))
            break
        dW, back = proto.fxmatmul_many([(A_prev.T, G), (G, params[i][0].T)])
        grads[i] = (dW, proto.sum(G, axis=0))
        G = proto.mul(back, bits[i - 1])
    return grads


def sgd_update(proto, params, grads, velocity, lr, momentum):
    """v = momentum*v + g; W = W - lr*v for every tensor, in two truncations."""
    fx = proto.fx
    flat_p = [t for pair in params for t in pair]
    flat_g = [t for pair in grads for t in pair]
    flat_v = [t for pair in velocity for t in pair] if velocity else [_zeros_like(proto, t) for t in flat_p]
    scaled = proto.trunc(proto.flat_concat([proto.mul_public(v, fx.encode(momentum)) for v in flat_v]),
                         fx.frac_bits)
    new_v = [s + g for s, g in zip(proto.split(scaled, [v.shape for v in flat_v]), flat_g)]
    step = proto.trunc(proto.flat_concat([proto.mul_public(v, fx.encode(lr)) for v in new_v]),
                       fx.frac_bits)
    new_p = [p - s for p, s in zip(flat_p, proto.split(step, [p.shape for p in flat_p]))]
    pairs = lambda ts: [(ts[k], ts[k + 1]) for k in range(0, len(ts), 2)]  # noqa: E731
    return pairs(new_p), pairs(new_v)


def secure_sgd(proto, X: Shared, Y: Shared, init_layers, batches, lr=0.1, momentum=0.9,
               on_epoch=None, steps_per_epoch=None):
    """Train on shared X (n, d) and one-hot Y (n, C) in fixed point.
    `batches` is the public list of index arrays (the data order).
    Returns the shared parameters [(W, b)]."""
    params = _public_params(proto, init_layers)
    velocity = None
    for k, idx in enumerate(batches):
        idx = np.asarray(idx)
        Xb, Yb = X[idx], Y[idx]
        acts, bits, logits = forward(proto, params, Xb)
        grads = gradients(proto, params, acts, bits, logits, Yb)
        params, velocity = sgd_update(proto, params, grads, velocity, lr, momentum)
        if on_epoch is not None and steps_per_epoch and (k + 1) % steps_per_epoch == 0:
            on_epoch((k + 1) // steps_per_epoch)
    return params
