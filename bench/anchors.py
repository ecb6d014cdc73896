"""The matched settings of the project's issues, run on this machine and set
beside the MP-SPDZ (commit 3a0a7b1d) figures measured on the same machine
kind:

    python -m bench.anchors [--repeat 3] [--only primitives,ensemble,monolithic]
                            [--protocols rep3,rep4] [--out results/anchors]

Writes anchors.json (every run, medians, metadata) and anchors.md (the
tables). Parties are separate processes over loopback TCP. Ensemble: digits,
80/20 stratified split (seed 0: 1437/360), 10 owners with contiguous shares,
20% of each held out (290 validation points), owners' models fitted with
scikit-learn (LogisticRegression; MLPClassifier with 64 ReLU units) as in
the anchor, phi 0.6, only labels and the kept count revealed. Monolithic:
the same data, batch 128, momentum 0.9, learning rate 0.1, 10 epochs.
Imports bench, ensemble, protocols.
"""
import argparse
import json
import os
import time

import numpy as np

from . import meta

MPSPDZ = {
    ("primitives", "rep3", "mul"): {"seconds": 0.042, "note": "8 MB per party, 1 round"},
    ("primitives", "rep3", "fxmatmul"): {"seconds": 0.027, "note": "3 rounds"},
    ("primitives", "rep3", "fxmul"): {"seconds": 0.0074, "note": "3 rounds"},
    ("primitives", "rep3", "ltz"): {"seconds": 0.031, "note": "3.8 MB, 9 rounds"},
    ("primitives", "rep4", "mul"): {"seconds": 0.227, "note": "16 MB from party 0, 1 round"},
    ("primitives", "rep4", "fxmatmul"): {"seconds": 0.133, "note": "5 rounds"},
    ("primitives", "rep4", "fxmul"): {"seconds": 0.062, "note": "5 rounds"},
    ("primitives", "rep4", "ltz"): {"seconds": 0.159, "note": "10 MB, 41 rounds"},
    ("ensemble", "rep3", "logreg"): {"seconds": 0.050, "MB": 14.7, "rounds": 122},
    ("ensemble", "rep4", "logreg"): {"seconds": 0.22, "MB": 34, "rounds": 194},
    ("ensemble", "rep3", "mlp"): {"seconds": 0.21, "MB": 76, "rounds": 183},
    ("ensemble", "rep4", "mlp"): {"seconds": 1.15, "MB": 187, "rounds": 411},
    ("monolithic", "rep3", "logreg"): {"seconds": 1.04, "MB": 298, "accuracy": 0.942},
    ("monolithic", "rep4", "logreg"): {"seconds": 5.16, "MB": 769, "accuracy": 0.942},
    ("monolithic", "rep3", "mlp"): {"seconds": 1.98, "MB": 585, "accuracy": 0.968},
    ("monolithic", "rep4", "mlp"): {"seconds": 10.6, "MB": 1495, "accuracy": 0.968},
}
SPU = {"mul": 0.062, "fxmatmul": 0.196, "fxmul": 0.0095, "ltz": 0.123}


