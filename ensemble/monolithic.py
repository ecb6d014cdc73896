"""The monolithic baseline end to end (`safenet train --mode monolithic`):
all owners secret-share their TRAINING data (poisoned owners' data
included, as in practice), the parties train ONE model of the same
architecture with fixed-point SGD inside MPC (ensemble.ml.train), and
only the predictions on the querier's test inputs are revealed.

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
from mpcore.ledger import summarize

from .ml.forward import LOGIT_BITS, secure_logits, stack
from .ml.packing import receive_upload, share_upload
from .ml.train import secure_sgd
from .models import Model, init_model, train_model
from .pipeline import DEFAULTS, _attack_success_of, _phase, _scope_seconds


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


def run_monolithic(setting, protocol="rep3", transport="memory", processes=False, batch_size=128,
                   lr=None, momentum=None, runner=None, quiet=True, timeout=3600.0) -> dict:
    ds = setting.dataset
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
    steps_per_epoch = -(-n // batch_size)

    # owners' and querier's uploads
    ups = [share_upload(cls, {"X": FX.encode(o.X_train),
                              "Y": FX.encode(_onehot_fx(o.y_train, setting.n_classes))})
           for o in setting.owners]
    attack_X = setting.attack_queries
    queries = ds.X_test if attack_X is None else np.concatenate([ds.X_test, attack_X])
    q_payloads, q_layout = share_upload(cls, {"X": FX.encode(queries)})
    party_args = [([u[0][i] for u in ups], q_payloads[i]) for i in range(cls.n_parties)]
    layouts = [u[1] for u in ups]

    def program(proto, owner_payloads, query_payload):
        t = time.perf_counter()
        out = monolithic_program(proto, owner_payloads, layouts, query_payload, q_layout,
                                 init.layers, batches, lr, momentum, steps_per_epoch, epochs, quiet)
        out["seconds"] = time.perf_counter() - t
        return out

    res = protocols.run(program, protocol, party_args=party_args, transport=transport,
                        processes=processes, timeout=timeout, **(runner or {}))
    out = res.values[0]
    merged = res.merged
    n_test = len(ds.y_test)
    labels = out["labels"]
    ref_pred = ref.predict(ds.X_test)
    report = {
        "mode": "monolithic", "protocol": protocol,
        "accuracy": float(np.mean(labels[:n_test] == ds.y_test)),
        "cleartext_accuracy": float(np.mean(ref_pred == ds.y_test)),
        "predictions_agree_with_cleartext": float(np.mean(labels[:n_test] == ref_pred)),
        "attack_success": (None if attack_X is None
                           else _attack_success_of(lambda X: labels[n_test:], setting)),
        "cleartext_attack_success": _attack_success_of(ref.predict, setting),
        "models_kept": None, "certified_fraction": None,
        "poisoned_owners": setting.poisoned,
    }
    report["phases"] = {p: _phase(merged, p, max(_scope_seconds(res, p)))
                        for p in ("share", "train", "inference", "reveal")}
    report["phases"]["filter"] = {"seconds": 0.0, "bytes_sent": [0] * cls.n_parties, "rounds": 0}
    mpc = summarize(merged)
    report["total"] = {"seconds": max(v["seconds"] for v in res.values if v),
                       "mpc_seconds": max(v["seconds"] for v in res.values if v),
                       "bytes_sent_total": mpc["bytes_sent_total"], "rounds": mpc["rounds"],
                       "bytes_sent": mpc["bytes_sent"],
                       "upload_bytes": sum(l.total_upload_bytes for l in res.ledgers)}
    report["cleartext_train_seconds"] = ref_seconds
    report["n_queries"] = int(len(queries))
    report["settings"] = dict(kw, protocol=protocol, transport=transport, processes=processes,
                              batch_size=batch_size, lr=lr, momentum=momentum, epochs=epochs,
                              n_train=int(n), steps=len(batches))
    return report
