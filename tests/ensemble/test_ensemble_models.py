"""Tests for ensemble/models.py: layers, trainer pieces, sklearn import."""

import warnings

import numpy as np
import pytest

from ensemble.models import (MISSING_CLASS_LOGIT, Model, backward, cross_entropy, forward,
                             from_sklearn, init_model, loss_and_logit_grad, sgd_step, softmax,
                             train_model, zero_velocity)


def _acc(model, X, y):
    return float(np.mean(model.predict(X) == y))


# ---------------------------------------------------------------- Model

def test_model_basics():
    rng = np.random.default_rng(0)
    m = init_model(6, 3, "mlp", hidden=(5, 4), rng=rng)
    assert m.layer_sizes == (6, 5, 4, 3)
    assert m.n_params == 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3
    assert m.n_classes == 3 and m.n_features == 6
    for W, b in m.layers:
        assert W.dtype == np.float64 and b.dtype == np.float64 and not b.any()
    X = rng.normal(size=(7, 6))
    acts = forward(m, X)
    assert [a.shape for a in acts] == [(7, 6), (7, 5), (7, 4), (7, 3)]
    assert (acts[1] >= 0).all() and (acts[2] >= 0).all()
    h = np.maximum(np.maximum(X @ m.layers[0][0] + m.layers[0][1], 0) @ m.layers[1][0]
                   + m.layers[1][1], 0)
    np.testing.assert_allclose(m.logits(X), h @ m.layers[2][0] + m.layers[2][1])
    lr = init_model(6, 3, "logreg", rng=rng)
    assert len(lr.layers) == 1 and lr.n_params == 21


def test_init_is_he_and_glorot():
    m = init_model(400, 10, "mlp", hidden=(300,), rng=np.random.default_rng(1))
    assert m.layers[0][0].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    lim = np.sqrt(6 / 310)
    W1 = m.layers[1][0]
    assert np.abs(W1).max() <= lim and np.abs(W1).max() > 0.95 * lim


def test_predict_ties_to_lowest_index():
    m = Model([(np.zeros((3, 4)), np.array([0.0, 1.0, 1.0, 1.0]))], "logreg")
    np.testing.assert_array_equal(m.predict(np.ones((2, 3))), [1, 1])
    z = Model([(np.zeros((3, 4)), np.zeros(4))], "logreg")
    np.testing.assert_array_equal(z.predict(np.ones((5, 3))), [0] * 5)


def test_model_validation():
    with pytest.raises(ValueError):
        Model([(np.zeros((3, 4)), np.zeros(3))], "logreg")
    with pytest.raises(ValueError):
        Model([(np.zeros((3, 4)), np.zeros(4)), (np.zeros((5, 2)), np.zeros(2))], "mlp")
    with pytest.raises(ValueError):
        Model([(np.zeros((3, 4)), np.zeros(4)), (np.zeros((4, 2)), np.zeros(2))], "logreg")
    with pytest.raises(ValueError):
        Model([(np.zeros((3, 4)), np.zeros(4))], "svm")
    m = Model([(np.zeros((3, 4)), np.zeros(4))], "logreg")
    with pytest.raises(ValueError, match="features"):
        m.predict(np.zeros((2, 5)))


# ---------------------------------------------------------------- trainer pieces

def test_loss_and_softmax():
    Z = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    P = softmax(Z)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert np.isfinite(P).all()
    y = np.array([2, 0])
    loss, G = loss_and_logit_grad(Z, y)
    assert loss == pytest.approx(cross_entropy(Z, y))
    assert loss == pytest.approx(-(np.log(P[0, 2]) + np.log(P[1, 0])) / 2)
    np.testing.assert_allclose(G.sum(axis=1), 0.0, atol=1e-15)


