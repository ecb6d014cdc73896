"""Plain-numpy models and SGD trainer for SafeNet owners (cleartext side).

Job: represent every owner model as a list of float64 ``(W, b)`` layers
(``W`` of shape (in, out), ``b`` of shape (out,)) with ReLU between layers
and no activation after the last one (the last layer outputs logits), train
such models with our own mini-batch SGD, and import fitted scikit-learn
models into the same form.  The MPC layer later runs exactly these layers on
secret-shared 64-bit fixed-point data (16 fractional bits), so everything is
kept as plain arrays; the training pieces (:func:`forward`,
:func:`backward`, :func:`sgd_step`) are exposed separately so a fixed-point
trainer can be checked against them step by step.

Imports allowed: numpy, scikit-learn, the standard library and the other
``ensemble`` cleartext modules.  Nothing here may import mpcore/, protocols/,
native/ or bench/.

Conventions
-----------
* Binary problems use a 2-class softmax (2 logits) like every other problem.
* ``predict`` = argmax of the logits, ties broken to the LOWEST index
  (``np.argmax`` semantics).
* Loss: mean softmax cross-entropy over the batch.
* Initialisation (``np.random.default_rng(seed)``, layers drawn in order,
  W before b): a layer followed by ReLU gets He-normal weights
  ``N(0, 2/fan_in)``; the output layer gets Glorot-uniform weights
  ``U(-l, l)``, ``l = sqrt(6/(fan_in+fan_out))``; biases are 0.
* Data order: each epoch draws ``rng.permutation(n)`` from the same rng
  (after the initialisation draws); batches are consecutive slices of
  ``batch_size`` rows of that permutation; the last, shorter batch is used
  too (its gradient is averaged over its own size).
* SGD step (PyTorch convention), weight decay on weights only, not biases::

      g_W = dW + weight_decay * W          g_b = db
      v   = momentum * v + g               (v starts at 0)
      P   = P - lr * v

Hyper-parameter defaults of :func:`train_model`: ``kind="logreg"``,
``hidden=(64,)`` (only for ``"mlp"``), ``epochs=10``, ``batch_size=32``,
``lr=0.1``, ``momentum=0.9``, ``weight_decay=0.0``, ``seed=0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Model",
    "MODEL_KINDS",
    "MISSING_CLASS_LOGIT",
    "init_model",
    "forward",
    "softmax",
    "cross_entropy",
    "loss_and_logit_grad",
    "backward",
    "sgd_step",
    "zero_velocity",
    "train_model",
    "from_sklearn",
]

MODEL_KINDS = ("logreg", "mlp")

# Bias given to classes an imported sklearn model never saw during fitting
# (its classes_ is a strict subset of 0..n_classes-1): such a class then
# never wins the argmax unless another logit is below -1e4.  The value fits
# comfortably in 64-bit fixed point with 16 fractional bits.
MISSING_CLASS_LOGIT = -1.0e4


@dataclass
class Model:
    """A feed-forward net: ``layers[i] = (W (in, out), b (out,))`` float64.

    ReLU between layers, none after the last.  ``kind`` is ``"logreg"``
    (exactly one layer) or ``"mlp"``.
    """

    layers: list = field(default_factory=list)
    kind: str = "mlp"

    def __post_init__(self):
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"kind must be one of {MODEL_KINDS}, got {self.kind!r}")
        if not self.layers:
            raise ValueError("a Model needs at least one layer")
        layers = []
        for i, (W, b) in enumerate(self.layers):
            W = np.asarray(W, dtype=np.float64)
            b = np.asarray(b, dtype=np.float64)
            if W.ndim != 2 or b.ndim != 1 or b.shape[0] != W.shape[1]:
                raise ValueError(f"layer {i}: need W (in, out) and b (out,), got {W.shape}, {b.shape}")
            if i and W.shape[0] != layers[-1][0].shape[1]:
                raise ValueError(f"layer {i}: input size {W.shape[0]} != previous output "
                                 f"size {layers[-1][0].shape[1]}")
            layers.append((W, b))
        if self.kind == "logreg" and len(layers) != 1:
            raise ValueError(f"a logreg model has exactly one layer, got {len(layers)}")
        self.layers = layers

    @property
    def n_features(self) -> int:
        return int(self.layers[0][0].shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.layers[-1][0].shape[1])

    @property
    def n_params(self) -> int:
        return int(sum(W.size + b.size for W, b in self.layers))

    @property
    def layer_sizes(self) -> tuple:
        return (self.n_features,) + tuple(int(W.shape[1]) for W, _ in self.layers)

    def logits(self, X) -> np.ndarray:
        return forward(self, X)[-1]

    def predict(self, X) -> np.ndarray:
        return np.argmax(self.logits(X), axis=1).astype(np.int64)

    def copy(self) -> "Model":
        return Model([(W.copy(), b.copy()) for W, b in self.layers], self.kind)

    def __repr__(self) -> str:
        return f"Model(kind={self.kind!r}, sizes={self.layer_sizes}, n_params={self.n_params})"


# ---------------------------------------------------------------------------
# building blocks (mirrored by the secure trainer)
# ---------------------------------------------------------------------------

def init_model(n_features, n_classes, kind="logreg", hidden=(64,), rng=None) -> Model:
    """Fresh model with the documented He / Glorot initialisation."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"kind must be one of {MODEL_KINDS}, got {kind!r}")
    if rng is None or isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(rng)
    hidden = () if kind == "logreg" else tuple(int(h) for h in hidden)
    if kind == "mlp" and (not hidden or min(hidden) < 1):
        raise ValueError(f"an mlp needs at least one hidden layer of size >= 1, got {hidden}")
    sizes = (int(n_features),) + hidden + (int(n_classes),)
    layers = []
    for i in range(len(sizes) - 1):
        fi, fo = sizes[i], sizes[i + 1]
        if i < len(sizes) - 2:  # followed by ReLU: He normal
            W = rng.normal(0.0, np.sqrt(2.0 / fi), size=(fi, fo))
        else:  # output layer: Glorot uniform
            lim = np.sqrt(6.0 / (fi + fo))
            W = rng.uniform(-lim, lim, size=(fi, fo))
        layers.append((W, np.zeros(fo)))
    return Model(layers, kind)


