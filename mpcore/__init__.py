"""mpcore: the protocol-agnostic MPC engine.

Layer 2 of the stack (see README "Layers"). Modules, in dependency order:

    errors      exception types every layer raises (imports nothing)
    ring        Z_2^64 helpers (numpy only)
    fixedpoint  fixed-point configuration with derived bounds (ring)
    kernels     the native C++ kernel (safenet_native), with a clear error if absent
    prg         AES-CTR PRG streams with explicit counters (kernels)
    ledger      per-party communication ledger: bytes, messages, rounds per op
    channels    in-memory and TCP (optionally TLS) transports; every message
                passes the ledger
    tls         certificates (CA, per-party) and TLS contexts for host runs
    hosts       parties.toml: addresses, certificates of a multi-host run
    netsim      emulated latency and bandwidth inside the channel layer
    faults      fault injection (one party deviates at one message) and campaigns
    progress    progress display (TTY bar, plain lines otherwise, --quiet)
    session     one party's view of a run: id, network, agreed PRG keys
    shares      the replicated share container
    launcher    runs one party program on N parties (threads, processes, hosts)

mpcore may import numpy, the standard library and safenet_native; it never
imports protocols/, ensemble/ or bench/.
"""
