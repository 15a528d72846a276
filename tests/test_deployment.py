"""docker-compose.yml is valid and wires the same paths as `make run`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from shared.config import REPO_ROOT

compose = pytest.importorskip("compose")
COMPOSE_BINARY = Path(compose.__file__).parent / "docker-compose"
ENV = {**os.environ, "SECRET_KEY": "s" * 40, "POSTGRES_PASSWORD": "pw"}


def compose_config(*args: str, env: dict[str, str] = ENV) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(COMPOSE_BINARY), "-f", str(REPO_ROOT / "docker-compose.yml"), "config", *args],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=60)


def test_compose_file_is_valid():
    result = compose_config("-q")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in ENV.items() if k != "SECRET_KEY"}
    result = compose_config("-q", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_every_service_is_served_under_its_gateway_path():
    config = json.loads(compose_config("--format", "json").stdout)
    nginx = (REPO_ROOT / "deploy" / "nginx.conf").read_text()
    for service in ("funds", "donations", "reports"):
        definition = config["services"][service]
        assert f"services.{service}:create_app()" in definition["command"]
        assert definition["environment"]["SCRIPT_NAME"] == f"/{service}"
        assert re.search(rf"location /{service}/ {{ proxy_pass http://{service}:8000; }}", nginx)
        assert definition["environment"]["FUNDS_URL"] == "http://funds:8000/funds"
    assert config["services"]["gateway"]["ports"][0]["published"] == "8000"
