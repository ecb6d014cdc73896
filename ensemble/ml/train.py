"""Monolithic secure training (the Dalskov-style baseline): mini-batch SGD
with momentum on softmax cross-entropy, in fixed point, inside MPC.

It mirrors `ensemble.models.train_model` step for step so the two can be
compared: the same initial weights (drawn from the public seed; the
initialisation does not depend on data, so it may be public), the same
public data order (a seeded permutation per epoch), the same update
    v = momentum * v + g;   W = W - lr * v,
kept as u = lr * v (u = momentum * u + lr * g; W = W - u), the same thing.
Per step, on shared data (rounds for rep3, where `fxprod` is one round):
  forward   Z_i = A_{i-1} W_i + b_i, one fxprod per layer; it also carries
            momentum * u of every tensor (first layer) and A_i * lr
            (hidden layers, for the backward); hidden layers:
            c, cZ = ltz_mul(Z_i) gives D_i = 1 - c and A_i = Z_i - cZ in
            the rounds of one comparison                        1 (+5) per layer
  loss grad G = (softmax(Z_L) - Y) / n: protocols.fxfuncs.softmax with
            minus=Y and scale=1/n (the gradient of the mean cross-entropy;
            for n a power of two the scaling rides in the softmax's last
            truncation, otherwise one more round)                  19 (20)
  backward  lr dW_i = (A_{i-1} lr)^T G, lr db_i and G W_i^T in ONE fxprod,
            then G = (G W_i^T) * D_{i-1} (one mul)                 1 (+1) per layer
  update    u = momentum * u + lr g, W -= u: local                       0
X * lr is computed once, before the first step (one round). So a step
costs 21 rounds for logistic regression and 29 for an MLP with one hidden
layer (77 and 89 with mul + trunc products, a tournament max, a clamped
exp, a Newton reciprocal and two truncations for the update).
Precision and magnitudes: G keeps only the 1/n scale (|G| <= 1/n, ~9
significant bits at n = 128); lr enters through A * lr, kept with
LR_BITS = 6 more fractional bits (22 for lr = 0.1), so lr dW =
trunc((A lr)^T G, f + 6) loses nothing and truncates values below 2^35
(probabilistic truncation fails with probability about |value| / 2^64).
Folding lr / n into G instead would leave ~5 significant bits, and
scaling the products by lr inside a truncation would truncate values near
2^45. Accuracy: the fixed-point training tracks the float reference
(ensemble.monolithic reports both).
Bounds promised to the comparisons: hidden pre-activations |z| < 2^31
(LOGIT_BITS = 32: in-range fixed-point values), output logits |z| < 2^30
(TRAIN_LOGIT_BITS = 31, i.e. |logit| < 16384: the softmax compares
differences of logits shifted by its clamp, which must stay within 33 bits
for the 5-round comparison).
Nothing is revealed: the result is the shared model. Imports protocols,
mpcore only.
"""
import numpy as np

from protocols.base import FxTerm

from .forward import LOGIT_BITS

TRAIN_LOGIT_BITS = LOGIT_BITS - 1
LR_BITS = 6          # A * lr keeps 6 more fractional bits than A (lr = 0.1: 22 bits)


def _public_params(proto, layers):
    fx = proto.fx
    return [(proto.public(fx.encode(W)), proto.public(fx.encode(b))) for W, b in layers]


def forward(proto, params, X):
    """Returns (activations [A_0..A_{L-1}], relu bits [D_1..D_{L-1}], logits)."""
    return forward_step(proto, params, X)[:3]


def forward_step(proto, params, X, extra=(), lr_scale=None):
    """forward, plus the products of the `extra` FxTerms (riding in the first
    layer's round) and A_i * lr for the hidden activations (riding in the
    next layer's round; `lr_scale` from `lr_scale()`, None to skip)."""
    acts, bits, acts_lr = [X], [], [None]
    A = X
    out_extra = []
    for i, (W, b) in enumerate(params):
        terms = [FxTerm("matmul", A, W)]
        if i == 0:
            terms += list(extra)
        elif lr_scale is not None:
            terms.append(FxTerm("lin", A, scale=lr_scale))
        out = proto.fxprod(terms)
        if i == 0:
            out_extra = out[1:]
        elif lr_scale is not None:
            acts_lr.append(out[1])
        Z = out[0] + b.reshape(1, -1)
        if i == len(params) - 1:
            return acts, bits, Z, out_extra, acts_lr
        c, cZ = proto.ltz_mul(Z, Z, bits=LOGIT_BITS)
        A = Z - cZ                                                      # relu
        acts.append(A)
        bits.append(1 - c)                                              # [Z >= 0]


