"""Run one party program on N parties: threads in one process, or N OS
processes on localhost. Imports channels, ledger, session, errors.

    result = run_parties(program, 3, transport="tcp", processes=True)
    result.values[i], result.ledgers[i], result.merged

`program(session, *args, *party_args[i])` runs on every party. If a party
raises, it sends ABORT with its reason to all peers, so every other party
raises PeerAborted naming it; a party that dies makes its peers raise
PeerLost; a silent party makes them raise PeerTimeout. The launcher then
raises RunFailed, root cause first. An overall deadline (`timeout` plus
set-up) bounds every run: nothing hangs.
"""
import multiprocessing as mp
import threading
import time
import traceback
from dataclasses import dataclass, field

from .channels import MemoryHub, MemoryNetwork, TcpNetwork, make_listener, DEFAULT_TIMEOUT_S
from .errors import PartyError, PeerAborted, PeerLost, RunFailed
from .fixedpoint import DEFAULT
from .ledger import Ledger, merge, summarize


@dataclass
class RunResult:
    values: list
    ledgers: list
    seconds: list = field(default_factory=list)

    @property
    def merged(self):
        return merge(self.ledgers)

    def summary(self, prefix=()):
        return summarize(self.merged, prefix)


class RemoteError(Exception):
    """An exception raised in a party process, carried back to the launcher."""

    def __init__(self, type_name, message, tb, secondary):
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.remote_traceback = tb
        self.secondary = secondary   # caused by another party's failure
        self._args = (type_name, message, tb, secondary)

    def __reduce__(self):
        return (RemoteError, self._args)


def _party_body(party_id, n, program, args, make_net, test_seed, fixed_point):
    """Runs in the party's thread or process. Returns (value, ledger, error, seconds)."""
    ledger = Ledger(party_id, n)
    t0 = time.perf_counter()
    net = None
    try:
        net = make_net(party_id, ledger)
        from .session import Session
        session = Session(party_id, n, net, ledger, test_seed, fixed_point)
        value = program(session, *args)
        net.close()
        return value, ledger, None, time.perf_counter() - t0
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the peers
        if net is not None:
            net.abort(f"{type(exc).__name__}: {exc}")
        return None, ledger, exc, time.perf_counter() - t0


def _is_secondary(exc):
    return isinstance(exc, (PeerAborted, PeerLost)) or getattr(exc, "secondary", False)


def _raise_failures(errors):
    failed = [(i, e) for i, e in enumerate(errors) if e is not None]
    if not failed:
        return
    failed.sort(key=lambda ie: _is_secondary(ie[1]))
    lines = [f"party {i}: {type(e).__name__ if not isinstance(e, RemoteError) else e.type_name}: "
             f"{e if not isinstance(e, RemoteError) else str(e).split(': ', 1)[-1]}"
             for i, e in failed]
    root_i, root = failed[0]
    raise RunFailed(f"run failed; party {root_i} first: " + " | ".join(lines), errors) from root


def _check_args(n, party_args):
    if party_args is not None and len(party_args) != n:
        raise ValueError(f"party_args has {len(party_args)} entries for {n} parties")


