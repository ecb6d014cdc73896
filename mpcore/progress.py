"""Progress of long jobs, on stderr. Imports the standard library only.

    for spec in progress(specs, "bench primitives"):      # wraps an iterable
        ...
    with progress(1000, "training") as bar:               # or a total
        for step in range(1000):
            ...
            bar.update()

On a terminal: one live line (bar, count, rate, ETA), redrawn at most 10
times a second. Otherwise (a log file, CI): a plain line at start, at every
10 % and at least every 5 s, and at the end. quiet=True prints nothing;
quiet=None (the default) follows the process-wide setting, which
`safenet --quiet` (set_quiet) or SAFENET_QUIET=1 switches on.
"""
import os
import sys
import time

_quiet = os.environ.get("SAFENET_QUIET", "").strip() not in ("", "0")


def set_quiet(quiet=True):
    """Silence (or not) every progress display that does not say otherwise."""
    global _quiet
    _quiet = bool(quiet)


def is_quiet():
    return _quiet


def _hms(seconds):
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _rate(per_s):
    if per_s >= 100:
        return f"{per_s:.0f}/s"
    if per_s >= 1:
        return f"{per_s:.1f}/s"
    if per_s > 0:
        return f"{1 / per_s:.1f} s/step"
    return "-/s"


class Progress:
    """A progress display over an iterable or a number of steps."""

    BAR = 24
    REDRAW_S = 0.1          # terminal: at most this often
    LINE_EVERY_S = 5.0      # plain lines: at least this often ...
    LINE_EVERY = 0.1        # ... and at every 10 %

    def __init__(self, iterable_or_total, label, quiet=None, stream=None, tty=None):
        if isinstance(iterable_or_total, int):
            self.iterable, self.total = None, iterable_or_total
        else:
            self.iterable = iterable_or_total
            try:
                self.total = len(iterable_or_total)
            except TypeError:
                self.total = None
        self.label = label
        self.quiet = _quiet if quiet is None else bool(quiet)
        self.stream = stream if stream is not None else sys.stderr
        if tty is None:
            try:
                tty = self.stream.isatty()
            except (AttributeError, ValueError):
                tty = False
        self.tty = tty
        self.n = 0
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._last_line = self.start
        self._next_fraction = self.LINE_EVERY
        self.closed = False
        if not self.quiet and not self.tty:
            self._line(f"{self.label}: started"
                       + (f", {self.total} steps" if self.total is not None else ""))
        elif not self.quiet:
            self._draw(force=True)

    # ---- use -------------------------------------------------------------------
    def __iter__(self):
        items = self.iterable if self.iterable is not None else range(self.total)
        try:
            for item in items:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, steps=1):
        self.n += steps
        if self.quiet or self.closed:
            return
        if self.tty:
            self._draw()
            return
        now = time.monotonic()
        due = now - self._last_line >= self.LINE_EVERY_S
        if self.total:
            frac = self.n / self.total
            if frac >= self._next_fraction and self.n < self.total:
                due = True
                while self._next_fraction <= frac:
                    self._next_fraction += self.LINE_EVERY
        if due:
            self._line(self._status(now))

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.quiet:
            return
        elapsed = time.monotonic() - self.start
        if self.tty:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
        else:
            count = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
            verb = "stopped at" if self.total is not None and self.n < self.total else "done"
            self._line(f"{self.label}: {verb} {count} after {elapsed:.1f} s")

    # ---- output ------------------------------------------------------------------
    def _status(self, now):
        elapsed = now - self.start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        if self.total:
            pct = 100.0 * self.n / self.total
            eta = (self.total - self.n) / rate if rate > 0 else None
            return (f"{self.label}: {self.n}/{self.total} ({pct:.0f}%), {_rate(rate)}, "
                    f"elapsed {_hms(elapsed)}, ETA {_hms(eta) if eta is not None else '?'}")
        return f"{self.label}: {self.n} steps, {_rate(rate)}, elapsed {_hms(elapsed)}"

    def _line(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()
        self._last_line = time.monotonic()

    def _draw(self, force=False):
        now = time.monotonic()
        if not force and now - self._last_draw < self.REDRAW_S and self.n != self.total:
            return
        self._last_draw = now
        elapsed = now - self.start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        if self.total:
            frac = min(1.0, self.n / self.total)
            fill = int(round(frac * self.BAR))
            eta = (self.total - self.n) / rate if rate > 0 else None
            text = (f"{self.label} |{'#' * fill}{'.' * (self.BAR - fill)}| {frac * 100:3.0f}% "
                    f"{self.n}/{self.total} {_rate(rate)} "
                    f"ETA {_hms(eta) if eta is not None and self.n < self.total else '00:00'}")
        else:
            text = f"{self.label} {self.n} {_rate(rate)} {_hms(elapsed)}"
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()


def progress(iterable_or_total, label, quiet=None, stream=None):
    """A Progress over an iterable (iterate it) or a number of steps (call
    update(); iterating it yields range(total)). stream defaults to the
    current sys.stderr; quiet=None follows set_quiet / SAFENET_QUIET."""
    return Progress(iterable_or_total, label, quiet=quiet, stream=stream)
