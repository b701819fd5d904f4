"""Names and paths that reach the HDL tools: refused up front, before anything is written."""

from __future__ import annotations

import shutil

import pytest
from _promise import refused_untouched

from hwsim.export._names import SYSTEMVERILOG_KEYWORDS, VERILOG_KEYWORDS


@pytest.mark.parametrize("name", ["logic", "bit", "interface", "always_ff", "wire", "module", "hwsim_tb_stream", "9top", "a-b"])
def test_top_names(tmp_path, assets, name):
    refused_untouched(tmp_path, "export", assets / "q.safetensors", "-o", tmp_path / "out", "--top-name", name,
                      pattern=r"top module name must")


def test_keyword_lists_cover_both_languages():
    assert {"logic", "bit", "int", "interface", "class", "always_comb"} <= SYSTEMVERILOG_KEYWORDS
    assert {"wire", "reg", "module", "uwire"} <= VERILOG_KEYWORDS


@pytest.mark.parametrize("parent", ["naïve", "with space", "日本"])
def test_export_under_a_path_the_tools_cannot_read(tmp_path, assets, parent):
    (tmp_path / parent).mkdir()
    refused_untouched(tmp_path, "export", assets / "q.safetensors", "-o", tmp_path / parent / "out",
                      pattern=r"must be plain ASCII")


@pytest.mark.parametrize("parent", ["naïve", "with space"])
def test_cosim_of_an_export_moved_under_such_a_path(tmp_path, assets, parent):
    exp = tmp_path / parent / "export"
    shutil.copytree(assets / "export", exp)
    refused_untouched(tmp_path, "cosim", exp, "--random", "1", pattern=r"export directory path must be plain ASCII")