def forward(model: Model, X) -> list:
    """Activations ``[A0 = X, A1, ..., AL]``.

    ``A_i = ReLU(A_{i-1} @ W_i + b_i)`` for hidden layers; ``AL`` are the
    logits (no activation).  ``backward`` recovers the ReLU derivative as
    ``A_i > 0`` (equal to ``Z_i > 0``).
    """
    A = np.asarray(X, dtype=np.float64)
    if A.ndim == 1:
        A = A[None, :]
    if A.shape[1] != model.n_features:
        raise ValueError(f"X has {A.shape[1]} features, model expects {model.n_features}")
    acts = [A]
    L = len(model.layers)
    for i, (W, b) in enumerate(model.layers):
        Z = A @ W + b
        A = np.maximum(Z, 0.0) if i < L - 1 else Z
        acts.append(A)
    return acts


def softmax(logits) -> np.ndarray:
    Z = np.asarray(logits, dtype=np.float64)
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def _check_labels(y, n_classes):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes})")
    return y.astype(np.int64)


def cross_entropy(logits, y) -> float:
    """Mean softmax cross-entropy of ``logits`` (n, K) against labels ``y``."""
    Z = np.asarray(logits, dtype=np.float64)
    y = _check_labels(y, Z.shape[1])
    Z = Z - Z.max(axis=1, keepdims=True)
    logp = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def loss_and_logit_grad(logits, y):
    """(mean cross-entropy, dLoss/dlogits = (softmax(logits) - onehot(y)) / n)."""
    Z = np.asarray(logits, dtype=np.float64)
    y = _check_labels(y, Z.shape[1])
    P = softmax(Z)
    n = len(y)
    loss = float(-np.log(np.maximum(P[np.arange(n), y], 1e-300)).mean())
    G = P.copy()
    G[np.arange(n), y] -= 1.0
    return loss, G / n


