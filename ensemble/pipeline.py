"""The SafeNet experiment end to end: data, owners, poisoning, local
training, the cleartext ensemble (oracle) and the secure ensemble, reported
with the keys of cli.md (`safenet train --mode ensemble`).

`prepare(...)` builds a Setting (everything in the clear that owners and
the querier hold); `run_ensemble(setting, protocol, ...)` runs the MPC
parties on it. Owners' uploads are made here, on the owners' side, and each
party receives only its own payloads. Imports protocols, mpcore, ensemble.
"""
import time
from dataclasses import dataclass, field

import numpy as np

import protocols
from mpcore.fixedpoint import DEFAULT as FX
from mpcore.ledger import summarize

from . import cleartext
from .data import load_dataset
from .models import train_model
from .poisoning import Attack, apply_trigger, attack_success, calibrate_trigger, choose_poisoned, poison_owner
from .secure import DEFAULT_REVEAL, owner_upload, query_upload, safenet_program
from .splits import split_owners

DEFAULTS = {"epochs": 10, "batch_size": 32, "lr": 0.1, "momentum": 0.9, "hidden": (64,)}


@dataclass
class Setting:
    dataset: object
    owners: list
    poisoned: list
    attack: object
    models: list
    model_kind: str
    n_classes: int
    train_seconds: list
    settings: dict = field(default_factory=dict)

    @property
    def attack_queries(self):
        """Inputs on which attack success is measured (None without attack)."""
        if not self.poisoned or self.attack.kind == "random":
            return None
        ds = self.dataset
        if self.attack.kind == "backdoor":
            sel = ds.y_test != self.attack.target_class
            return apply_trigger(ds.X_test[sel], self.attack, ds.feature_shape)
        return ds.X_test[ds.y_test == self.attack.source_class]


def prepare(dataset="digits", data_dir=None, owners=10, split="contiguous", alpha=None,
            poisoned=0, attack="backdoor", model="mlp", epochs=None, seed=0, target_class=0,
            source_class=1, n=None, **train_kw) -> Setting:
    ds = load_dataset(dataset, data_dir=data_dir, seed=seed, n=n)
    split_mode = "dirichlet" if alpha is not None else split
    parts = split_owners(ds.X_train, ds.y_train, owners, mode=split_mode, alpha=alpha,
                         seed=seed, n_classes=ds.n_classes)
    bad = choose_poisoned(owners, poisoned, seed) if poisoned else []
    atk = calibrate_trigger(Attack(kind=attack, target_class=target_class,
                                   source_class=source_class, seed=seed), ds.X_train)
    parts = [poison_owner(o, atk, ds.feature_shape, rng=seed + o.index, n_classes=ds.n_classes)
             if o.index in bad else o for o in parts]
    kw = dict(DEFAULTS)
    if epochs is not None:
        kw["epochs"] = epochs
    kw.update(train_kw)
    models, secs = [], []
    for o in parts:
        t0 = time.perf_counter()
        models.append(train_model(o.X_train, o.y_train, ds.n_classes, kind=model, seed=seed + o.index,
                                  **kw))
        secs.append(time.perf_counter() - t0)
    settings = {"dataset": dataset, "owners": owners, "split": split_mode, "alpha": alpha,
                "poisoned": poisoned, "attack": attack, "model": model, "seed": seed,
                "target_class": target_class, "source_class": source_class,
                "n_train": int(len(ds.y_train)), "n_test": int(len(ds.y_test)),
                **{k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}}
    return Setting(ds, parts, bad, atk, models, model, ds.n_classes, secs, settings)


def _phase(merged, name, seconds):
    s = summarize(merged, (name,))
    return {"seconds": seconds, "bytes_sent": s["bytes_sent"], "rounds": s["rounds"],
            "messages_sent": s["messages_sent"]}


def _attack_success_of(labels_fn, setting):
    if not setting.poisoned or setting.attack.kind == "random":
        return None
    ds = setting.dataset
    return attack_success(labels_fn, ds.X_test, ds.y_test, setting.attack, ds.feature_shape)