def run_parties(program, n_parties, *, args=(), party_args=None, transport="memory",
                processes=False, timeout=DEFAULT_TIMEOUT_S, test_seed=None,
                fixed_point=DEFAULT, raise_on_error=True, net_wrapper=None) -> RunResult:
    """Run `program` on `n_parties` parties and collect values and ledgers.

    transport: "memory" (threads only) or "tcp" (loopback). processes=True
    forks one OS process per party (requires transport="tcp").
    net_wrapper(party_id, network) -> network lets a test interpose on a
    party's channel (fault injection, message capture).
    """
    _check_args(n_parties, party_args)
    if transport not in ("memory", "tcp"):
        raise ValueError(f"unknown transport {transport!r}: use 'memory' or 'tcp'")
    if processes and transport != "tcp":
        raise ValueError("parties in separate processes need transport='tcp'")
    full_args = [tuple(args) + tuple(party_args[i] if party_args else ()) for i in range(n_parties)]

    if transport == "memory":
        hub = MemoryHub(n_parties)

        def base_net(i, ledger):
            return MemoryNetwork(i, n_parties, ledger, hub, timeout)
        listeners = None
    else:
        listeners = [make_listener() for _ in range(n_parties)]
        addresses = [l.getsockname() for l in listeners]

        def base_net(i, ledger):
            own = listeners[i]
            return TcpNetwork(i, n_parties, ledger, addresses, listener=own, timeout=timeout,
                              connect_timeout=min(timeout, 30.0))

    def make_net(i, ledger):
        net = base_net(i, ledger)
        return net_wrapper(i, net) if net_wrapper is not None else net

    try:
        if processes:
            outcomes = _run_processes(n_parties, program, full_args, make_net, test_seed,
                                      fixed_point, timeout)
        else:
            outcomes = _run_threads(n_parties, program, full_args, make_net, test_seed,
                                    fixed_point, timeout)
    finally:
        for l in listeners or ():
            l.close()
    values = [o[0] for o in outcomes]
    ledgers = [o[1] for o in outcomes]
    errors = [o[2] for o in outcomes]
    if raise_on_error:
        _raise_failures(errors)
    result = RunResult(values, ledgers, [o[3] for o in outcomes])
    result.errors = errors
    return result


def _run_threads(n, program, full_args, make_net, test_seed, fixed_point, timeout):
    outcomes = [None] * n
    def target(i):
        outcomes[i] = _party_body(i, n, program, full_args[i], make_net, test_seed, fixed_point)
    threads = [threading.Thread(target=target, args=(i,), daemon=True, name=f"party{i}")
               for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 2 * timeout + 30
    for i, t in enumerate(threads):
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    for i, t in enumerate(threads):
        if t.is_alive():
            outcomes[i] = (None, None, PartyError(f"party {i} did not finish within the run "
                                                  f"deadline ({2 * timeout + 30:g} s)", i), 0.0)
    return outcomes


def _child(i, n, program, args, make_net, test_seed, fixed_point, conn):
    value, ledger, exc, secs = _party_body(i, n, program, args, make_net, test_seed, fixed_point)
    if exc is not None:
        exc = RemoteError(type(exc).__name__, str(exc),
                          "".join(traceback.format_exception(exc)), _is_secondary(exc))
    try:
        conn.send((value, ledger, exc, secs))
    except Exception as send_exc:  # e.g. an unpicklable value
        conn.send((None, ledger, RemoteError(type(send_exc).__name__,
                                             f"could not return party {i}'s result: {send_exc}",
                                             "", False), secs))
    conn.close()


def _run_processes(n, program, full_args, make_net, test_seed, fixed_point, timeout):
    ctx = mp.get_context("fork")
    pipes, procs = [], []
    for i in range(n):
        parent_end, child_end = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_child, name=f"party{i}",
                        args=(i, n, program, full_args[i], make_net, test_seed, fixed_point,
                              child_end), daemon=True)
        p.start()
        child_end.close()
        pipes.append(parent_end)
        procs.append(p)
    outcomes = [None] * n
    deadline = time.monotonic() + 2 * timeout + 30
    pending = set(range(n))
    while pending and time.monotonic() < deadline:
        for i in list(pending):
            if pipes[i].poll(0.02):
                try:
                    outcomes[i] = pipes[i].recv()
                except EOFError:
                    outcomes[i] = (None, None, RemoteError(
                        "PeerLost", f"party {i} process died (exit code {procs[i].exitcode}) "
                        f"without a result", "", False), 0.0)
                pending.discard(i)
            elif not procs[i].is_alive() and not pipes[i].poll(0):
                outcomes[i] = (None, None, RemoteError(
                    "PeerLost", f"party {i} process died (exit code {procs[i].exitcode}) "
                    f"without a result", "", False), 0.0)
                pending.discard(i)
    for i in pending:
        outcomes[i] = (None, None, RemoteError(
            "PartyError", f"party {i} did not finish within the run deadline "
                          f"({2 * timeout + 30:g} s); killed", "", False), 0.0)
    for p in procs:
        p.join(timeout=1.0)
        if p.is_alive():
            p.kill()
            p.join()
    return outcomes