def backward(model: Model, acts: list, y) -> list:
    """Gradients ``[(dW_1, db_1), ..., (dW_L, db_L)]`` of the mean
    cross-entropy of ``acts[-1]`` (from :func:`forward`) w.r.t. every layer.

    dZ_L = (softmax(A_L) - onehot(y)) / n;  dW_i = A_{i-1}^T dZ_i;
    db_i = sum_rows(dZ_i);  dZ_{i-1} = (dZ_i W_i^T) * [A_{i-1} > 0].
    """
    if len(acts) != len(model.layers) + 1:
        raise ValueError("acts must come from forward(model, X)")
    _, dZ = loss_and_logit_grad(acts[-1], y)
    grads = [None] * len(model.layers)
    for i in range(len(model.layers) - 1, -1, -1):
        W, _ = model.layers[i]
        A_prev = acts[i]
        grads[i] = (A_prev.T @ dZ, dZ.sum(axis=0))
        if i:
            dZ = (dZ @ W.T) * (A_prev > 0)
    return grads


def zero_velocity(model: Model) -> list:
    return [(np.zeros_like(W), np.zeros_like(b)) for W, b in model.layers]


def sgd_step(model: Model, grads: list, velocity: list | None = None, lr=0.1,
             momentum=0.9, weight_decay=0.0):
    """One SGD-with-momentum step; returns ``(new_model, new_velocity)``.

    Pure: the inputs are not modified.  See the module docstring for the
    exact update (weight decay on W only).
    """
    if velocity is None:
        velocity = zero_velocity(model)
    if len(grads) != len(model.layers) or len(velocity) != len(model.layers):
        raise ValueError("grads / velocity must have one (W, b) pair per layer")
    new_layers, new_vel = [], []
    for (W, b), (dW, db), (vW, vb) in zip(model.layers, grads, velocity):
        gW = dW + weight_decay * W if weight_decay else dW
        vW = momentum * vW + gW
        vb = momentum * vb + db
        new_layers.append((W - lr * vW, b - lr * vb))
        new_vel.append((vW, vb))
    return Model(new_layers, model.kind), new_vel


