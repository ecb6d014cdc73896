"""Batched secure inference of m models of one architecture on shared inputs.

A model is a list of dense layers (W: in x out, b: out) with ReLU between
layers and none after the last, in fixed point (mpcore.fixedpoint). The m
models' layers are stacked: W of shape (m, in, out), b of shape (m, out).

The first layer multiplies the shared inputs (N x d) by all m weight
matrices side by side in ONE fixed-point matmul (d x m*out); later layers
multiply the m hidden layers by their weights in ONE `fxprod` (rounded
truncated products: one round in rep3, the product and its truncation
together). So a layer costs the same number of rounds for 1 model or 100.
Imports protocols and mpcore only.
"""

from mpcore.fixedpoint import DEFAULT as _FX
from mpcore.shares import concatenate
from protocols.base import FxTerm

# Bits promised to comparisons of fixed-point activations and logits: values
# of in-range fixed-point computations satisfy |z| < 2^(encoded_bits) =
# 2^31, i.e. bits = encoded_bits + 1 = 32 (protocols.nonlinear, "Bounded
# inputs"): the ReLUs here take 5 rounds instead of 6 in rep3.
LOGIT_BITS = _FX.encoded_bits + 1


def stack(values):
    """Stack sharings of equal shape along a new first axis (local)."""
    return concatenate([v.reshape((1,) + v.shape) for v in values], axis=0)


def secure_logits(proto, layers, X):
    """layers: [(W (m, in, out), b (m, out))] as Shared; X: Shared (N, d).
    Returns Shared logits of shape (m, N, classes)."""
    W0, b0 = layers[0]
    m, d, h = W0.shape
    if X.shape[1] != d:
        raise ValueError(f"inputs have {X.shape[1]} features, models expect {d}")
    n = X.shape[0]
    wide = W0._map(lambda p: p.transpose(1, 0, 2).reshape(d, m * h))       # (d, m*h)
    Z = proto.fxprod([FxTerm("matmul", X, wide)])[0]
    Z = Z.reshape(n, m, h)._map(lambda p: p.transpose(1, 0, 2))
    Z = Z + b0.reshape(m, 1, h)
    for W, b in layers[1:]:
        H = proto.relu(Z, bits=LOGIT_BITS)
        outs = proto.fxprod([FxTerm("matmul", H[k], W[k]) for k in range(m)])
        Z = stack(outs) + b.reshape(m, 1, W.shape[2])
    return Z
