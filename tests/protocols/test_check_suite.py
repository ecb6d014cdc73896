"""The `safenet check` runner counts cases and catches a wrong protocol."""
from protocols.testing.suite import check_op, format_table, run_suite


def test_suite_counts_cases_on_rep3():
    r = run_suite("rep3", examples=2, ops=["mul", "trunc", "matmul"])
    assert [row["op"] for row in r["ops"]] == ["mul", "trunc", "matmul"]
    assert r["summary"]["cases"] == 6 and r["summary"]["failures"] == 0
    assert "total: 6 cases, 0 failures" in format_table(r)


def test_suite_reports_a_wrong_cross_term(monkeypatch):
    """A rep3 whose local product forgets the x_{i+1} y_i term is caught,
    and the failure is reported, not raised."""
    from mpcore.kernels import native

    def broken_cross3(xa, xb, ya, yb, zero=None):
        z = xa * ya + xa * yb
        return z + zero if zero is not None else z

    monkeypatch.setattr(native, "cross3", broken_cross3)
    stats = check_op("rep3", "mul", examples=5)
    assert stats["values"]["failures"] > 0 and "expected" in stats["first_failure"]