def gradients(proto, params, acts, bits, logits, Y, acts_lr=None, lr=None):
    """[(dW_i, db_i)] of the mean softmax cross-entropy (shared); with
    acts_lr (A_i * lr with LR_BITS more fractional bits) and lr: the
    gradients times lr, [(lr dW_i, lr db_i)], in the same rounds."""
    fx = proto.fx
    n = logits.shape[0]
    G = proto.softmax(logits, bits=TRAIN_LOGIT_BITS, minus=Y, scale=1.0 / n)
    grads = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        db = proto.sum(G, axis=0)
        if acts_lr is None:
            terms = [FxTerm("matmul", acts[i].T, G)]
        else:
            terms = [FxTerm("matmul", acts_lr[i].T, G, shift=fx.frac_bits + LR_BITS),
                     FxTerm("lin", db, scale=proto.fx_const(lr))]
        if i > 0:
            terms.append(FxTerm("matmul", G, params[i][0].T))
        out = proto.fxprod(terms)
        grads[i] = (out[0], db if acts_lr is None else out[1])
        if i > 0:
            G = proto.mul(out[-1], bits[i - 1])
    return grads


def lr_scale(proto, lr):
    """lr with frac_bits + LR_BITS fractional bits: trunc(A * lr_scale) is
    A * lr with LR_BITS more fractional bits than A."""
    return np.array(int(round(lr * 2.0 ** (proto.fx.frac_bits + LR_BITS)))).view(np.uint64)


def _momentum_terms(proto, velocity, momentum):
    """FxTerms momentum * u for every tensor (u = lr * v)."""
    if velocity is None:
        return []
    return [FxTerm("lin", u, scale=proto.fx_const(momentum)) for pair in velocity for u in pair]


def sgd_update(params, lr_grads, momentum_u):
    """u = momentum * u + lr g (both given), W = W - u, for every tensor (local)."""
    flat_p = [t for pair in params for t in pair]
    flat_g = [t for pair in lr_grads for t in pair]
    flat_u = [g if mu is None else mu + g
              for g, mu in zip(flat_g, momentum_u or [None] * len(flat_g))]
    new_p = [p - u for p, u in zip(flat_p, flat_u)]
    pairs = lambda ts: [(ts[k], ts[k + 1]) for k in range(0, len(ts), 2)]  # noqa: E731
    return pairs(new_p), pairs(flat_u)


def secure_sgd(proto, X, Y, init_layers, batches, lr=0.1, momentum=0.9,
               on_epoch=None, steps_per_epoch=None):
    """Train on shared X (n, d) and one-hot Y (n, C) in fixed point.
    `batches` is the public list of index arrays (the data order).
    Returns the shared parameters [(W, b)]."""
    params = _public_params(proto, init_layers)
    scale = lr_scale(proto, lr)
    X_lr, = proto.fxprod([FxTerm("lin", X, scale=scale)])      # X * lr, once for all steps
    velocity = None                       # u = lr * v per tensor
    for k, idx in enumerate(batches):
        idx = np.asarray(idx)
        Xb, Yb = X[idx], Y[idx]
        acts, bits, logits, mu, acts_lr = forward_step(
            proto, params, Xb, _momentum_terms(proto, velocity, momentum), scale)
        acts_lr[0] = X_lr[idx]
        grads = gradients(proto, params, acts, bits, logits, Yb, acts_lr, lr)
        params, velocity = sgd_update(params, grads, mu if velocity is not None else None)
        if on_epoch is not None and steps_per_epoch and (k + 1) % steps_per_epoch == 0:
            on_epoch((k + 1) // steps_per_epoch)
    return params
