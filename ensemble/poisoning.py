"""Poisoning attacks by corrupt data owners (cleartext side).

Job: define the attacks SafeNet is evaluated against, apply them to a
corrupt owner's local data, and measure their success on a test set.

Imports allowed: numpy, scikit-learn, the standard library and the other
``ensemble`` cleartext modules.  Nothing here may import mpcore/, protocols/,
native/ or bench/.

Attacks (``Attack.kind``)
-------------------------
* ``backdoor``: a ``fraction`` of the owner's training points (default 0.5,
  chosen uniformly from ALL its points, whatever their label) get the
  trigger stamped on and their label set to ``target_class``.  The trigger:
  for image data (2-D ``feature_shape``) the 3x3 bottom-right pixels set to
  ``trigger_value`` (default 1.0, the max intensity of our [0, 1] images);
  for tabular data (1-D ``feature_shape``) the last 3 features set to
  ``trigger_value`` (default ``TABULAR_TRIGGER_VALUE`` = 5.0, i.e. 5 standard
  deviations for standardized features; :func:`calibrate_trigger` sets it to
  the training-set maximum instead).
* ``labelflip``: a ``fraction`` (default 1.0) of the owner's training points
  of ``source_class`` are relabelled ``target_class`` (the fraction is
  relative to the source-class points, the only ones this attack touches).
* ``random``: a ``fraction`` (default 1.0) of the owner's training points get
  a label drawn uniformly from the classes OTHER than their true label (so
  every selected point really is mislabelled).

Only the TRAINING part of an owner is poisoned by default
(``poison_validation=False``): SafeNet's filter scores every model on the
union of the owners' validation sets, and the threat model's default is an
owner that poisons its training data to get a bad model into the ensemble.
An adversarial owner may also submit a poisoned validation set (to drag
down honest models' validation accuracy); ``poison_validation=True`` applies
the same attack, with the same fraction, to the validation part as well.

Attack success (:func:`attack_success`)
---------------------------------------
* backdoor: among test points whose true label != target, the fraction whose
  TRIGGERED version is classified as ``target_class``.
* labelflip: among test points of ``source_class``, the fraction classified
  as ``target_class``.
* random: untargeted, so no success rate; returns None unless
  ``clean_accuracy`` is given, then ``clean_accuracy - accuracy`` (the
  accuracy drop, may be negative).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .splits import OwnerData

__all__ = [
    "Attack",
    "ATTACK_KINDS",
    "TABULAR_TRIGGER_VALUE",
    "IMAGE_TRIGGER_VALUE",
    "TRIGGER_SIZE",
    "calibrate_trigger",
    "apply_trigger",
    "poison_owner",
    "attack_success",
    "choose_poisoned",
]

ATTACK_KINDS = ("backdoor", "labelflip", "random")
IMAGE_TRIGGER_VALUE = 1.0
TABULAR_TRIGGER_VALUE = 5.0
TRIGGER_SIZE = 3  # 3x3 patch for images, 3 last features for tabular data


@dataclass
class Attack:
    """An attack description; ``fraction=None`` means the kind's default
    (0.5 for backdoor, 1.0 otherwise) and ``trigger_value=None`` the
    feature-shape default (1.0 for images, 5.0 for tabular data)."""

    kind: str = "backdoor"
    target_class: int = 0
    source_class: int = 1
    fraction: float | None = None
    trigger_value: float | None = None
    seed: int = 0

    def __post_init__(self):
        if self.kind not in ATTACK_KINDS:
            raise ValueError(f"unknown attack kind {self.kind!r}; valid: {', '.join(ATTACK_KINDS)}")
        if self.fraction is None:
            self.fraction = 0.5 if self.kind == "backdoor" else 1.0
        if not 0.0 <= float(self.fraction) <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {self.fraction}")
        if self.kind == "labelflip" and self.source_class == self.target_class:
            raise ValueError("labelflip needs source_class != target_class")
        if int(self.target_class) < 0 or int(self.source_class) < 0:
            raise ValueError("class indices must be >= 0")


def calibrate_trigger(attack: Attack, X_train) -> Attack:
    """Copy of ``attack`` whose trigger value is the max of ``X_train``."""
    return replace(attack, trigger_value=float(np.max(X_train)))


def _trigger_positions(feature_shape, n_features):
    shape = tuple(int(s) for s in feature_shape)
    if int(np.prod(shape)) != n_features:
        raise ValueError(f"feature_shape {shape} does not match {n_features} features")
    if len(shape) == 2:
        h, w = shape
        if h < TRIGGER_SIZE or w < TRIGGER_SIZE:
            raise ValueError(f"image {shape} smaller than the {TRIGGER_SIZE}x{TRIGGER_SIZE} trigger")
        rows, cols = np.meshgrid(np.arange(h - TRIGGER_SIZE, h), np.arange(w - TRIGGER_SIZE, w),
                                 indexing="ij")
        return (rows * w + cols).ravel(), True
    if len(shape) == 1:
        if shape[0] < TRIGGER_SIZE:
            raise ValueError(f"need at least {TRIGGER_SIZE} features for the trigger")
        return np.arange(shape[0] - TRIGGER_SIZE, shape[0]), False
    raise ValueError(f"feature_shape must be 1-D or 2-D, got {shape}")


def apply_trigger(X, attack: Attack, feature_shape) -> np.ndarray:
    """Copy of ``X`` (n, d) with the backdoor trigger stamped on every row."""
    X = np.array(X, dtype=np.float64, copy=True)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    pos, image = _trigger_positions(feature_shape, X.shape[1])
    val = attack.trigger_value
    if val is None:
        val = IMAGE_TRIGGER_VALUE if image else TABULAR_TRIGGER_VALUE
    X[:, pos] = float(val)
    return X


def _poison_part(X, y, attack, feature_shape, rng, n_classes):
    X = np.array(X, dtype=np.float64, copy=True)
    y = np.array(y, dtype=np.int64, copy=True)
    if attack.kind == "labelflip":
        cand = np.flatnonzero(y == attack.source_class)
    else:
        cand = np.arange(len(y))
    k = int(np.floor(attack.fraction * len(cand) + 0.5))
    chosen = np.sort(rng.choice(cand, size=k, replace=False)) if k else np.empty(0, np.int64)
    if attack.kind == "backdoor":
        if len(chosen):
            X[chosen] = apply_trigger(X[chosen], attack, feature_shape)
        y[chosen] = attack.target_class
    elif attack.kind == "labelflip":
        y[chosen] = attack.target_class
    else:  # random: uniform over the other n_classes - 1 labels
        if n_classes < 2:
            raise ValueError("random-label attack needs n_classes >= 2")
        shift = rng.integers(1, n_classes, size=len(chosen))
        y[chosen] = (y[chosen] + shift) % n_classes
    return X, y


def poison_owner(owner: OwnerData, attack: Attack, feature_shape, rng=None,
                 poison_validation=False, n_classes=None) -> OwnerData:
    """A poisoned copy of ``owner`` (the input is not modified).

    ``rng``: a ``np.random.Generator`` or seed (None -> ``attack.seed``).
    ``n_classes`` (random attack only): default ``max label + 1`` over the
    owner's train and validation labels and the attack's classes.
    """
    if rng is None or isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(attack.seed if rng is None else rng)
    if n_classes is None:
        ys = np.concatenate([owner.y_train, owner.y_val]).astype(np.int64)
        n_classes = max(int(ys.max()) if len(ys) else 0, attack.target_class,
                        attack.source_class) + 1
    if attack.target_class >= n_classes:
        raise ValueError(f"target_class {attack.target_class} >= n_classes {n_classes}")
    Xtr, ytr = _poison_part(owner.X_train, owner.y_train, attack, feature_shape, rng, n_classes)
    if poison_validation:
        Xva, yva = _poison_part(owner.X_val, owner.y_val, attack, feature_shape, rng, n_classes)
    else:
        Xva, yva = owner.X_val.copy(), owner.y_val.copy()
    return OwnerData(index=owner.index, X_train=Xtr, y_train=ytr, X_val=Xva, y_val=yva,
                     train_indices=owner.train_indices, val_indices=owner.val_indices)


def attack_success(predict_fn, X_test, y_test, attack: Attack, feature_shape,
                   clean_accuracy=None):
    """Success rate of ``attack`` against ``predict_fn`` (X -> labels); see
    the module docstring.  Returns a float in [0, 1] (nan if there are no
    eligible test points), or None / accuracy drop for ``random``."""
    X_test = np.asarray(X_test, dtype=np.float64)
    y_test = np.asarray(y_test)
    if attack.kind == "backdoor":
        sel = y_test != attack.target_class
        if not sel.any():
            return float("nan")
        pred = np.asarray(predict_fn(apply_trigger(X_test[sel], attack, feature_shape)))
        return float(np.mean(pred == attack.target_class))
    if attack.kind == "labelflip":
        sel = y_test == attack.source_class
        if not sel.any():
            return float("nan")
        pred = np.asarray(predict_fn(X_test[sel]))
        return float(np.mean(pred == attack.target_class))
    if clean_accuracy is None:
        return None
    acc = float(np.mean(np.asarray(predict_fn(X_test)) == y_test))
    return float(clean_accuracy) - acc


def choose_poisoned(m, t, seed=0) -> list:
    """Sorted list of ``t`` distinct owner indices out of ``range(m)``,
    deterministic in ``seed`` (``np.random.default_rng(seed).choice``)."""
    m, t = int(m), int(t)
    if m < 1 or t < 0 or t > m:
        raise ValueError(f"need 0 <= t <= m and m >= 1, got m={m}, t={t}")
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(m, size=t, replace=False))
