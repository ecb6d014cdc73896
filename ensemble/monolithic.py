"""The monolithic baseline end to end (`safenet train --mode monolithic`):
all owners secret-share their TRAINING data (poisoned owners' data
included, as in practice), the parties train ONE model of the same
architecture with fixed-point SGD inside MPC (ensemble.ml.train), and
only the predictions on the querier's test inputs are revealed.
`monolithic_plan` is the owners' and querier's side (ensemble.bundle.Plan),
`run_monolithic_plan` the parties' side, `run_monolithic` both.

The cleartext reference is `ensemble.models.train_model` on the union of
the owners' training sets in owner order, with the same seed: same initial
weights, same data order, same hyper-parameters; its accuracy is reported
as `cleartext_accuracy`. Imports protocols, mpcore, ensemble.
"""
import sys
import time

import numpy as np

import protocols
from mpcore.fixedpoint import DEFAULT as FX

from .bundle import Plan
from .ml.forward import LOGIT_BITS, secure_logits, stack
from .ml.packing import make_uploads, receive_upload
from .ml.train import secure_sgd
from .models import init_model, train_model
from .pipeline import DEFAULTS, _attack_success_of, protocol_name
from .report import labels_attack_success, program_seconds, run_plan


def training_union(setting):
    X = np.concatenate([o.X_train for o in setting.owners])
    y = np.concatenate([o.y_train for o in setting.owners])
    return X, y


def data_order(n, epochs, batch_size, rng):
    """The public batches, exactly as train_model draws them after init."""
    batches = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        batches.extend(perm[s:s + batch_size] for s in range(0, n, batch_size))
    return batches


def _onehot_fx(y, n_classes):
    Y = np.zeros((len(y), n_classes))
    Y[np.arange(len(y)), y] = 1.0
    return Y


def monolithic_program(proto, owner_payloads, owner_layouts, query_payload, query_layout,
                       init_layers, batches, lr, momentum, steps_per_epoch, epochs, quiet):
    led = proto.ledger
    with led.scope("share"):
        ups = [receive_upload(proto, pl, lay) for pl, lay in zip(owner_payloads, owner_layouts)]
        from mpcore.shares import concatenate
        X = concatenate([u["X"] for u in ups], axis=0)
        Y = concatenate([u["Y"] for u in ups], axis=0)
        queries = receive_upload(proto, query_payload, query_layout)["X"]

    def on_epoch(e):
        if proto.party_id == 0 and not quiet:
            print(f"monolithic training ({proto.name}): epoch {e}/{epochs}", file=sys.stderr, flush=True)

    with led.scope("train"):
        params = secure_sgd(proto, X, Y, init_layers, batches, lr, momentum, on_epoch, steps_per_epoch)
    with led.scope("inference"):
        layers = [(stack([W]), stack([b])) for W, b in params]
        labels = proto.argmax(secure_logits(proto, layers, queries), bits=LOGIT_BITS,
                              method="hybrid")
    with led.scope("reveal"):
        return {"labels": proto.reveal(labels).astype(np.int64).reshape(-1)}