def test_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    m = init_model(5, 3, "mlp", hidden=(4, 3), rng=rng)
    m = Model([(W, rng.normal(0, 0.3, size=b.shape)) for W, b in m.layers], "mlp")
    X = rng.normal(size=(8, 5))
    y = rng.integers(0, 3, size=8)
    grads = backward(m, forward(m, X), y)
    eps = 1e-6
    worst = 0.0
    for li, (W, b) in enumerate(m.layers):
        for arr, g in ((W, grads[li][0]), (b, grads[li][1])):
            assert g.shape == arr.shape
            num = np.zeros_like(arr)
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + eps
                lp = cross_entropy(m.logits(X), y)
                arr[idx] = old - eps
                lm = cross_entropy(m.logits(X), y)
                arr[idx] = old
                num[idx] = (lp - lm) / (2 * eps)
            worst = max(worst, np.abs(num - g).max() / max(1e-8, np.abs(num).max()))
    assert worst < 1e-6


def test_sgd_step_formula_and_purity():
    rng = np.random.default_rng(4)
    m = init_model(3, 2, "mlp", hidden=(2,), rng=rng)
    grads = [(rng.normal(size=W.shape), rng.normal(size=b.shape)) for W, b in m.layers]
    vel = [(rng.normal(size=W.shape), rng.normal(size=b.shape)) for W, b in m.layers]
    before = m.copy()
    new, nv = sgd_step(m, grads, vel, lr=0.05, momentum=0.8, weight_decay=0.01)
    for (W, b), (W0, b0) in zip(m.layers, before.layers):  # input untouched
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)
    for (W, b), (dW, db), (vW, vb), (nW, nb), (nvW, nvb) in zip(
            m.layers, grads, vel, new.layers, nv):
        eW = 0.8 * vW + dW + 0.01 * W
        eb = 0.8 * vb + db  # no weight decay on biases
        np.testing.assert_allclose(nvW, eW)
        np.testing.assert_allclose(nvb, eb)
        np.testing.assert_allclose(nW, W - 0.05 * eW)
        np.testing.assert_allclose(nb, b - 0.05 * eb)
    z = zero_velocity(m)
    assert all(not vW.any() and not vb.any() for vW, vb in z)


def test_train_model_is_the_documented_loop(digits):
    """train_model == init_model + per-epoch permutation + forward/backward/sgd_step."""
    X, y = digits.X_train[:100], digits.y_train[:100]
    got = train_model(X, y, 10, kind="mlp", hidden=(8,), epochs=2, batch_size=32, seed=7)
    rng = np.random.default_rng(7)
    m = init_model(64, 10, "mlp", (8,), rng)
    v = zero_velocity(m)
    for _ in range(2):
        perm = rng.permutation(100)
        for s in range(0, 100, 32):  # batches 32, 32, 32, 4
            idx = perm[s:s + 32]
            m, v = sgd_step(m, backward(m, forward(m, X[idx]), y[idx]), v, 0.1, 0.9, 0.0)
    for (W, b), (W2, b2) in zip(got.layers, m.layers):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def test_train_model_deterministic(digits):
    a = train_model(digits.X_train, digits.y_train, 10, kind="logreg", epochs=2, seed=1)
    b = train_model(digits.X_train, digits.y_train, 10, kind="logreg", epochs=2, seed=1)
    c = train_model(digits.X_train, digits.y_train, 10, kind="logreg", epochs=2, seed=2)
    np.testing.assert_array_equal(a.layers[0][0], b.layers[0][0])
    assert not np.array_equal(a.layers[0][0], c.layers[0][0])


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_trainer_accuracy_digits(digits, kind):
    m = train_model(digits.X_train, digits.y_train, 10, kind=kind)
    assert m.kind == kind
    assert _acc(m, digits.X_test, digits.y_test) >= 0.9


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_trainer_accuracy_breast_cancer(breast_cancer, kind):
    ds = breast_cancer
    m = train_model(ds.X_train, ds.y_train, 2, kind=kind)
    assert m.n_classes == 2  # binary problems use 2-class softmax
    assert _acc(m, ds.X_test, ds.y_test) >= 0.93


def test_train_model_argument_errors(digits):
    with pytest.raises(ValueError):
        train_model(digits.X_train, digits.y_train, 5)  # labels >= n_classes
    with pytest.raises(ValueError):
        train_model(digits.X_train, digits.y_train, 10, kind="tree")
    with pytest.raises(ValueError):
        train_model(digits.X_train, digits.y_train[:-1], 10)


# ---------------------------------------------------------------- sklearn import

def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning is irrelevant here
        return est.fit(X, y)


