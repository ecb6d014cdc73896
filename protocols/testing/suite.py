"""Run the conformance suite for one protocol and summarise it as a table
(`safenet check`). Hypothesis draws the inputs; every example is counted,
failures do not stop the run, and the first failing example of each op is
kept for the report. Imports protocols.testing.conformance, hypothesis.
"""
from hypothesis import HealthCheck, Phase, given, settings

from .conformance import CASES, run_case


def applicable_cases(protocol):
    import protocols
    cls = protocols.protocol_class(protocol)
    names = []
    for name, case in CASES.items():
        if cls.n_parties == 1 and case.reveal_to is not None:
            continue
        op_name = "flat_concat" if name == "matmul_many" else name
        if hasattr(cls, name) or hasattr(cls, op_name) or name in ("add", "sub", "neg"):
            names.append(name)
    return names


def check_op(protocol, name, transport="memory", examples=10, seed=0):
    """Run `examples` hypothesis examples of one op; returns counts and the
    first failure (if any)."""
    case = CASES[name]
    stats = {"values": {"cases": 0, "failures": 0}, "cost": {"cases": 0, "failures": 0},
             "first_failure": None}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case.inputs)
    def body(inputs):
        secrets, public = inputs
        try:
            out = run_case(protocol, case, secrets, public, transport=transport, test_seed=seed)
        except Exception as exc:   # an op that raises counts as a value failure
            stats["values"]["cases"] += 1
            stats["values"]["failures"] += 1
            stats["first_failure"] = stats["first_failure"] or f"{type(exc).__name__}: {exc}"
            return
        stats["values"]["cases"] += 1
        stats["cost"]["cases"] += 1
        if not out.values_ok:
            stats["values"]["failures"] += 1
            stats["first_failure"] = stats["first_failure"] or (
                f"inputs {[s.tolist() for s in secrets]} public {public!r}: got "
                f"{out.got.tolist() if hasattr(out.got, 'tolist') else out.got}, "
                f"expected {out.expected.tolist()}")
        if out.cost_mismatches:
            stats["cost"]["failures"] += 1
            stats["first_failure"] = stats["first_failure"] or out.cost_mismatches[0]

    body()
    return stats


def run_suite(protocol, transport="memory", examples=10, ops=None, faults=False, quick=False):
    """The whole table for one protocol (cli.md `safenet check`)."""
    names = ops or applicable_cases(protocol)
    if quick:
        examples = min(examples, 3)
    rows = []
    for name in names:
        row = {"op": name, **check_op(protocol, name, transport, examples)}
        rows.append(row)
    if faults:
        from mpcore import faults as fault_mod
        campaign = fault_mod.campaign_summary(protocol, quick=quick)
        for row in rows:
            row["faults"] = campaign.get(row["op"], {"trials": 0, "aborted": 0,
                                                     "undetected": 0, "hangs": 0})
    summary = {
        "cases": sum(r["values"]["cases"] for r in rows),
        "failures": sum(r["values"]["failures"] + r["cost"]["failures"] for r in rows),
        "fault_trials": sum(r.get("faults", {}).get("trials", 0) for r in rows),
        "undetected": sum(r.get("faults", {}).get("undetected", 0) for r in rows),
        "hangs": sum(r.get("faults", {}).get("hangs", 0) for r in rows),
    }
    return {"protocol": protocol, "transport": transport, "examples_per_op": examples,
            "ops": rows, "summary": summary}


def format_table(result):
    lines = [f"conformance of {result['protocol']} ({result['transport']}, "
             f"{result['examples_per_op']} examples per op)",
             f"{'op':<12} {'values':>12} {'cost':>12} {'faults (aborted/undetected/hangs)':>36}"]
    for r in result["ops"]:
        v, c = r["values"], r["cost"]
        f = r.get("faults")
        ftxt = f"{f['trials']}: {f['aborted']}/{f['undetected']}/{f['hangs']}" if f else "-"
        lines.append(f"{r['op']:<12} {v['cases'] - v['failures']:>5}/{v['cases']:<6} "
                     f"{c['cases'] - c['failures']:>5}/{c['cases']:<6} {ftxt:>36}")
        if r["first_failure"]:
            lines.append(f"    first failure: {r['first_failure'][:300]}")
    s = result["summary"]
    lines.append(f"total: {s['cases']} cases, {s['failures']} failures, {s['fault_trials']} fault "
                 f"trials, {s['undetected']} undetected, {s['hangs']} hangs")
    return "\n".join(lines)
