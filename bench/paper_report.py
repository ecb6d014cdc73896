"""Predicted monolithic / ensemble cost at the SafeNet paper's scale, in one
command (nothing is run; see bench.estimate and docs/cost_model.md):

    python -m bench.paper_report --out results/paper/

Setting: MNIST-size data (60,000 training x 784 features, 10 classes,
10,000 test queries; balanced labels, contiguous iid split, 20% of each
owner's share held out for validation), m = 10, 20, 50, 100 owners,
logistic regression and the MLPs 784-128-10 and 784-128-128-10, rep3 and
rep4, LAN (this machine's loopback) and WAN (40 ms round trip, 100 Mbit/s
per party, mpcore.netsim.WAN), 10 epochs (owners' local SGD, batch 32, and
the monolithic SGD in MPC, batch 128). Writes paper_report.json (every
setting, phases included), paper_report.md (the ratio table) and
paper_ratios.png (ratios against m). Imports bench, ensemble, protocols.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

import protocols
from mpcore.netsim import WAN

from .estimate import dry_ensemble, dry_monolithic, estimate_ensemble, estimate_monolithic, shapes_for
from .timemodel import TimeModel

MODELS = {"logreg": ("logreg", ()), "mlp-128": ("mlp", (128,)), "mlp-128-128": ("mlp", (128, 128))}
NETWORKS = (("LAN", None), ("WAN", WAN))


def mnist_size_labels(n_train=60000, n_test=10000, classes=10, d=784):
    return d, classes, np.arange(n_train) % classes, np.arange(n_test) % classes


def report(owners=(10, 20, 50, 100), models=tuple(MODELS), protos=("rep3", "rep4"), epochs=10,
           transport="tcp", time_model=None, progress=print):
    tm = time_model or TimeModel.load()
    labels = mnist_size_labels()
    rows, skipped = [], []
    for proto in protos:
        if not hasattr(protocols.protocol_class(proto), "ltz"):
            skipped.append(f"{proto}: no comparisons (ltz) yet")
            progress(f"skip {proto}: no comparisons (ltz) yet")
            continue
        for model_name in models:
            kind, hidden = MODELS[model_name]
            for m in owners:
                t0 = time.perf_counter()
                shapes = shapes_for("mnist-size", owners=m, model=kind, hidden=hidden or (64,),
                                    epochs=epochs, labels=labels)
                dry_e, dry_m = dry_ensemble(shapes, proto), dry_monolithic(shapes, proto)
                for net_name, net in NETWORKS:
                    kw = dict(transport=transport, network=net, time_model=tm)
                    ens = estimate_ensemble(shapes, proto, dry_result=dry_e, **kw)
                    mono = estimate_monolithic(shapes, proto, dry_result=dry_m, **kw)
                    e, mo = ens["total"], mono["total"]
                    rows.append({
                        "protocol": proto, "model": model_name,
                        "layers": list(shapes.layer_sizes), "owners": m, "network": net_name,
                        "ensemble_seconds": e["seconds"], "monolithic_seconds": mo["seconds"],
                        "ensemble_bytes": e["bytes_sent_total"],
                        "monolithic_bytes": mo["bytes_sent_total"],
                        "ensemble_rounds": e["rounds"], "monolithic_rounds": mo["rounds"],
                        "ratio_seconds": mo["seconds"] / e["seconds"],
                        "ratio_bytes": mo["bytes_sent_total"] / e["bytes_sent_total"],
                        "ratio_rounds": mo["rounds"] / e["rounds"],
                        "ensemble_phases": ens["phases"], "monolithic_phases": mono["phases"],
                        "network_params": ens["network"]})
                progress(f"{proto} {model_name:<11} m={m:<3} "
                         f"bytes x{rows[-1]['ratio_bytes']:.2f}  time LAN "
                         f"x{rows[-2]['ratio_seconds']:.2f} WAN x{rows[-1]['ratio_seconds']:.2f} "
                         f"({time.perf_counter() - t0:.1f} s)")
    return {"setting": {"data": "MNIST-size: 60,000 x 784, 10 classes, 10,000 test queries",
                        "split": "contiguous iid, 20% of each owner's share for validation",
                        "epochs": epochs, "owner_batch_size": 32, "monolithic_batch_size": 128,
                        "transport": transport, "wan": {"latency_s": WAN.latency_s,
                                                        "bandwidth_Bps": WAN.bandwidth_Bps}},
            "basis": estimate_basis(tm, transport), "skipped": skipped, "rows": rows}


def estimate_basis(tm, transport):
    b = tm.basis("rep3", transport, None, [])
    b.pop("uncalibrated_ops", None)
    return b


def _fmt_s(s):
    if s >= 86400:
        return f"{s / 86400:.1f} d"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"


def markdown(doc):
    rows = doc["rows"]
    by = {(r["protocol"], r["model"], r["owners"], r["network"]): r for r in rows}
    keys = sorted({(r["protocol"], r["model"], r["owners"]) for r in rows},
                  key=lambda k: (k[0], list(MODELS).index(k[1]), k[2]))
    s = doc["setting"]
    out = ["# Predicted monolithic / ensemble cost at paper scale", "",
           f"{s['data']}; {s['split']}; {s['epochs']} epochs (owners: batch "
           f"{s['owner_batch_size']}, monolithic: batch {s['monolithic_batch_size']}); "
           f"LAN = this machine's {s['transport']} loopback, WAN = "
           f"{s['wan']['latency_s'] * 2e3:g} ms round trip, "
           f"{s['wan']['bandwidth_Bps'] * 8 / 1e6:g} Mbit/s per party.", "",
           f"Bytes and rounds: {doc['basis']['bytes_and_rounds']}. Time: {doc['basis']['formula']}; "
           f"model {doc['basis']['time_model']} (CPU {doc['basis']['calibrated'].get('cpu_model')}, "
           f"{doc['basis']['calibrated'].get('cores')} cores). Ensemble time includes the slowest "
           f"owner's local training.", "",
           "| protocol | model | m | ens GB | mono GB | bytes mono/ens | rounds ens | rounds mono "
           "| LAN ens | LAN mono | LAN mono/ens | WAN ens | WAN mono | WAN mono/ens |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for k in keys:
        lan, wan = by.get(k + ("LAN",)), by.get(k + ("WAN",))
        out.append(f"| {k[0]} | {k[1]} | {k[2]} | {lan['ensemble_bytes'] / 1e9:.2f} | "
                   f"{lan['monolithic_bytes'] / 1e9:.2f} | {lan['ratio_bytes']:.2f} | "
                   f"{lan['ensemble_rounds']} | {lan['monolithic_rounds']} | "
                   f"{_fmt_s(lan['ensemble_seconds'])} | {_fmt_s(lan['monolithic_seconds'])} | "
                   f"{lan['ratio_seconds']:.2f} | {_fmt_s(wan['ensemble_seconds'])} | "
                   f"{_fmt_s(wan['monolithic_seconds'])} | {wan['ratio_seconds']:.2f} |")
    if doc["skipped"]:
        out += ["", "Skipped: " + "; ".join(doc["skipped"])]
    return "\n".join(out) + "\n"


def plot(doc, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = doc["rows"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    panels = (("ratio_bytes", "LAN", "bytes sent: monolithic / ensemble"),
              ("ratio_seconds", "LAN", "time, LAN: monolithic / ensemble"),
              ("ratio_seconds", "WAN", "time, WAN: monolithic / ensemble"))
    styles = {"rep3": "-", "rep4": "--"}
    markers = {name: mk for name, mk in zip(MODELS, "osD")}
    for ax, (key, net, title) in zip(axes, panels):
        for proto in sorted({r["protocol"] for r in rows}):
            for model in MODELS:
                sel = sorted((r for r in rows if r["protocol"] == proto and r["model"] == model
                              and r["network"] == net), key=lambda r: r["owners"])
                if sel:
                    ax.plot([r["owners"] for r in sel], [r[key] for r in sel],
                            styles.get(proto, ":"), marker=markers[model], label=f"{proto} {model}")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xticks([10, 20, 50, 100])
        ax.set_xticklabels(["10", "20", "50", "100"])
        ax.set_xlabel("owners m")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"SafeNet at paper scale (predicted, nothing run): {doc['setting']['data']}, "
                 f"{doc['setting']['epochs']} epochs", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.paper_report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="results/paper", help="output directory")
    p.add_argument("--owners", default="10,20,50,100")
    p.add_argument("--models", default=",".join(MODELS), help=f"from {', '.join(MODELS)}")
    p.add_argument("--protocols", default="rep3,rep4")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--transport", choices=("tcp", "memory"), default="tcp",
                   help="the transport whose calibration prices the LAN")
    p.add_argument("--time-model", default=None, help="default: as `safenet ... --estimate`")
    args = p.parse_args(argv)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    bad = [m for m in models if m not in MODELS]
    if bad:
        p.error(f"unknown model(s) {bad}; choose from {', '.join(MODELS)}")
    t0 = time.perf_counter()
    doc = report(tuple(int(v) for v in args.owners.split(",")), models,
                 tuple(args.protocols.split(",")), args.epochs, args.transport,
                 TimeModel.load(args.time_model))
    from .meta import collect
    doc["meta"] = collect(vars(args))
    os.makedirs(args.out, exist_ok=True)
    paths = {k: os.path.join(args.out, f) for k, f in
             (("json", "paper_report.json"), ("md", "paper_report.md"), ("png", "paper_ratios.png"))}
    with open(paths["json"], "w") as f:
        json.dump(doc, f, indent=1)
    with open(paths["md"], "w") as f:
        f.write(markdown(doc))
    plot(doc, paths["png"])
    print(markdown(doc))
    print(f"wrote {', '.join(paths.values())} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
