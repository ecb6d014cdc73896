"""The SafeNet experiment end to end: data, owners, poisoning, local
training, the cleartext ensemble (oracle) and the secure ensemble, reported
with the keys of cli.md (`safenet train --mode ensemble`).

`prepare(...)` builds a Setting (everything in the clear that owners and
the querier hold). `ensemble_plan(setting, protocol, ...)` is the owners'
and querier's side: their uploads, one input per party (ensemble.bundle.Plan,
which `safenet owners` writes to files). `run_ensemble_plan(plan, ...)` runs
the MPC parties (all of them here, or one of them on its own host) and
scores the revealed labels with the querier's evaluation data;
`run_ensemble(setting, ...)` does both. Imports protocols, mpcore, ensemble.
"""
import time
from dataclasses import dataclass, field

import numpy as np

import protocols
from mpcore.fixedpoint import DEFAULT as FX

from . import cleartext
from .bundle import Plan
from .data import load_dataset
from .models import train_model
from .poisoning import Attack, apply_trigger, attack_success, calibrate_trigger, choose_poisoned, poison_owner
from .ml.packing import make_uploads
from .report import labels_attack_success, program_seconds, run_plan
from .secure import DEFAULT_REVEAL, owner_arrays, safenet_program
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

    @property
    def attack_target(self):
        """The class attack success counts (None when there are no attack queries)."""
        return None if self.attack_queries is None else int(self.attack.target_class)

    @property
    def queries(self):
        """What the querier uploads: the test inputs, then the attack queries."""
        attack_X = self.attack_queries
        X_test = self.dataset.X_test
        return X_test if attack_X is None else np.concatenate([X_test, attack_X])


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


def _attack_success_of(labels_fn, setting):
    if not setting.poisoned or setting.attack.kind == "random":
        return None
    ds = setting.dataset
    return attack_success(labels_fn, ds.X_test, ds.y_test, setting.attack, ds.feature_shape)


def protocol_name(protocol):
    return protocol if isinstance(protocol, str) else protocols.protocol_class(protocol).name


def ensemble_plan(setting: Setting, protocol="rep3", phi=cleartext.DEFAULT_PHI,
                  reveal=DEFAULT_REVEAL) -> Plan:
    """The owners' and querier's side: uploads (party i gets only inputs[i]),
    the public parameters of the program, and the querier's evaluation data
    (test labels and the cleartext SafeNet figures)."""
    ds = setting.dataset
    cls = protocols.protocol_class(protocol)
    clear = cleartext.run_cleartext_safenet(setting.owners, setting.models, ds.X_test, ds.y_test,
                                            phi=phi, t=len(setting.poisoned),
                                            n_classes=setting.n_classes)
    arrays = [owner_arrays(FX, mdl, o.X_val, o.y_val, setting.n_classes)
              for mdl, o in zip(setting.models, setting.owners)]
    inputs, layouts, q_layout = make_uploads(cls, arrays, {"X": FX.encode(setting.queries)})
    public = {"layouts": layouts, "query_layout": q_layout,
              "n_layers": len(setting.models[0].layers), "threshold": int(clear["threshold"]),
              "reveal": tuple(reveal), "phi": float(phi), "n_queries": int(len(setting.queries))}
    clear_attack = _attack_success_of(
        lambda X: cleartext.ensemble_predict(cleartext.votes(setting.models, clear["keep"], X,
                                                             setting.n_classes)), setting)
    evaluation = {
        "y_test": np.asarray(ds.y_test), "cleartext_predictions": np.asarray(clear["predictions"]),
        "cleartext_accuracy": float(clear["accuracy"]),
        "cleartext_attack_success": clear_attack,
        "cleartext_models_kept": int(clear["models_kept"]),
        "cleartext_filter": [bool(b) for b in clear["keep"]],
        "validation_accuracy": [float(a) for a in clear["val_accuracy"]],
        "threshold": {"phi": float(phi), "count": int(clear["threshold"]),
                      "n_val": int(clear["n_val"])},
        "attack_target": setting.attack_target, "poisoned_owners": list(setting.poisoned),
        "poisoned_models_attack_success": [_attack_success_of(setting.models[k].predict, setting)
                                           for k in setting.poisoned],
        "train_seconds": list(setting.train_seconds),
        "settings": dict(setting.settings)}
    return Plan("ensemble", protocol_name(protocol), inputs, public, evaluation)


