"""Metadata recorded beside every result: git commit, machine, versions,
settings. Imports stdlib, numpy, safenet_native."""
import os
import platform
import subprocess
import sys
import time


def _git(*args):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True,
                              timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect(settings: dict) -> dict:
    import numpy
    try:
        import safenet_native
        native = dict(safenet_native.build_info())
    except Exception as exc:  # pragma: no cover
        native = {"error": str(exc)}
    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": commit,
        "git_dirty": bool(dirty),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "native": {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v))
                   for k, v in native.items()},
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": settings,
    }
