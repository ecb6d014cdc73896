"""Figures for `safenet compare --plot`: cost and accuracy of ensemble vs
monolithic against a swept setting (poisoned owners, owners m, epochs).
Imports matplotlib (Agg backend), numpy."""


def plot_comparison(docs, path, x_key="poisoned", x_label="poisoned owners t"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [d["ensemble"]["settings"].get(x_key, i) for i, d in enumerate(docs)]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for mode, style in (("ensemble", "o-"), ("monolithic", "s--")):
        axes[0].plot(xs, [d[mode]["total"]["seconds"] for d in docs], style, label=mode)
        axes[1].plot(xs, [d[mode]["total"]["bytes_sent_total"] / 1e6 for d in docs], style, label=mode)
        axes[2].plot(xs, [d[mode].get("accuracy") for d in docs], style, label=f"{mode} accuracy")
        succ = [d[mode].get("attack_success") for d in docs]
        if any(s is not None for s in succ):
            axes[2].plot(xs, [s if s is not None else float("nan") for s in succ], style,
                         alpha=0.5, label=f"{mode} attack success")
    axes[0].set_ylabel("training + inference time (s)")
    axes[1].set_ylabel("MB sent (all parties)")
    axes[2].set_ylabel("fraction")
    for ax in axes:
        ax.set_xlabel(x_label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    s = docs[0]["ensemble"]["settings"]
    fig.suptitle(f"SafeNet ensemble vs monolithic: {s.get('dataset')}, m={s.get('owners')}, "
                 f"{s.get('model')}, {s.get('protocol')}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
