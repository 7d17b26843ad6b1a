"""Options declared on config fields: the click options generated, env vars, sizes, usage errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
import pytest
from click.testing import CliRunner

from services.runtime.config import ServerConfig
from services.runtime.options import (
    BYTE_SIZE,
    DURATION,
    build_config,
    config_options,
    env_name,
    setting,
)


@dataclass(frozen=True, kw_only=True)
class DemoConfig(ServerConfig):
    """A service config: one option of each kind, and a knob that is no option."""

    limit: int = setting(1 << 20, type=BYTE_SIZE, help="Bytes allowed.")
    pause: float = setting(2.0, type=DURATION, help="Seconds to pause.")
    loud: bool = setting(False, help="Say more.")
    knob: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.limit == 0:
            raise ValueError("limit must not be 0")


def parse(args: list[str], env: dict[str, str] | None = None,
          **defaults: Any) -> tuple[click.testing.Result, list[DemoConfig]]:
    built: list[DemoConfig] = []

    @click.command()
    @config_options(DemoConfig, **defaults)
    def serve(**options: Any) -> None:
        built.append(build_config(DemoConfig, options))

    return CliRunner().invoke(serve, args, env=env), built


def test_sizes_parse_with_binary_units() -> None:
    assert BYTE_SIZE.convert("1048576", None, None) == 1 << 20
    assert BYTE_SIZE.convert("512K", None, None) == 512 << 10
    assert BYTE_SIZE.convert("10M", None, None) == 10 << 20
    assert BYTE_SIZE.convert("1G", None, None) == 1 << 30
    assert BYTE_SIZE.convert("4GiB", None, None) == 4 << 30
    with pytest.raises(click.BadParameter, match="not a size"):
        BYTE_SIZE.convert("ten", None, None)


def test_sizes_are_shown_in_the_largest_unit_that_divides_them() -> None:
    assert [BYTE_SIZE.format(n) for n in (1 << 30, 64 << 20, 1536, 1000, 0)] == [
        "1G", "64M", "1536", "1000", "0"
    ]


def test_env_names_are_prefixed_and_upper_case() -> None:
    assert env_name("idle-timeout") == "NETLAB_IDLE_TIMEOUT"
    assert env_name("stats-port", "NETLAB_GATEWAY_") == "NETLAB_GATEWAY_STATS_PORT"


def test_without_options_the_config_has_its_defaults_but_the_overridden_ones() -> None:
    result, [config] = parse([], port=8123)
    assert result.exit_code == 0, result.output
    assert config == DemoConfig(port=8123)


def test_every_setting_is_an_option_and_an_env_var_and_nothing_else_is() -> None:
    result, [config] = parse(
        ["--limit", "10M", "--loud", "--max-clients", "7"],
        env={"NETLAB_PAUSE": "0.5", "NETLAB_IDLE_TIMEOUT": "9"},
    )
    assert result.exit_code == 0, result.output
    assert (config.limit, config.pause, config.loud) == (10 << 20, 0.5, True)
    assert (config.max_clients, config.idle_timeout) == (7, 9.0)
    result, _ = parse(["--knob", "4"])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_help_shows_each_field_help_and_sizes_in_units() -> None:
    result, _ = parse(["--help"])
    assert "Bytes allowed.  [default: 1M]" in result.output
    assert "--loud / --no-loud" in result.output
    assert "--queue-size" not in result.output  # a ServerConfig knob, not an option


@pytest.mark.parametrize("args", [["--limit", "lots"], ["--pause", "0"], ["--port", "70000"]])
def test_a_bad_value_is_a_usage_error(args: list[str]) -> None:
    result, built = parse(args)
    assert (result.exit_code, built) == (2, [])


def test_a_config_refusing_its_values_is_a_usage_error_not_a_traceback() -> None:
    result, built = parse(["--limit", "0"])
    assert (result.exit_code, built) == (2, [])
    assert "Error: limit must not be 0" in result.output


def test_a_cli_default_for_an_unknown_field_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="no field"):
        config_options(DemoConfig, prot=1)
