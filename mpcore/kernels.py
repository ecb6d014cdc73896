"""Access to the native C++ kernel (module `safenet_native`, built from native/).

Imports safenet_native only. There is one implementation of every kernel; if
the extension is missing the error says how to build it.
"""
try:
    import safenet_native as native  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    raise ImportError(
        "the native kernel 'safenet_native' is not built/installed: run "
        "`pip install .` (or `pip install -e .`) in the repository root "
        f"({exc})") from exc