def monolithic_plan(setting, protocol="rep3", batch_size=128, lr=None, momentum=None) -> Plan:
    """The owners' and querier's side: every owner shares its training set,
    the querier its test inputs; public: the initial weights (from the public
    seed), the data order and the hyper-parameters; the querier keeps the
    evaluation data (test labels, the float reference's predictions)."""
    cls = protocols.protocol_class(protocol)
    kw = setting.settings
    epochs = int(kw.get("epochs", DEFAULTS["epochs"]))
    lr = float(kw.get("lr", DEFAULTS["lr"]) if lr is None else lr)
    momentum = float(kw.get("momentum", DEFAULTS["momentum"]) if momentum is None else momentum)
    hidden = tuple(kw.get("hidden", DEFAULTS["hidden"]))
    X_all, y_all = training_union(setting)
    n, d = X_all.shape
    seed = int(kw.get("seed", 0))

    # cleartext reference: same init, order and hyper-parameters (float)
    t0 = time.perf_counter()
    ref = train_model(X_all, y_all, setting.n_classes, kind=setting.model_kind, hidden=hidden,
                      epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum, seed=seed)
    ref_seconds = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    init = init_model(d, setting.n_classes, setting.model_kind, hidden, rng)
    batches = data_order(n, epochs, batch_size, rng)

    arrays = [{"X": FX.encode(o.X_train), "Y": FX.encode(_onehot_fx(o.y_train, setting.n_classes))}
              for o in setting.owners]
    inputs, layouts, q_layout = make_uploads(cls, arrays, {"X": FX.encode(setting.queries)})
    public = {"layouts": layouts, "query_layout": q_layout,
              "init_layers": [(np.asarray(W), np.asarray(b)) for W, b in init.layers],
              "batches": [np.asarray(b, dtype=np.int64) for b in batches],
              "lr": lr, "momentum": momentum, "epochs": epochs, "batch_size": batch_size,
              "steps_per_epoch": -(-n // batch_size), "n_train": int(n),
              "n_queries": int(len(setting.queries))}
    ds = setting.dataset
    evaluation = {
        "y_test": np.asarray(ds.y_test), "cleartext_predictions": ref.predict(ds.X_test),
        "cleartext_attack_success": _attack_success_of(ref.predict, setting),
        "attack_target": setting.attack_target, "poisoned_owners": list(setting.poisoned),
        "cleartext_train_seconds": ref_seconds, "settings": dict(kw)}
    return Plan("monolithic", protocol_name(protocol), inputs, public, evaluation)


def run_monolithic_plan(plan: Plan, transport="memory", processes=False, runner=None, quiet=True,
                        timeout=3600.0) -> dict:
    """The parties' side: secure SGD on the plan's inputs, predictions on
    the queries revealed, scored with plan.evaluation when present."""
    pub = plan.public

    def body(proto, owner_payloads, query_payload):
        return monolithic_program(proto, owner_payloads, pub["layouts"], query_payload,
                                  pub["query_layout"], pub["init_layers"], pub["batches"],
                                  pub["lr"], pub["momentum"], pub["steps_per_epoch"],
                                  pub["epochs"], quiet)

    res, cost = run_plan(plan, body, transport, processes, runner, timeout)
    labels = res.values[cost.me]["labels"]
    ev = plan.evaluation
    report = {"mode": "monolithic", "protocol": plan.protocol}
    if ev:
        y_test = np.asarray(ev["y_test"])
        n_test = len(y_test)
        ref_pred = np.asarray(ev["cleartext_predictions"])
        report.update({
            "accuracy": float(np.mean(labels[:n_test] == y_test)),
            "cleartext_accuracy": float(np.mean(ref_pred == y_test)),
            "predictions_agree_with_cleartext": float(np.mean(labels[:n_test] == ref_pred)),
            "attack_success": labels_attack_success(labels[n_test:], ev["attack_target"])})
    else:
        report["labels"] = [int(v) for v in labels]     # no evaluation data here: raw labels
    report.update({"cleartext_attack_success": ev.get("cleartext_attack_success"),
                   "models_kept": None, "certified_fraction": None,
                   "poisoned_owners": ev.get("poisoned_owners")})
    report["phases"] = {p: cost.phase(p) for p in ("share", "train", "inference", "reveal")}
    report["phases"]["filter"] = {"seconds": 0.0, "bytes_sent": [0] * cost.n, "rounds": 0}
    report["total"] = cost.total(program_seconds(res))
    report["cleartext_train_seconds"] = ev.get("cleartext_train_seconds")
    report["n_queries"] = pub["n_queries"]
    report["settings"] = dict(ev.get("settings", {}), protocol=plan.protocol, transport=transport,
                              processes=processes, batch_size=pub["batch_size"], lr=pub["lr"],
                              momentum=pub["momentum"], epochs=pub["epochs"],
                              n_train=pub["n_train"], steps=len(pub["batches"]))
    report.update(cost.party_fields())
    return report


def run_monolithic(setting, protocol="rep3", transport="memory", processes=False, batch_size=128,
                   lr=None, momentum=None, runner=None, quiet=True, timeout=3600.0) -> dict:
    """Owners' side and parties' side in one call."""
    plan = monolithic_plan(setting, protocol, batch_size, lr, momentum)
    return run_monolithic_plan(plan, transport=transport, processes=processes, runner=runner,
                               quiet=quiet, timeout=timeout)