def sklearn_models(setting, kind, seed=0):
    """Owners' models fitted with scikit-learn, as in the anchor."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    from ensemble.models import from_sklearn
    models = []
    for o in setting.owners:
        if kind == "logreg":
            est = LogisticRegression(max_iter=2000)
        else:
            est = MLPClassifier(hidden_layer_sizes=(64,), activation="relu", max_iter=1000,
                                random_state=seed)
        est.fit(o.X_train, o.y_train)
        models.append(from_sklearn(est, n_classes=setting.n_classes))
    return models


def _median_run(fn, repeat):
    runs = [fn() for _ in range(repeat)]
    key = lambda r: r["total"]["mpc_seconds"]  # noqa: E731
    return sorted(runs, key=key)[len(runs) // 2], [key(r) for r in runs]


def run_primitives(protocols_, repeat):
    from .primitives import run_primitives as prim
    rows = []
    for proto in protocols_:
        for op in ("mul", "fxmatmul", "fxmul", "ltz"):
            try:
                r = prim(proto, [op], "tcp", repeat=max(5, repeat))[0]
            except ValueError as exc:         # e.g. an op the protocol lacks
                rows.append({"kind": "primitives", "protocol": proto, "op": op, "error": str(exc)})
                continue
            rows.append({"kind": "primitives", "protocol": proto, "op": op,
                         "seconds": r["median_seconds"], "rounds": r["rounds"],
                         "MB_per_party": [b / 1e6 for b in r["bytes_sent"]],
                         "MB_total": sum(r["bytes_sent"]) / 1e6, "correct": r["correct"],
                         "mp_spdz": MPSPDZ.get(("primitives", proto, op)),
                         "spu_aby3": SPU.get(op) if proto == "rep3" else None})
    return rows


def run_training(kind, protocols_, models, repeat):
    from ensemble.monolithic import run_monolithic
    from ensemble.pipeline import prepare, run_ensemble
    rows = []
    for model in models:
        setting = prepare("digits", owners=10, model=model, epochs=10, seed=0)
        if kind == "ensemble":
            setting.models = sklearn_models(setting, model)
        for proto in protocols_:
            if kind == "ensemble":
                fn = lambda: run_ensemble(setting, proto, transport="tcp", processes=True,  # noqa: E731
                                          reveal=("labels", "kept"))
            else:
                fn = lambda: run_monolithic(setting, proto, transport="tcp", processes=True,  # noqa: E731
                                            batch_size=128)
            try:
                r, secs = _median_run(fn, repeat)
            except Exception as exc:  # report, don't stop the other settings
                rows.append({"kind": kind, "protocol": proto, "model": model, "error": str(exc)})
                continue
            rows.append({"kind": kind, "protocol": proto, "model": model,
                         "seconds": r["total"]["mpc_seconds"], "all_seconds": secs,
                         "MB_total": r["total"]["bytes_sent_total"] / 1e6,
                         "rounds": r["total"]["rounds"], "accuracy": r.get("accuracy"),
                         "cleartext_accuracy": r.get("cleartext_accuracy"),
                         "matches_cleartext": r.get("predictions_match_cleartext"),
                         "mp_spdz": MPSPDZ.get((kind, proto, model))})
    return rows


def _fmt(v, spec="{:.4g}"):
    return "-" if v is None else spec.format(v)


def markdown(rows):
    lines = ["| setting | ours: s | MB (all parties) | rounds | MP-SPDZ | ours / MP-SPDZ time |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        name = f"{r['kind']} {r['protocol']} {r.get('op') or r.get('model')}"
        if "error" in r:
            lines.append(f"| {name} | error: {r['error'][:80]} | | | | |")
            continue
        ref = r.get("mp_spdz") or {}
        ref_txt = ", ".join(f"{k} {v}" for k, v in ref.items())
        ratio = r["seconds"] / ref["seconds"] if ref.get("seconds") else None
        acc = f" (acc {r['accuracy']:.3f})" if r.get("accuracy") is not None else ""
        lines.append(f"| {name}{acc} | {_fmt(r['seconds'])} | {_fmt(r['MB_total'])} | "
                     f"{r['rounds']} | {ref_txt} | {_fmt(ratio, '{:.2f}')} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.anchors", description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", default="primitives,ensemble,monolithic")
    p.add_argument("--protocols", default="rep3,rep4")
    p.add_argument("--models", default="logreg,mlp")
    p.add_argument("--out", default="results/anchors")
    args = p.parse_args(argv)
    protos = args.protocols.split(",")
    models = args.models.split(",")
    only = args.only.split(",")
    t0 = time.time()
    rows = []
    if "primitives" in only:
        rows += run_primitives(protos, args.repeat)
    for kind in ("ensemble", "monolithic"):
        if kind in only:
            rows += run_training(kind, protos, models, args.repeat)
    os.makedirs(args.out, exist_ok=True)
    doc = {"meta": meta.collect(vars(args)), "rows": rows, "wall_seconds": time.time() - t0}
    with open(os.path.join(args.out, "anchors.json"), "w") as f:
        json.dump(doc, f, indent=1, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o))
    table = markdown(rows)
    with open(os.path.join(args.out, "anchors.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