def run_ensemble_plan(plan: Plan, transport="memory", processes=False, runner=None,
                      timeout=600.0) -> dict:
    """The parties' side: run SafeNet inside MPC on the plan's inputs (every
    party here, or with runner={"hosts", "party_id"} only this host's) and
    report. Scoring needs plan.evaluation (the querier's data); without it
    the revealed labels are reported as they are."""
    pub = plan.public

    def body(proto, owner_payloads, query_payload):
        return safenet_program(proto, owner_payloads, pub["layouts"], query_payload,
                               pub["query_layout"], pub["n_layers"], pub["threshold"],
                               tuple(pub["reveal"]))

    res, cost = run_plan(plan, body, transport, processes, runner, timeout)
    out = res.values[cost.me]
    report = {"mode": "ensemble", "protocol": plan.protocol}
    report.update(_score(out, plan.evaluation))
    ev = plan.evaluation
    train_seconds = max(ev.get("train_seconds") or [0.0])
    report["phases"] = {
        "share": cost.phase("share"),
        "train": {"seconds": train_seconds, "bytes_sent": [0] * cost.n,
                  "rounds": 0, "note": "owners train locally in parallel; slowest owner"},
        "filter": cost.phase("filter"),
        "inference": cost.phase("inference"),
        "reveal": cost.phase("reveal"),
    }
    report["total"] = cost.total(program_seconds(res), train_seconds)
    report["n_queries"] = pub["n_queries"]
    report["settings"] = dict(ev.get("settings", {}), protocol=plan.protocol, phi=pub["phi"],
                              transport=transport, processes=processes,
                              reveal=list(pub["reveal"]))
    report.update(cost.party_fields())
    return report


def _score(out, ev):
    """Report fields from the revealed outputs and the querier's evaluation data."""
    labels = out.get("labels")
    r = {}
    if labels is not None and ev:
        y_test = np.asarray(ev["y_test"])
        n_test = len(y_test)
        test_labels = labels[:n_test]
        clear_pred = np.asarray(ev["cleartext_predictions"])
        r["accuracy"] = float(np.mean(test_labels == y_test))
        r["predictions_match_cleartext"] = bool(np.array_equal(test_labels, clear_pred))
        r["mismatched_predictions"] = int(np.count_nonzero(test_labels != clear_pred))
        r["attack_success"] = labels_attack_success(labels[n_test:], ev["attack_target"])
    elif labels is not None:
        r["labels"] = [int(v) for v in labels]      # no evaluation data here: raw labels
    r["cleartext_accuracy"] = ev.get("cleartext_accuracy")
    r["cleartext_attack_success"] = ev.get("cleartext_attack_success")
    r["models_kept"] = None if out.get("kept") is None else int(out["kept"])
    r["cleartext_models_kept"] = ev.get("cleartext_models_kept")
    if "votes" in out and ev:
        n_test = len(ev["y_test"])
        r["certified_fraction"] = cleartext.certified_fraction(out["votes"][:n_test],
                                                               len(ev["poisoned_owners"]))
    if "filter" in out:
        r["filter"] = [bool(b) for b in out["filter"]]
    for key in ("cleartext_filter", "validation_accuracy", "threshold", "poisoned_owners",
                "poisoned_models_attack_success"):
        r[key] = ev.get(key)
    return r


def run_ensemble(setting: Setting, protocol="rep3", phi=cleartext.DEFAULT_PHI, transport="memory",
                 processes=False, reveal=DEFAULT_REVEAL, runner=None, timeout=600.0) -> dict:
    """Owners' side and parties' side in one call (all parties in this process tree)."""
    plan = ensemble_plan(setting, protocol, phi, reveal)
    return run_ensemble_plan(plan, transport=transport, processes=processes, runner=runner,
                             timeout=timeout)
