"""Cleartext SafeNet: validation filter + majority-vote ensemble.

Job: the reference ("oracle") computation that the MPC implementation of
SafeNet must reproduce exactly on the same models and data:

1. every owner model is scored on the union of the owners' validation sets
   (integer counts of correct predictions, :func:`validation_correct`);
2. a model is kept iff ``count >= threshold_count(n_val, phi)``
   (:func:`filter_models`);
3. every kept model casts one vote per test point for its predicted label
   (:func:`votes`); the ensemble predicts the label with the most votes,
   ties to the LOWEST label (:func:`ensemble_predict`);
4. a prediction is certified against ``t`` poisoned owners iff its vote
   margin (top count minus runner-up count) is ``> 2t``
   (:func:`certified_fraction`).

Imports allowed: numpy, scikit-learn, the standard library and the other
``ensemble`` cleartext modules.  Nothing here may import mpcore/, protocols/,
native/ or bench/.

Filter rule.  ``threshold_count(n_val, phi) = ceil(phi * n_val)`` computed
exactly in rational arithmetic on the shortest decimal form of ``phi`` (so
phi = 0.6, n_val = 290 gives exactly 174, with no float round-off), and a
model is kept iff its integer count of correct validation predictions is
``>= threshold``, i.e. iff its validation accuracy is ``>= phi``.  The secure
version compares the secret integer count with this public integer.  The
default ``phi = 0.6``: well above chance for the 10-class data sets, and low
enough that honest models trained on a small share of the data pass; for
binary tasks a larger phi may be needed to reject useless models.

Certification.  With margin ``g = v_top - v_second`` (``v_second = 0`` if
there is one class) a set of ``t`` owners can change the winner only by
changing their own models' votes; each changed vote lowers ``g`` by at most
2 (one vote moved from the top label to the runner-up).  If ``g > 2t`` the
margin stays ``>= 1`` after any such change, so the prediction is unchanged
whatever those ``t`` models do (ties break to the lowest label, which is why
``g == 2t`` is NOT certified).  ``t = 0`` gives the fraction of points with a
strict winner.  The fraction is over all test points.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np

from .models import Model

__all__ = [
    "DEFAULT_PHI",
    "validation_correct",
    "threshold_count",
    "filter_models",
    "votes",
    "ensemble_predict",
    "vote_margin",
    "certified_fraction",
    "run_cleartext_safenet",
]

DEFAULT_PHI = 0.6


def _predict(model, X):
    if isinstance(model, Model):
        return model.predict(X)
    if hasattr(model, "predict"):
        return np.asarray(model.predict(X))
    raise TypeError(f"expected a Model (or an object with predict), got {type(model).__name__}")


def _n_classes(models, n_classes):
    if n_classes is not None:
        return int(n_classes)
    ks = {m.n_classes for m in models if isinstance(m, Model)}
    if len(ks) != 1:
        raise ValueError(f"cannot infer n_classes from the models (got {sorted(ks)}); pass n_classes")
    return ks.pop()


def validation_correct(models, X_val, y_val) -> np.ndarray:
    """int64 array: for each model, how many of (X_val, y_val) it predicts correctly."""
    y_val = np.asarray(y_val)
    return np.array([int(np.sum(_predict(m, X_val) == y_val)) for m in models], dtype=np.int64)


def threshold_count(n_val, phi=DEFAULT_PHI) -> int:
    """Smallest integer count with ``count / n_val >= phi``: ``ceil(phi * n_val)``."""
    n_val = int(n_val)
    if n_val < 0:
        raise ValueError("n_val must be >= 0")
    if not 0.0 <= float(phi) <= 1.0:
        raise ValueError(f"phi must be in [0, 1], got {phi}")
    return int(math.ceil(Fraction(repr(float(phi))) * n_val))


def filter_models(counts, n_val, phi=DEFAULT_PHI) -> np.ndarray:
    """Boolean keep mask: ``counts >= threshold_count(n_val, phi)``."""
    counts = np.asarray(counts, dtype=np.int64)
    return counts >= threshold_count(n_val, phi)


def votes(models, keep, X, n_classes=None) -> np.ndarray:
    """int64 (n, n_classes): number of KEPT models predicting each label."""
    keep = np.asarray(keep, dtype=bool)
    if keep.shape != (len(models),):
        raise ValueError(f"keep must have one entry per model ({len(models)}), got {keep.shape}")
    k = _n_classes(models, n_classes)
    n = len(np.asarray(X))
    V = np.zeros((n, k), dtype=np.int64)
    rows = np.arange(n)
    for m, kp in zip(models, keep):
        if kp:
            p = _predict(m, X)
            if len(p) and (p.min() < 0 or p.max() >= k):
                raise ValueError("a model predicted a label outside [0, n_classes)")
            np.add.at(V, (rows, p), 1)
    return V


def ensemble_predict(V) -> np.ndarray:
    """Label with the most votes per row; ties to the lowest label."""
    return np.argmax(np.asarray(V), axis=1).astype(np.int64)


def vote_margin(V) -> np.ndarray:
    """Top vote count minus runner-up count per row (runner-up 0 if one class)."""
    V = np.asarray(V, dtype=np.int64)
    if V.shape[1] == 1:
        return V[:, 0].copy()
    S = np.sort(V, axis=1)
    return S[:, -1] - S[:, -2]


def certified_fraction(V, t) -> float:
    """Fraction of rows whose vote margin is ``> 2 t`` (see module docstring)."""
    t = int(t)
    if t < 0:
        raise ValueError("t must be >= 0")
    V = np.asarray(V)
    if len(V) == 0:
        return float("nan")
    return float(np.mean(vote_margin(V) > 2 * t))


def run_cleartext_safenet(owners, models, X_test, y_test, phi=DEFAULT_PHI, t=0,
                          n_classes=None) -> dict:
    """Run the whole cleartext SafeNet pipeline.

    ``models[i]`` is owner ``owners[i]``'s model; the validation set is the
    concatenation of all owners' validation sets in owner order.  Returns a
    dict with ``accuracy``, ``models_kept`` (int), ``keep`` (bool array),
    ``val_counts``, ``val_accuracy`` (per model), ``n_val``, ``threshold``,
    ``certified_fraction`` (for ``t``), ``certified_accuracy`` (certified and
    correct), ``predictions``, ``votes``, ``phi``, ``t``.
    """
    if len(owners) != len(models):
        raise ValueError(f"{len(owners)} owners but {len(models)} models")
    X_val = np.concatenate([o.X_val for o in owners], axis=0)
    y_val = np.concatenate([o.y_val for o in owners], axis=0)
    n_val = len(y_val)
    counts = validation_correct(models, X_val, y_val)
    thr = threshold_count(n_val, phi)
    keep = counts >= thr
    if not keep.any():
        warnings.warn("SafeNet filter kept no model; every vote is 0 and the ensemble "
                      "predicts label 0", RuntimeWarning, stacklevel=2)
    V = votes(models, keep, X_test, n_classes)
    pred = ensemble_predict(V)
    y_test = np.asarray(y_test)
    correct = pred == y_test
    margin_ok = vote_margin(V) > 2 * int(t)
    return {
        "accuracy": float(np.mean(correct)) if len(y_test) else float("nan"),
        "models_kept": int(keep.sum()),
        "keep": keep,
        "val_counts": counts,
        "val_accuracy": counts / n_val if n_val else np.full(len(models), np.nan),
        "n_val": int(n_val),
        "threshold": int(thr),
        "certified_fraction": certified_fraction(V, t),
        "certified_accuracy": float(np.mean(correct & margin_ok)) if len(y_test) else float("nan"),
        "predictions": pred,
        "votes": V,
        "phi": float(phi),
        "t": int(t),
    }
