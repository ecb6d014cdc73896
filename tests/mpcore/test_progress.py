"""mpcore.progress: live bar on a terminal, plain lines otherwise, silence on demand."""
import io

import pytest

from mpcore import progress as P


class Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def _not_quiet():
    before = P.is_quiet()
    P.set_quiet(False)
    yield
    P.set_quiet(before)


def test_plain_lines_every_ten_percent():
    out = io.StringIO()
    items = list(P.progress(range(100), "work", stream=out))
    assert items == list(range(100))
    lines = out.getvalue().splitlines()
    assert lines[0] == "work: started, 100 steps"
    steps = [l for l in lines[1:-1]]
    assert len(steps) == 9                      # 10%, 20%, ... 90%
    assert steps[0].startswith("work: 10/100 (10%)") and "ETA" in steps[0]
    assert lines[-1].startswith("work: done 100/100 after")
    assert "\r" not in out.getvalue()


def test_plain_lines_at_least_every_few_seconds(monkeypatch):
    out = io.StringIO()
    bar = P.Progress(1000, "slow", stream=out)
    clock = [bar.start]
    monkeypatch.setattr(P.time, "monotonic", lambda: clock[0])
    for _ in range(3):                          # 0.3 %: no 10 % mark crossed
        clock[0] += 6.0
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 3 + 1
    assert lines[1].startswith("slow: 1/1000 (0%)")


def test_tty_single_live_line():
    out = Tty()
    with P.progress(5, "bar", stream=out) as bar:
        for _ in range(5):
            bar.update()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert text.count("\r") >= 2
    last = text.rstrip("\n").split("\r")[-1]
    assert "bar |" in last and "100%" in last and "5/5" in last and "ETA" in last


def test_quiet_prints_nothing():
    out, tty = io.StringIO(), Tty()
    list(P.progress(range(10), "x", quiet=True, stream=out))
    list(P.progress(range(10), "x", quiet=True, stream=tty))
    P.set_quiet(True)
    list(P.progress(range(10), "x", stream=out))
    assert out.getvalue() == "" and tty.getvalue() == ""
    list(P.progress(range(3), "x", quiet=False, stream=out))   # explicit wins
    assert "done 3/3" in out.getvalue()


def test_unknown_length_and_early_stop():
    out = io.StringIO()
    for _ in P.progress((i for i in range(3)), "gen", stream=out):
        pass
    assert "gen: done 3 after" in out.getvalue()
    out = io.StringIO()
    it = P.progress(range(10), "early", stream=out)
    for k in it:
        if k == 2:
            break
    it.close()
    assert "early: stopped at 2/10" in out.getvalue()


def test_default_stream_is_current_stderr(capsys):
    list(P.progress(range(2), "err"))
    assert "err: done 2/2" in capsys.readouterr().err


def test_cli_quiet_flag_silences_progress(tmp_path, capsys):
    from bench.cli import main
    assert main(["--quiet", "bench", "primitives", "--transport", "memory", "--ops", "mul",
                 "--n", "100", "--repeat", "1"]) == 0
    assert "bench primitives" not in capsys.readouterr().err
    P.set_quiet(False)
    assert main(["bench", "primitives", "--transport", "memory", "--ops", "mul",
                 "--n", "100", "--repeat", "1"]) == 0
    assert "party 0: bench primitives: done 1/1" in capsys.readouterr().err