def train_model(X, y, n_classes, kind="logreg", hidden=(64,), epochs=10, batch_size=32,
                lr=0.1, momentum=0.9, weight_decay=0.0, seed=0) -> Model:
    """Train a ``logreg`` or ``mlp`` with mini-batch SGD + momentum on
    softmax cross-entropy (see the module docstring for every detail)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    n_classes = int(n_classes)
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    y = _check_labels(y, n_classes)
    if len(y) != len(X) or len(X) == 0:
        raise ValueError(f"X ({len(X)} rows) and y ({len(y)}) must be non-empty and equally long")
    if int(epochs) < 0 or int(batch_size) < 1:
        raise ValueError("epochs must be >= 0 and batch_size >= 1")
    rng = np.random.default_rng(seed)
    model = init_model(X.shape[1], n_classes, kind, hidden, rng)
    vel = zero_velocity(model)
    n = len(X)
    for _ in range(int(epochs)):
        perm = rng.permutation(n)
        for s in range(0, n, int(batch_size)):
            idx = perm[s:s + int(batch_size)]
            acts = forward(model, X[idx])
            grads = backward(model, acts, y[idx])
            model, vel = sgd_step(model, grads, vel, lr, momentum, weight_decay)
    return model


# ---------------------------------------------------------------------------
# scikit-learn import
# ---------------------------------------------------------------------------

def _int_classes(estimator):
    classes = np.asarray(getattr(estimator, "classes_"))
    if classes.ndim != 1 or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(f"{type(estimator).__name__}.classes_ must be integer labels "
                         f"0..K-1, got {classes!r}")
    if len(classes) and (classes.min() < 0 or np.any(np.diff(classes) <= 0)):
        raise ValueError(f"classes_ must be sorted non-negative integers, got {classes!r}")
    return classes.astype(np.int64)


def _embed(W, b, classes, n_classes):
    """Place the logit columns of ``classes`` into an n_classes-wide layer."""
    if n_classes is None:
        n_classes = int(classes.max()) + 1
    n_classes = int(n_classes)
    if classes.max() >= n_classes:
        raise ValueError(f"estimator has class {classes.max()} >= n_classes={n_classes}")
    if len(classes) == n_classes:
        return W, b
    W2 = np.zeros((W.shape[0], n_classes))
    b2 = np.full(n_classes, MISSING_CLASS_LOGIT)
    W2[:, classes] = W
    b2[classes] = b
    return W2, b2


def from_sklearn(estimator, n_classes=None) -> Model:
    """Convert a fitted ``LogisticRegression`` or ``MLPClassifier``
    (``activation="relu"``) into a :class:`Model` with the same predictions.

    Binary problems (one score ``z`` per point; sklearn predicts class 1 iff
    ``z > 0``) become two logits ``[0, z]`` (weights ``[0, w]``, biases
    ``[0, c]``): the argmax with ties to the lowest index predicts 1 iff
    ``z > 0`` and the 2-class softmax equals sklearn's sigmoid.  Labels must
    be integers; if ``classes_`` misses some of ``0..n_classes-1`` the
    missing logits get zero weights and bias ``MISSING_CLASS_LOGIT``.
    Multiclass ``LogisticRegression`` fitted one-vs-rest keeps its scores as
    logits (same argmax, but softmax of them is not sklearn's
    ``predict_proba``).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if isinstance(estimator, LogisticRegression):
        if not hasattr(estimator, "coef_"):
            raise ValueError("LogisticRegression is not fitted")
        classes = _int_classes(estimator)
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        inter = np.broadcast_to(np.asarray(estimator.intercept_, dtype=np.float64),
                                (coef.shape[0],))
        if coef.shape[0] == 1:
            if len(classes) != 2:
                raise ValueError(f"binary LogisticRegression with {len(classes)} classes")
            W = np.hstack([np.zeros((coef.shape[1], 1)), coef.T])
            b = np.array([0.0, inter[0]])
        else:
            if coef.shape[0] != len(classes):
                raise ValueError("coef_ rows do not match classes_")
            W, b = coef.T.copy(), inter.copy()
        W, b = _embed(W, b, classes, n_classes)
        return Model([(W, b)], "logreg")

    if isinstance(estimator, MLPClassifier):
        if not hasattr(estimator, "coefs_"):
            raise ValueError("MLPClassifier is not fitted")
        if estimator.activation != "relu":
            raise ValueError(f"only MLPClassifier(activation='relu') is supported, got "
                             f"activation={estimator.activation!r}")
        classes = _int_classes(estimator)
        out_act = getattr(estimator, "out_activation_", None)
        coefs = [np.asarray(W, dtype=np.float64).copy() for W in estimator.coefs_]
        inters = [np.asarray(b, dtype=np.float64).copy() for b in estimator.intercepts_]
        if out_act == "softmax":
            if coefs[-1].shape[1] != len(classes):
                raise ValueError("output layer size does not match classes_")
        elif out_act == "logistic" and coefs[-1].shape[1] == 1 and len(classes) == 2:
            coefs[-1] = np.hstack([np.zeros_like(coefs[-1]), coefs[-1]])
            inters[-1] = np.array([0.0, inters[-1][0]])
        else:
            raise ValueError(f"unsupported MLPClassifier output (out_activation_={out_act!r}, "
                             f"{coefs[-1].shape[1]} outputs, {len(classes)} classes); "
                             f"multilabel problems are not supported")
        coefs[-1], inters[-1] = _embed(coefs[-1], inters[-1], classes, n_classes)
        return Model(list(zip(coefs, inters)), "mlp")

    raise TypeError(f"from_sklearn supports fitted LogisticRegression and "
                    f"MLPClassifier(activation='relu'), got {type(estimator).__name__}")
