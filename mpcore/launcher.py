"""Run one party program on N parties: threads in one process, N OS
processes on localhost, or one party of N on separate hosts. Imports
channels, ledger, session, errors, alloc (TLS set-up comes through the
hosts.HostConfig it is given). Every party starts with alloc.tune()
(large freed arrays are reused instead of being page-faulted in again).

    result = run_parties(program, 3, transport="tcp", processes=True)
    result.values[i], result.ledgers[i], result.merged

`program(session, *args, *party_args[i])` runs on every party. If a party
raises, it sends ABORT with its reason to all peers, so every other party
raises PeerAborted naming it; a party that dies makes its peers raise
PeerLost; a silent party makes them raise PeerTimeout. The launcher then
raises RunFailed, root cause first. An overall deadline (`timeout` plus
set-up) bounds every run: nothing hangs.

Multi-host: `run_parties(program, n, hosts=load_hosts("parties.toml"),
party_id=i)` runs ONLY party i in this process, over TCP (TLS unless the
config is insecure) to the addresses of the config; every host runs the
same call with its own id. After the program returned, every party sends
its ledger to party 0 (a META message outside any op accounting; party 0
unpickles it with an allow-list of ledger classes) and waits for party 0's
"done", so all parties end with the same verdict. Party 0's RunResult has
every ledger (`result.merged` works); every RunResult has its own party's
value, ledger and time at index i, None elsewhere; `result.party_id` = i.
"""
import io
import logging
import multiprocessing as mp
import pickle
import threading
import time
import traceback
from dataclasses import dataclass, field

from . import alloc
from .channels import MemoryHub, MemoryNetwork, TcpNetwork, make_listener, DEFAULT_TIMEOUT_S
from .errors import PartyError, PeerAborted, PeerLost, ProtocolDesync, RunFailed
from .fixedpoint import DEFAULT
from .ledger import Ledger, merge, summarize


@dataclass
class RunResult:
    values: list
    ledgers: list
    seconds: list = field(default_factory=list)
    party_id: int = None     # set by a multi-host run: the party this process ran

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
    alloc.tune()
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
                fixed_point=DEFAULT, raise_on_error=True, net_wrapper=None,
                hosts=None, party_id=None, connect_timeout=None) -> RunResult:
    """Run `program` on `n_parties` parties and collect values and ledgers.

    transport: "memory" (threads only) or "tcp" (loopback). processes=True
    forks one OS process per party (requires transport="tcp").
    net_wrapper(party_id, network) -> network lets a test interpose on a
    party's channel (fault injection, message capture).
    hosts (a hosts.HostConfig) with party_id: run only that party, here, over
    the config's addresses (transport and processes are then ignored);
    connect_timeout bounds start-up (default: `timeout`).
    """
    _check_args(n_parties, party_args)
    if hosts is not None:
        return _run_hosted(program, n_parties, args, party_args, hosts, party_id, timeout,
                           connect_timeout, test_seed, fixed_point, raise_on_error, net_wrapper)
    if party_id is not None:
        raise ValueError("party_id is only meaningful with hosts=")
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


# ---- multi-host: one party per process -------------------------------------------
log = logging.getLogger(__name__)

_LEDGER_MODULES = ("mpcore.ledger",)
_SAFE_BUILTINS = {"int", "float", "str", "bytes", "bool", "tuple", "list", "dict", "set",
                  "frozenset", "complex", "NoneType"}


class _LedgerUnpickler(pickle.Unpickler):
    """Only the classes a Ledger is made of: a peer's blob cannot run code."""

    def find_class(self, module, name):
        if module in _LEDGER_MODULES:
            found = super().find_class(module, name)
            if isinstance(found, type) and found.__module__ == module:   # its own classes only
                return found
        elif ((module == "builtins" and name in _SAFE_BUILTINS)
              or (module == "collections" and name in ("defaultdict", "OrderedDict"))):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a ledger")


def _load_ledger(blob, peer, n):
    try:
        ledger = _LedgerUnpickler(io.BytesIO(blob)).load()
    except Exception as exc:  # noqa: BLE001
        raise ProtocolDesync(f"party 0: the ledger sent by party {peer} cannot be read: {exc}",
                             peer) from exc
    if not isinstance(ledger, Ledger) or ledger.party_id != peer or ledger.n_parties != n:
        raise ProtocolDesync(f"party 0: party {peer} sent something that is not its ledger", peer)
    return ledger


def _gather_ledgers(net, ledger, into):
    """End of a multi-host run: ledgers to party 0, then party 0 says done."""
    me = net.party_id
    if me == 0:
        for p in net.peers():
            into[p] = _load_ledger(net.recv_meta(p), p, net.n_parties)
        for p in net.peers():
            net.send_meta(p, b"done")
    else:
        net.send_meta(0, pickle.dumps(ledger, protocol=pickle.HIGHEST_PROTOCOL))
        if net.recv_meta(0) != b"done":
            raise ProtocolDesync(f"party {me}: party 0 ended the run with an unexpected message", 0)


def _with_note(exc, problems):
    """Append what is wrong with this party's own certificate to a TLS error."""
    from .tls import TlsError
    if not problems or not isinstance(exc, TlsError):
        return exc
    new = type(exc)(f"{exc} [note: {'; '.join(problems)}]", exc.peer)
    new.__cause__ = exc
    return new


def _run_hosted(program, n, args, party_args, hosts, party_id, timeout, connect_timeout,
                test_seed, fixed_point, raise_on_error, net_wrapper):
    if hosts.n_parties != n:
        raise ValueError(f"this program runs on {n} parties, but {hosts.source} lists "
                         f"{hosts.n_parties}")
    if party_id is None:
        raise ValueError("hosts= needs party_id= (the party this process runs)")
    hosts.check_party(party_id)
    me = party_id
    setup = hosts.tls_setup(me)          # raises CertificateError for unusable files
    problems = setup.own_problems if setup is not None else []
    for problem in problems:
        log.warning("party %d: WARNING: %s; the other parties will refuse it (make new "
                    "certificates with `safenet certs`)", me, problem)
    if setup is None:
        log.warning("party %d: running WITHOUT TLS (--insecure): no encryption, no "
                    "authentication of the parties", me)
    ct = timeout if connect_timeout is None else connect_timeout
    tls_kw = {} if setup is None else dict(server_ctx=setup.server_ctx,
                                           client_ctx=setup.client_ctx,
                                           peer_identity=setup.peer_identity)

    def make_net(i, ledger):
        net = TcpNetwork(i, n, ledger, hosts.addresses, timeout=timeout, connect_timeout=ct,
                         **tls_kw)
        return net_wrapper(i, net) if net_wrapper is not None else net

    ledgers = [None] * n

    def hosted(session, *a):
        value = program(session, *a)
        _gather_ledgers(session.net, session.ledger, ledgers)
        return value

    full = tuple(args) + tuple(party_args[me] if party_args else ())
    value, ledger, exc, secs = _party_body(me, n, hosted, full, make_net, test_seed, fixed_point)
    ledgers[me] = ledger
    values, seconds, errors = [None] * n, [None] * n, [None] * n
    values[me], seconds[me], errors[me] = value, secs, _with_note(exc, problems)
    if raise_on_error:
        _raise_failures(errors)
    result = RunResult(values, ledgers, seconds, party_id=me)
    result.errors = errors
    return result
