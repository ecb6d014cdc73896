"""Cost figures of a secure run for the train/compare reports (cli.md keys):
phases, totals and the scoring of revealed labels. Shared by the ensemble
and the monolithic pipelines, with `run_plan`, which runs a plan's program
on its parties. Works on a complete RunResult (every party's
ledger: ordinary runs, and party 0 of a multi-host run, which gathers them)
and on a party's own view (another party of a multi-host run: its own
bytes at its index, None for the others). Imports protocols, mpcore, numpy.
"""
import time

import numpy as np

import protocols

from mpcore.ledger import merge, summarize


def run_plan(plan, body, transport="memory", processes=False, runner=None, timeout=600.0):
    """Run body(proto, owner_payloads, query_payload) -> dict on the parties
    of an ensemble.bundle.Plan (every party here, or with runner={"hosts",
    "party_id", ...} only this host's); each party's dict gets its wall
    "seconds". Returns (RunResult, CostView)."""
    def program(proto, owner_payloads, query_payload):
        t0 = time.perf_counter()
        out = body(proto, owner_payloads, query_payload)
        out["seconds"] = time.perf_counter() - t0
        return out

    kw = dict(party_args=plan.inputs, transport=transport, processes=processes, timeout=timeout)
    kw.update(runner or {})          # a multi-host run: hosts, party_id, its own --timeout
    res = protocols.run(program, plan.protocol, **kw)
    return res, CostView(res)


class CostView:
    """The ledgers of a RunResult as far as this process knows them."""

    def __init__(self, res):
        self.res = res
        self.n = len(res.ledgers)
        self.complete = all(l is not None for l in res.ledgers)
        self.me = res.party_id if res.party_id is not None else 0
        self.merged = res.merged if self.complete else merge([res.ledgers[self.me]])

    def _per_party(self, values):
        if self.complete:
            return list(values)
        return [values[0] if p == self.me else None for p in range(self.n)]

    def scope_seconds(self, scope):
        """Longest wall time any known party spent in a label scope."""
        secs = [l.scope_seconds.get((scope,), 0.0) for l in self.res.ledgers if l is not None]
        return max(secs or [0.0])

    def phase(self, name, seconds=None):
        s = summarize(self.merged, (name,))
        return {"seconds": self.scope_seconds(name) if seconds is None else seconds,
                "bytes_sent": self._per_party(s["bytes_sent"]), "rounds": s["rounds"],
                "messages_sent": self._per_party(s["messages_sent"])}

    def total(self, mpc_seconds, extra_seconds=0.0):
        s = summarize(self.merged)
        known = [l for l in self.res.ledgers if l is not None]
        return {"seconds": mpc_seconds + extra_seconds, "mpc_seconds": mpc_seconds,
                "bytes_sent_total": s["bytes_sent_total"] if self.complete else None,
                "rounds": s["rounds"], "bytes_sent": self._per_party(s["bytes_sent"]),
                "upload_bytes": (sum(l.total_upload_bytes for l in known) if self.complete
                                 else None)}

    def party_fields(self):
        """Keys added to the report of one party of a multi-host run ({} otherwise)."""
        if self.res.party_id is None:
            return {}
        return {"party": self.me, "complete": self.complete}


def program_seconds(res):
    """Wall seconds of the program on the slowest party this process knows."""
    return max(v["seconds"] for v in res.values if v is not None and "seconds" in v)


def labels_attack_success(attack_labels, target_class):
    """Attack success from the labels predicted on the attack queries (the
    triggered non-target test points, or the source-class points): the
    fraction labelled with the target class (as poisoning.attack_success)."""
    if target_class is None:
        return None
    attack_labels = np.asarray(attack_labels)
    if attack_labels.size == 0:
        return float("nan")
    return float(np.mean(attack_labels == int(target_class)))
