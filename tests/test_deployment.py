"""docker-compose.yml is valid and wires the same paths as `make run`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from shared.config import REPO_ROOT, load_settings

compose = pytest.importorskip("compose")
COMPOSE_BINARY = Path(compose.__file__).parent / "docker-compose"
ENV = {**os.environ, "SECRET_KEY": "s" * 40, "POSTGRES_PASSWORD": "owner-password-7d1c"}


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


def test_only_the_migrations_see_the_owner_password():
    config = json.loads(compose_config("--format", "json").stdout)
    owner_password = ENV["POSTGRES_PASSWORD"]
    migrate_url = make_url(config["services"]["migrate"]["environment"]["DATABASE_URL"])
    assert (migrate_url.username, migrate_url.password) == ("ledger", owner_password)
    for name, definition in config["services"].items():
        if name in ("migrate", "postgres"):
            continue
        assert owner_password not in json.dumps(definition), f"{name} sees POSTGRES_PASSWORD"
    for service in ("funds", "donations", "reports"):
        environment = config["services"][service]["environment"]
        url = make_url(environment["DATABASE_URL"])
        assert (url.username, url.password, url.host, url.port, url.database) == (None, None, "postgres", 5432,
                                                                                 "ledger")
        settings = load_settings(environ={**environment, "VAR_DIR": str(REPO_ROOT / "var")})
        role = make_url(settings.service_database_url(service))
        assert (role.username, role.host, role.database) == (f"ledger_{service}", "postgres", "ledger")
        assert role.password and role.password != owner_password