def test_from_sklearn_logreg_multiclass(digits):
    from sklearn.linear_model import LogisticRegression

    est = _fit(LogisticRegression(max_iter=300), digits.X_train, digits.y_train)
    m = from_sklearn(est)
    assert m.kind == "logreg" and m.n_classes == 10
    for X in (digits.X_train, digits.X_test):
        np.testing.assert_array_equal(m.predict(X), est.predict(X))
    np.testing.assert_allclose(softmax(m.logits(digits.X_test)),
                               est.predict_proba(digits.X_test), atol=1e-10)


def test_from_sklearn_logreg_binary(breast_cancer):
    from sklearn.linear_model import LogisticRegression

    ds = breast_cancer
    est = _fit(LogisticRegression(max_iter=300), ds.X_train, ds.y_train)
    m = from_sklearn(est)
    assert m.n_classes == 2
    for X in (ds.X_train, ds.X_test):
        np.testing.assert_array_equal(m.predict(X), est.predict(X))
    Z = m.logits(ds.X_test)
    np.testing.assert_allclose(Z[:, 1] - Z[:, 0], est.decision_function(ds.X_test), atol=1e-10)
    np.testing.assert_allclose(softmax(Z), est.predict_proba(ds.X_test), atol=1e-10)
    # decision value exactly 0 -> class 0 in both
    tie = Model([(np.zeros((30, 2)), np.zeros(2))], "logreg")
    assert tie.predict(ds.X_test[:1])[0] == 0


def test_from_sklearn_mlp_multiclass(digits):
    from sklearn.neural_network import MLPClassifier

    est = _fit(MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=60, random_state=0),
               digits.X_train, digits.y_train)
    m = from_sklearn(est)
    assert m.kind == "mlp" and m.layer_sizes == (64, 32, 16, 10)
    for X in (digits.X_train, digits.X_test):
        np.testing.assert_array_equal(m.predict(X), est.predict(X))
    np.testing.assert_allclose(softmax(m.logits(digits.X_test)),
                               est.predict_proba(digits.X_test), atol=1e-10)


def test_from_sklearn_mlp_binary(breast_cancer):
    from sklearn.neural_network import MLPClassifier

    ds = breast_cancer
    est = _fit(MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0),
               ds.X_train, ds.y_train)
    assert est.coefs_[-1].shape[1] == 1  # sklearn's single logistic output unit
    m = from_sklearn(est)
    assert m.n_classes == 2
    for X in (ds.X_train, ds.X_test):
        np.testing.assert_array_equal(m.predict(X), est.predict(X))
    np.testing.assert_allclose(softmax(m.logits(ds.X_test)), est.predict_proba(ds.X_test),
                               atol=1e-10)


def test_from_sklearn_missing_classes(digits):
    from sklearn.linear_model import LogisticRegression

    sel = digits.y_train != 3
    est = _fit(LogisticRegression(max_iter=200), digits.X_train[sel], digits.y_train[sel])
    m = from_sklearn(est, n_classes=10)
    assert m.n_classes == 10
    assert m.layers[0][1][3] == MISSING_CLASS_LOGIT and not m.layers[0][0][:, 3].any()
    np.testing.assert_array_equal(m.predict(digits.X_test), est.predict(digits.X_test))


def test_from_sklearn_rejects_unsupported(digits, breast_cancer):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.tree import DecisionTreeClassifier

    ds = breast_cancer
    tanh = _fit(MLPClassifier(hidden_layer_sizes=(4,), activation="tanh", max_iter=5,
                              random_state=0), ds.X_train, ds.y_train)
    with pytest.raises(ValueError, match="relu"):
        from_sklearn(tanh)
    with pytest.raises(TypeError, match="DecisionTreeClassifier"):
        from_sklearn(DecisionTreeClassifier().fit(ds.X_train, ds.y_train))
    with pytest.raises(ValueError, match="not fitted"):
        from_sklearn(LogisticRegression())
    strings = _fit(LogisticRegression(max_iter=50), ds.X_train,
                   np.where(ds.y_train == 1, "yes", "no"))
    with pytest.raises(ValueError, match="integer"):
        from_sklearn(strings)
