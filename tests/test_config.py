"""Settings: defaults < TOML file < environment; invalid values are refused with a clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from guetteur.config import load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "g.toml"
    conf.write_text('[syslog]\ntcp_port = 6000\nudp_port = 6001\n[[file_inputs]]\npath = "/var/log/*.log"\n')
    monkeypatch.setenv("GUETTEUR_SYSLOG__TCP_PORT", "7000")
    settings = load_settings(conf)
    assert settings.syslog.tcp_port == 7000  # environment wins
    assert settings.syslog.udp_port == 6001  # file beats default
    assert settings.file_inputs[0].path == "/var/log/*.log"
    assert settings.api.port == 8000  # default


def test_example_configuration_is_valid() -> None:
    settings = load_settings(ROOT / "guetteur.example.toml")
    assert settings.parse.timezone == "Europe/Paris"
    assert settings.file_inputs


@pytest.mark.parametrize(
    "text",
    ['[syslog]\ntcp_port = 70000\n', '[parse]\ntimezone = "Mars/Olympus"\n', 'unknown_key = 1\n', "[api\n"],
)
def test_invalid_configuration_is_refused(tmp_path: Path, text: str) -> None:
    conf = tmp_path / "bad.toml"
    conf.write_text(text)
    with pytest.raises((ValidationError, ValueError)):
        load_settings(conf)


def test_cli_reports_invalid_configuration(tmp_path: Path) -> None:
    conf = tmp_path / "bad.toml"
    conf.write_text("[syslog]\ntcp_port = -1\n")
    run = subprocess.run([sys.executable, "-m", "guetteur", "--config", str(conf), "config", "show"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "invalid configuration" in run.stderr
    assert "tcp_port" in run.stderr


def test_missing_configuration_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "nope.toml")
