"""``netlab upload serve``: the config it builds (model: uvicorn's tests/test_cli.py).

``main`` is patched: the config it would run is the assertion; nothing listens.
The client commands are tested against a server in ``test_client.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from services.upload import cli as upload_cli
from services.upload.config import DEFAULT_PORT, OverwritePolicy, UploadConfig
from services.upload.server import UploadServer
from tests.support.commands import recorded_main


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[UploadConfig]:
    """The configs ``serve`` would run, instead of running them."""
    return recorded_main(monkeypatch, upload_cli, UploadServer)


def serve(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(upload_cli.cli, ["serve", *args], env=env)


def test_serve_defaults_are_the_configs_on_the_upload_port(ran: list[UploadConfig]) -> None:
    result = serve()
    assert result.exit_code == 0, result.output
    assert ran == [UploadConfig(port=DEFAULT_PORT)]
    assert (ran[0].root, ran[0].max_file_size, ran[0].quota) == (Path("uploads"), 4 << 30, 1 << 30)
    assert ran[0].overwrite is OverwritePolicy.ON_REQUEST


def test_serve_options_env_vars_and_sizes_reach_the_config(
    ran: list[UploadConfig], tmp_path: Path
) -> None:
    result = serve(
        "--port", "18002", "--root", str(tmp_path), "--quota", "10M", "--max-file-size", "1M",
        "--overwrite", "always",
        env={"NETLAB_PARTIAL_TTL": "60", "NETLAB_MAX_UPLOADS": "2", "NETLAB_GRACE_PERIOD": "1"},
    )
    assert result.exit_code == 0, result.output
    assert ran == [UploadConfig(
        port=18002, root=tmp_path, quota=10 << 20, max_file_size=1 << 20,
        overwrite=OverwritePolicy.ALWAYS, partial_ttl=60.0, max_uploads=2, grace_period=1.0,
    )]


@pytest.mark.parametrize("args", [
    ["--quota", "ten"], ["--overwrite", "sometimes"], ["--partial-ttl", "0"],
    ["--max-uploads", "0"],
])
def test_a_bad_value_is_a_usage_error(ran: list[UploadConfig], args: list[str]) -> None:
    result = serve(*args)
    assert (result.exit_code, ran) == (2, [])


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, True),
        (["--no-classic-overwrite"], {}, False),
        ([], {"NETLAB_CLASSIC_OVERWRITE": "false"}, False),
        ([], {"NETLAB_CLASSIC_OVERWRITE": "true"}, True),
        (["--classic-overwrite"], {"NETLAB_CLASSIC_OVERWRITE": "false"}, True),
    ],
)
def test_classic_overwrite_is_on_by_default_and_set_by_flag_or_env(
    ran: list[UploadConfig], args: list[str], env: dict[str, str], expected: bool
) -> None:
    result = serve(*args, env=env)
    assert result.exit_code == 0, result.output
    assert ran[0].classic_overwrite is expected
