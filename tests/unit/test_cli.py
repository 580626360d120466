"""The command line: the SDK's standard flags, declared in function/cli.py, stay the SDK's."""

import subprocess
import sys
from pathlib import Path

import click
import click.testing
import pytest
from crossplane.function import cli as sdkcli

from function import cli, server

ROOT = Path(__file__).resolve().parents[2]


def _options(command: click.Command) -> dict[str, tuple[object, ...]]:
    return {
        str(p.name): (
            tuple(p.opts),
            tuple(p.secondary_opts),
            p.envvar if not isinstance(p.envvar, list) else tuple(p.envvar),
            p.default,
            getattr(p, "is_flag", False),
            getattr(p, "show_default", None),
            p.type.name,
            getattr(p, "help", None),
        )
        for p in command.params
        if isinstance(p, click.Option)
    }


def test_the_standard_flags_are_the_sdks() -> None:
    @click.command()
    @sdkcli.standard_options
    def sdk_command(**_: object) -> None:
        pass

    sdk = _options(sdk_command)
    ours = _options(cli.main)
    assert sdk, "the SDK declares no standard options"
    assert {name: ours.get(name) for name in sdk} == sdk


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--max-grpc-message-size", "8", "--insecure", "--help"], "the SDK's alias"),
        (["--tls-certs-dir", "/nowhere", "--help"], "the SDK's short name of the certs dir"),
    ],
)
def test_the_sdks_aliases_are_accepted(args: list[str], reason: str) -> None:
    result = click.testing.CliRunner().invoke(cli.main, args)
    assert result.exit_code == 0, (reason, result.output)


def test_start_up_imports_only_what_serving_needs() -> None:
    # A fresh interpreter imports the command as `python -m function` does.
    script = "import sys\nimport function.cli\nprint(' '.join(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    tops = {name.split(".")[0] for name in done.stdout.split()}
    # rich and pygments: structlog's console exception formatter, which these logs never use
    # (the image does not install rich); the others load when a call needs them.
    assert tops & {"rich", "pygments", "hvac", "requests", "prometheus_client", "yaml"} == set()
    assert not [n for n in done.stdout.split() if n.startswith("function.kinds.")]


@pytest.mark.parametrize(
    ("args", "env", "expected", "reason"),
    [
        ([], {}, server.DEFAULT_BUSY_POLL_US, "the default"),
        (["--busy-poll-us", "0"], {}, 0, "off"),
        ([], {"BUSY_POLL_US": "40"}, 40, "from the environment, as a pod sets it"),
    ],
)
def test_busy_poll_reaches_the_server(
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    expected: int,
    reason: str,
) -> None:
    served: list[server.ServeConfig] = []
    monkeypatch.setattr(server, "serve", served.append)
    result = click.testing.CliRunner().invoke(cli.main, ["--insecure", *args], env=env)
    assert result.exit_code == 0, (reason, result.output)
    assert [c.busy_poll_us for c in served] == [expected], reason


@pytest.mark.parametrize("value", ["-1", "10001", "0.5"])
def test_a_busy_poll_out_of_range_is_refused_naming_the_flag(value: str) -> None:
    result = click.testing.CliRunner().invoke(cli.main, ["--insecure", "--busy-poll-us", value])
    assert result.exit_code == 2
    assert "--busy-poll-us" in result.output
