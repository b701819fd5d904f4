"""Output paths, ``--force`` and the ownership rule: a command replaces only a directory carrying
hwsim's marker, creates new targets create-exclusively, recovers what a killed run left, and turns
every file-system error into one line. User files are never lost."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _promise import refused, refused_untouched, run, snapshot

import hwsim._fsutil as fsutil
import hwsim.export._export as export_mod
from hwsim._fsutil import MARKER, recover
from hwsim.export import read_manifest, write_export


def _user_dir(path: Path) -> Path:
    path.mkdir()
    (path / "thesis.tex").write_text("keep me")
    (path / "sub").mkdir()
    (path / "sub" / "data.bin").write_bytes(b"\x00\x01")
    return path


def _strays(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def _writers(assets: Path, target: Path) -> dict[str, tuple]:
    """Every command that writes a directory, aimed at ``target``."""
    q, data = assets / "q.safetensors", assets / "data.npz"
    return {
        "export": ("export", q, "-o", target),
        "export --force": ("export", q, "-o", target, "--force"),
        "report -o": ("report", q, "--data", data, "-o", target),
        "check --report": ("check", q, "--data", data, "--report", target),
        "demo": ("demo", "-o", target, "--no-cosim", "--no-synth", "-q"),
        "demo --force": ("demo", "-o", target, "--no-cosim", "--no-synth", "-q", "--force"),
    }


WRITERS = ["export", "export --force", "report -o", "check --report", "demo", "demo --force"]


@pytest.mark.parametrize("writer", WRITERS)
def test_a_directory_of_user_files_is_never_replaced(tmp_path, assets, writer):
    mine = _user_dir(tmp_path / "mine")
    line = refused_untouched(tmp_path, *_writers(assets, mine)[writer])
    assert "holds files hwsim did not write" in line or "exists; pass --force" in line


@pytest.mark.parametrize("writer", ["export --force", "report -o"])  # check --report shares report's writer
def test_a_directory_hwsim_wrote_is_replaced(tmp_path, assets, writer):
    out = tmp_path / "out"
    args = _writers(assets, out)[writer]
    assert run(*args).exit_code == 0
    (out / "sim_build").mkdir()  # a build product hwsim's own tools leave (the exported tb's simulator)
    (out / "sim_build" / "stale").write_text("x")
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert (out / MARKER).is_file() and not (out / "sim_build").exists()
    assert sorted(os.listdir(tmp_path)) == ["out"]


@pytest.mark.parametrize("writer", ["export --force", "report -o", "demo --force"])
def test_user_files_added_to_hwsim_output_are_never_replaced(tmp_path, assets, writer):
    """The marker lists what hwsim wrote: a file of the user's put into hwsim's output keeps the
    directory from being replaced, --force included; the line names the file, nothing changes."""
    out = tmp_path / "out"
    args = _writers(assets, out)[writer]
    assert run(*args).exit_code == 0
    (out / "paper.tex").write_text("my paper")
    (out / "src").mkdir()
    (out / "src" / "main.c").write_text("int main(void) { return 0; }")
    line = refused_untouched(tmp_path, *args)
    assert line.startswith("Error: output directory ") or line.startswith("Error: report directory "), line
    assert line.endswith(f"holds paper.tex, which hwsim did not write there; hwsim replaces only its own output, "
                         "--force included: move that file or choose another directory"), line


def test_the_marker_lists_every_file_hwsim_wrote(tmp_path, assets):
    out = tmp_path / "out"
    assert run(*_writers(assets, out)["export"]).exit_code == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != MARKER)
    listed = (out / MARKER).read_text().split(fsutil._FILES_LINE + "\n")[1].splitlines()
    assert listed == written and "manifest.json" in listed


def test_a_marker_without_a_list_falls_back_to_the_export_manifest(tmp_path, assets):
    """An export made before the marker listed its files: the manifest's files are hwsim's."""
    out = tmp_path / "out"
    args = _writers(assets, out)["export --force"]
    assert run(*args).exit_code == 0
    (out / MARKER).write_text("This directory was written by hwsim; hwsim may replace it. Remove this file to keep it.\n")
    assert fsutil.foreign_file(out) is None
    (out / "notes.txt").write_text("mine")
    assert fsutil.foreign_file(out) == "notes.txt"
    (out / "notes.txt").unlink()
    assert run(*args).exit_code == 0


@pytest.mark.parametrize("writer", ["report -o", "check --report", "export --force", "demo"])
def test_the_working_directory_is_refused(tmp_path, assets, writer):
    args = _writers(assets, Path("."))[writer]
    (tmp_path / "keep.txt").write_text("x")
    refused_untouched(tmp_path, *args, cwd=tmp_path, pattern=r"must not be the current directory|name must match")
    refused_untouched(tmp_path, *_writers(assets, tmp_path.parent)[writer], pattern=r"must not be the current directory|holds files")


@pytest.mark.parametrize("writer", WRITERS + ["infer", "quantize"])
def test_under_a_file(tmp_path, assets, writer):
    (tmp_path / "afile").write_text("x")
    q, data = assets / "q.safetensors", assets / "data.npz"
    args = {
        "infer": ("infer", q, "--data", data, "-o", tmp_path / "afile" / "o.npz"),
        "quantize": ("quantize", q, "--method", "ternary", "-o", tmp_path / "afile" / "q.safetensors"),
    }.get(writer) or _writers(assets, tmp_path / "afile" / "out")[writer]
    refused_untouched(tmp_path, *args)


@pytest.mark.parametrize("writer", WRITERS + ["infer", "quantize"])
def test_read_only_file_system(tmp_path, assets, writer, monkeypatch):
    """EROFS wherever hwsim creates its temporary (the first write of every writer)."""

    def erofs(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(fsutil.tempfile, "mkdtemp", erofs)
    monkeypatch.setattr(fsutil.tempfile, "mkstemp", erofs)
    q, data = assets / "q.safetensors", assets / "data.npz"
    args = {
        "infer": ("infer", q, "--data", data, "-o", tmp_path / "o.npz"),
        "quantize": ("quantize", q, "--method", "ternary", "-o", tmp_path / "q2.safetensors"),
    }.get(writer) or _writers(assets, tmp_path / "out")[writer]
    refused_untouched(tmp_path, *args, pattern=r"must be on a writable file system, not a read-only one")


def test_infer_output_that_is_a_directory(tmp_path, assets):
    _user_dir(tmp_path / "o.npz")
    refused_untouched(tmp_path, "infer", assets / "q.safetensors", "--data", assets / "data.npz", "-o",
                      tmp_path / "o.npz", pattern=r"must be a file, not a directory|is a directory")


# -- races: create-exclusive publishing -----------------------------------------------------------------


def _during_build(monkeypatch, action):
    """Run ``action()`` while an export is being built (after the up-front checks)."""
    real = export_mod.rom_images

    def hook(plan):
        action()
        return real(plan)

    monkeypatch.setattr(export_mod, "rom_images", hook)


@pytest.mark.parametrize("force", [False, True])
def test_directory_created_meanwhile_is_not_replaced(tmp_path, assets, monkeypatch, force):
    out = tmp_path / "out"
    _during_build(monkeypatch, lambda: _user_dir(out))
    r = run("export", assets / "q.safetensors", "-o", out, *(["--force"] if force else []))
    refused(r, r"left as it is")
    assert sorted(os.listdir(out)) == ["sub", "thesis.tex"] and sorted(os.listdir(tmp_path)) == ["out"]


def test_concurrent_exports_one_wins(tmp_path, assets, qmodel, monkeypatch):
    """Two exports to one new target without --force: the second to finish is refused."""
    out = tmp_path / "out"
    done = []

    def other():
        monkeypatch.setattr(export_mod, "rom_images", real)
        write_export(qmodel, out, rtl=False)  # the other process, finishing first
        monkeypatch.setattr(export_mod, "rom_images", hook)
        done.append(snapshot(out))

    real = export_mod.rom_images

    def hook(plan):
        if not done:
            other()
        return real(plan)

    monkeypatch.setattr(export_mod, "rom_images", hook)
    refused(run("export", assets / "q.safetensors", "-o", out), r"appeared while it was being written")
    assert snapshot(out) == done[0] and sorted(os.listdir(tmp_path)) == ["out"]


# -- what a killed run leaves is recovered ---------------------------------------------------------------


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_leftovers_of_a_kill_between_the_renames_are_recovered(tmp_path, assets, qmodel):
    """The state `export --force` leaves when killed between its renames: the old export in .old,
    the new one in .tmp, nothing at the target. The next run puts the old one back first."""
    out = tmp_path / "out"
    write_export(qmodel, out, formats="hex")
    old_files = snapshot(out)
    pid = _dead_pid()
    os.rename(out, tmp_path / f".out.{pid}.abcd1234.old")
    write_export(qmodel, tmp_path / "new", formats="hex,mif")
    os.rename(tmp_path / "new", tmp_path / f".out.{pid}.efgh5678.tmp")
    (tmp_path / "keep.txt").write_text("mine")
    # without --force: the old export is restored, the leftovers cleaned, and the export refused
    refused(run("export", assets / "q.safetensors", "-o", out), r"exists; pass --force")
    assert snapshot(out) == old_files and sorted(os.listdir(tmp_path)) == ["keep.txt", "out"]
    # a stale .tmp next to a live target is removed, and --force then replaces the target
    os.mkdir(tmp_path / f".out.{pid}.ijkl9012.tmp")
    assert run("export", assets / "q.safetensors", "-o", out, "--force").exit_code == 0
    assert sorted(os.listdir(tmp_path)) == ["keep.txt", "out"]
    read_manifest(out)


def test_leftovers_of_a_live_run_are_left_alone(tmp_path):
    live = tmp_path / f".out.{os.getppid()}.abcd1234.tmp"
    live.mkdir()
    recover(tmp_path / "out")
    assert live.is_dir()


def test_export_force_killed_at_random_moments(tmp_path, assets):
    """SIGKILL `hwsim export --force` at seeded random moments (a bounded number of kills): the
    export or its predecessor is always complete at the target or in one .old beside it, the next
    run's recovery leaves exactly the target, and the user's file beside it is intact."""
    out = tmp_path / "out"
    (tmp_path / "keep.txt").write_text("mine")
    cmd = [sys.executable, "-m", "hwsim", "export", str(assets / "q.safetensors"), "-o", str(out), "--force"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    full = time.perf_counter() - t0
    rng = random.Random(20261129)
    kills = 0
    for _ in range(8):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.4, 1.1) * full)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
        olds = [p for p in tmp_path.iterdir() if p.name.startswith(".out.") and p.name.endswith(".old")]
        complete = [d for d in ([out] if out.exists() else []) + olds if (d / MARKER).is_file() and (d / "manifest.json").is_file()]
        assert complete, sorted(os.listdir(tmp_path))  # never lost
        recover(out)
        assert sorted(os.listdir(tmp_path)) == ["keep.txt", "out"]
        read_manifest(out)
        assert (tmp_path / "keep.txt").read_text() == "mine"
    assert kills >= 1  # at least one run was really killed (the rest finished first)


# -- --build-dir of cosim ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["afile/b", "b d", "bé"])
def test_cosim_build_dir(tmp_path, assets, bad):
    (tmp_path / "afile").write_text("x")
    line = refused_untouched(tmp_path, "cosim", assets / "export", "--random", "1", "--build-dir", tmp_path / bad)
    assert "build directory" in line or "under a file" in line or "must be a directory" in line
