"""build_spec/install-linux.sh: a menu entry and icon for a bundle, and --uninstall, in a throwaway HOME."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO_ROOT

SCRIPT = REPO_ROOT / "build_spec" / "install-linux.sh"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the Linux installer")


def _fake_bundle(folder: Path) -> Path:
    """A bundle folder with an executable ``cxdesktop`` stub and one data file."""
    folder.mkdir(parents=True)
    stub = folder / "cxdesktop"
    stub.write_text("#!/bin/sh\necho stub\n")
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (folder / "_internal").mkdir()
    (folder / "_internal" / "data.txt").write_text("x")
    return folder


def _run(*args, home: Path, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "XDG_DATA_HOME"}
    environ.update(HOME=str(home), **env)
    return subprocess.run(["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True, env=environ,
                          cwd=home, timeout=60)


@pytest.mark.parametrize("use_xdg", [False, True])
def test_install_then_uninstall(tmp_path, use_xdg):
    home = tmp_path / "home"
    home.mkdir()
    data = tmp_path / "xdg-data" if use_xdg else home / ".local" / "share"
    env = {"XDG_DATA_HOME": str(data)} if use_xdg else {}
    bundle = _fake_bundle(tmp_path / "dist" / "cxdesktop")

    done = _run(bundle, home=home, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    entry = data / "applications" / "cxdesktop.desktop"
    icons = [data / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "cxdesktop.png" for n in (16, 32, 48, 64, 128, 256)]
    installed = data / "cxdesktop" / "cxdesktop"
    assert entry.is_file() and installed.is_file() and all(icon.is_file() for icon in icons)
    assert os.access(installed, os.X_OK)
    assert (data / "cxdesktop" / "_internal" / "data.txt").read_text() == "x"
    text = entry.read_text()
    assert f'Exec="{installed}" %F' in text and "Icon=cxdesktop" in text and "@EXEC@" not in text
    assert subprocess.run([str(installed)], capture_output=True, text=True).stdout.strip() == "stub"
    if use_xdg:
        assert not (home / ".local").exists()  # nothing written outside XDG_DATA_HOME

    again = _run(bundle, home=home, **env)  # installing twice replaces the copy
    assert again.returncode == 0, again.stdout + again.stderr
    assert not (data / "cxdesktop.new").exists()

    gone = _run("--uninstall", home=home, **env)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not entry.exists() and not any(icon.exists() for icon in icons) and not (data / "cxdesktop").exists()
    assert (bundle / "cxdesktop").is_file()  # the bundle itself is untouched


def test_install_takes_a_relative_bundle_path_and_a_path_with_spaces(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    data = tmp_path / "my data"
    _fake_bundle(home / "out dir" / "cxdesktop")
    done = _run("out dir/cxdesktop", home=home, XDG_DATA_HOME=str(data))  # relative to the caller's directory
    assert done.returncode == 0, done.stdout + done.stderr
    text = (data / "applications" / "cxdesktop.desktop").read_text()
    assert f'Exec="{data}/cxdesktop/cxdesktop" %F' in text
    assert (data / "cxdesktop" / "cxdesktop").is_file()


def test_install_refuses_a_folder_without_an_executable(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _run(empty, home=home)
    assert done.returncode != 0 and "no built bundle" in done.stderr
    assert not (home / ".local" / "share" / "applications" / "cxdesktop.desktop").exists()
