"""hwsim.sweep._report: Pareto fronts and the rule that picks best.toml."""

import pytest

from hwsim.sweep import choose_best, pareto
from hwsim.sweep._report import latency, luts


def rec(key, acc, lut, cyc, ref=0.9):
    return {"key": key, "metric": "accuracy", "fixed_metric": acc, "loss": (ref - acc) * 100, "error": None,
            "resources": {"luts": lut}, "latency_cycles": cyc}


RECS = [rec("a", 0.90, 3000, 100), rec("b", 0.89, 2000, 200), rec("c", 0.85, 2500, 50),
        rec("d", 0.80, 1500, 400), rec("e", 0.88, 2600, 300)]


def test_pareto_front_vs_luts_and_latency():
    assert [r["key"] for r in pareto(RECS, luts)] == ["d", "b", "a"]
    assert [r["key"] for r in pareto(RECS, latency)] == ["c", "a"]


def test_front_points_are_not_dominated_and_the_others_are():
    front = pareto(RECS, luts)
    for r in RECS:
        dominated = any(o["fixed_metric"] >= r["fixed_metric"] and luts(o) <= luts(r) and o is not r
                        and (o["fixed_metric"], luts(o)) != (r["fixed_metric"], luts(r)) for o in RECS)
        assert (r in front) == (not dominated)


@pytest.mark.parametrize("kw, key", [
    ({"max_loss": 0.5}, "a"), ({"max_loss": 1.5}, "b"), ({"max_loss": 10.0}, "d"),
    ({"max_luts": 2100}, "b"), ({"max_luts": 1600}, "d"), ({}, "a"), ({"max_luts": 1000}, None),
])
def test_choose_best_follows_the_rule(kw, key):
    b = choose_best(RECS, **kw)
    assert (b and b["key"]) == key


def test_refused_points_never_win():
    bad = {**rec("z", 0.99, 10, 1), "error": "refused"}
    assert choose_best(RECS + [bad])["key"] == "a"
    assert bad not in pareto(RECS + [bad], luts)
