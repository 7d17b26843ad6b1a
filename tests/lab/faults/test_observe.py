"""lab.observe's programs run here, as `docker exec` would run them in the server containers."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lab.observe import observe


@dataclass
class LocalContainer:
    """A container stand-in whose ``exec_run`` runs the program on this machine."""

    env: list[str] = field(default_factory=list)
    fail: bool = False

    @property
    def attrs(self) -> dict[str, Any]:
        return {"Config": {"Env": self.env}}

    def exec_run(self, argv: list[str], demux: bool) -> tuple[int, tuple[bytes, bytes]]:
        assert argv[0] == "python" and demux
        if self.fail:
            return 1, (b"", b"Traceback: boom\n")
        done = subprocess.run([sys.executable, *argv[1:]], capture_output=True, timeout=30,
                              check=False)
        return done.returncode, (done.stdout, done.stderr)


@dataclass
class Place:
    services: dict[str, LocalContainer]

    def container(self, service: str) -> LocalContainer:
        return self.services[service]


@pytest.fixture
def marker() -> Iterator[str]:
    """A fleet-like marker that ran twice (and once long ago), its command still running."""
    name = f"netlab-op-observetest.exec-0_{uuid.uuid4().hex[:8]}"
    for pid in (101, 102):
        Path(f"/tmp/netlab-ran.{name}.{pid}").touch()
    old = Path(f"/tmp/netlab-ran.{name}x.7")
    old.touch()
    os.utime(old, (1000, 1000))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", name])
    yield name
    sleeper.kill()
    sleeper.wait()
    for path in Path("/tmp").glob(f"netlab-ran.{name}*"):
        path.unlink()


async def test_exec_leftovers_and_ran_counts_are_found(marker: str) -> None:
    found = await observe(Place({"exec": LocalContainer()}), since=2000, services=("exec",))
    assert found["exec"]["ran"][marker] == 2
    assert f"{marker}x" not in found["exec"]["ran"]  # older than `since`
    (mine,) = [c for c in found["exec"]["leftovers"] if marker in c]
    assert "time.sleep(30)" in mine
    assert not any("/proc" in c for c in found["exec"]["leftovers"])  # not the observer itself


@pytest.fixture
def upload_root(tmp_path: Path) -> Path:
    """An upload directory with stored files, a partial, hidden names, a folder and a link."""
    (tmp_path / "stored.bin").write_bytes(b"abc")
    (tmp_path / "empty.bin").write_bytes(b"")
    (tmp_path / ".netlab-partial").mkdir()
    (tmp_path / ".netlab-partial" / "0123.part").write_bytes(b"half")
    (tmp_path / ".hidden").write_bytes(b"x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "link.bin").symlink_to(tmp_path / "stored.bin")
    return tmp_path


async def test_upload_files_are_the_regular_files_in_the_root_only(upload_root: Path) -> None:
    place = Place({"upload": LocalContainer(env=[f"NETLAB_ROOT={upload_root}"])})
    found = await observe(place, services=("upload",))
    assert found == {"upload": {"files": {
        "stored.bin": {"size": 3, "sha256": hashlib.sha256(b"abc").hexdigest()},
        "empty.bin": {"size": 0, "sha256": hashlib.sha256(b"").hexdigest()},
    }}}


async def test_a_service_that_cannot_be_observed_is_named_under_errors(tmp_path: Path) -> None:
    place = Place({"exec": LocalContainer(fail=True),
                   "upload": LocalContainer(env=[f"NETLAB_ROOT={tmp_path}"])})
    found = await observe(place)
    assert found["upload"] == {"files": {}}
    assert "exec" not in found and "boom" in found["errors"]["exec"]
