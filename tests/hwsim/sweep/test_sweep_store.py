"""hwsim.sweep._store: appended records survive a kill in the middle of a write."""

import json

from hwsim.sweep import RESULTS_NAME, ResultStore


def test_append_and_reopen(tmp_path):
    s = ResultStore(tmp_path)
    s.append({"key": "a", "v": 1})
    s.append({"key": "b", "v": 2})
    again = ResultStore(tmp_path)
    assert set(again.records) == {"a", "b"} and again.records["b"]["v"] == 2
    assert "a" in again and "c" not in again


def test_partial_last_line_is_cut_and_the_next_append_is_clean(tmp_path):
    p = tmp_path / RESULTS_NAME
    p.write_bytes(json.dumps({"key": "a"}).encode() + b"\n" + b'{"key": "b", "v"')
    s = ResultStore(tmp_path)
    assert set(s.records) == {"a"}
    s.append({"key": "b", "v": 3})
    lines = p.read_text().splitlines()
    assert [json.loads(ln)["key"] for ln in lines] == ["a", "b"]