def run_ensemble(setting: Setting, protocol="rep3", phi=cleartext.DEFAULT_PHI, transport="memory",
                 processes=False, reveal=DEFAULT_REVEAL, runner=None, timeout=600.0) -> dict:
    ds = setting.dataset
    cls = protocols.protocol_class(protocol)
    clear = cleartext.run_cleartext_safenet(setting.owners, setting.models, ds.X_test, ds.y_test,
                                            phi=phi, t=len(setting.poisoned),
                                            n_classes=setting.n_classes)
    # ---- owners' and querier's side: uploads (one payload per party) ----
    ups = [owner_upload(cls, FX, mdl, o.X_val, o.y_val, setting.n_classes)
           for mdl, o in zip(setting.models, setting.owners)]
    attack_X = setting.attack_queries
    queries = ds.X_test if attack_X is None else np.concatenate([ds.X_test, attack_X])
    q_payloads, q_layout = query_upload(cls, FX, queries)
    n_layers = len(setting.models[0].layers)
    party_args = [([u[0][i] for u in ups], q_payloads[i]) for i in range(cls.n_parties)]
    layouts = [u[1] for u in ups]

    def program(proto, owner_payloads, query_payload):
        t0 = time.perf_counter()
        out = safenet_program(proto, owner_payloads, layouts, query_payload, q_layout, n_layers,
                              clear["threshold"], reveal)
        out["seconds"] = time.perf_counter() - t0
        return out

    res = protocols.run(program, protocol, party_args=party_args, transport=transport,
                        processes=processes, timeout=timeout, **(runner or {}))
    out = res.values[0]
    merged = res.merged
    n_test = len(ds.y_test)
    labels = out.get("labels")
    report = {"mode": "ensemble", "protocol": protocol}
    if labels is not None:
        test_labels = labels[:n_test]
        report["accuracy"] = float(np.mean(test_labels == ds.y_test))
        report["predictions_match_cleartext"] = bool(np.array_equal(test_labels, clear["predictions"]))
        report["mismatched_predictions"] = int(np.count_nonzero(test_labels != clear["predictions"]))
        attack_labels = labels[n_test:]
        report["attack_success"] = (None if attack_X is None
                                    else _attack_success_of(lambda X: attack_labels, setting))
    report["cleartext_accuracy"] = clear["accuracy"]
    report["cleartext_attack_success"] = _attack_success_of(
        lambda X: cleartext.ensemble_predict(cleartext.votes(setting.models, clear["keep"], X,
                                                             setting.n_classes)), setting)
    report["models_kept"] = out.get("kept")
    report["cleartext_models_kept"] = clear["models_kept"]
    if "votes" in out:
        report["certified_fraction"] = cleartext.certified_fraction(out["votes"][:n_test],
                                                                    len(setting.poisoned))
    if "filter" in out:
        report["filter"] = [bool(b) for b in out["filter"]]
    report["cleartext_filter"] = [bool(b) for b in clear["keep"]]
    report["validation_accuracy"] = [float(a) for a in clear["val_accuracy"]]
    report["threshold"] = {"phi": phi, "count": clear["threshold"], "n_val": clear["n_val"]}
    report["poisoned_owners"] = setting.poisoned
    report["poisoned_models_attack_success"] = [
        _attack_success_of(setting.models[k].predict, setting) for k in setting.poisoned]
    secs = [v["seconds"] for v in res.values if v is not None and "seconds" in v] or [out["seconds"]]
    phase_secs = {p: max(s for s in _scope_seconds(res, p)) for p in ("share", "filter", "inference")}
    report["phases"] = {
        "share": _phase(merged, "share", phase_secs["share"]),
        "train": {"seconds": max(setting.train_seconds), "bytes_sent": [0] * cls.n_parties,
                  "rounds": 0, "note": "owners train locally in parallel; slowest owner"},
        "filter": _phase(merged, "filter", phase_secs["filter"]),
        "inference": _phase(merged, "inference", phase_secs["inference"]),
        "reveal": _phase(merged, "reveal", max(_scope_seconds(res, "reveal"))),
    }
    mpc = summarize(merged)
    report["total"] = {"seconds": max(secs) + max(setting.train_seconds),
                       "mpc_seconds": max(secs),
                       "bytes_sent_total": mpc["bytes_sent_total"], "rounds": mpc["rounds"],
                       "bytes_sent": mpc["bytes_sent"],
                       "upload_bytes": sum(l.total_upload_bytes for l in res.ledgers)}
    report["n_queries"] = int(len(queries))
    report["settings"] = dict(setting.settings, protocol=protocol, phi=phi, transport=transport,
                              processes=processes, reveal=list(reveal))
    return report


def _scope_seconds(res, scope):
    """Per-party wall seconds spent in a label scope."""
    return [l.scope_seconds.get((scope,), 0.0) for l in res.ledgers] or [0.0]
