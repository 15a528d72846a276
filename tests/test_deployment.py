"""docker-compose.yml is valid, wires the same paths as `make run`, checks every container's health,
scales its workers, and its services refuse a sample SECRET_KEY."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from shared.config import REPO_ROOT, SERVICES, InsecureSecretKey, load_settings

compose = pytest.importorskip("compose")
COMPOSE_BINARY = Path(compose.__file__).parent / "docker-compose"
ENV = {**os.environ, "SECRET_KEY": secrets.token_urlsafe(48), "POSTGRES_PASSWORD": "owner-password-7d1c"}
WEB_SERVICES = SERVICES


def compose_config(*args: str, env: dict[str, str] = ENV, options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(COMPOSE_BINARY), "-f", str(REPO_ROOT / "docker-compose.yml"), *options, "config", *args],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=60)


def full_stack(env: dict[str, str] = ENV) -> dict[str, Any]:
    """The resolved compose file, the `tools` profile (backup) included."""
    result = compose_config("--format", "json", env=env, options=("--profile", "tools"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


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
    for service in WEB_SERVICES:
        definition = config["services"][service]
        assert f"services.{service}:create_app()" in definition["command"]
        assert definition["environment"]["SCRIPT_NAME"] == f"/{service}"
        assert re.search(rf"location /{service}/ {{ proxy_pass http://{service}:8000; }}", nginx)
        for peer in WEB_SERVICES:
            assert definition["environment"][f"{peer.upper()}_URL"] == f"http://{peer}:8000/{peer}"
    assert config["services"]["gateway"]["ports"][0]["published"] == "8000"


def test_only_the_migrations_and_backups_see_the_owner_password():
    config = full_stack()
    owner_password = ENV["POSTGRES_PASSWORD"]
    for tool in ("migrate", "backup"):
        owner_url = make_url(config["services"][tool]["environment"]["DATABASE_URL"])
        assert (owner_url.username, owner_url.password) == ("ledger", owner_password)
    for name, definition in config["services"].items():
        if name in ("migrate", "backup", "postgres"):
            continue
        assert owner_password not in json.dumps(definition), f"{name} sees POSTGRES_PASSWORD"
    for service in WEB_SERVICES:
        environment = config["services"][service]["environment"]
        url = make_url(environment["DATABASE_URL"])
        assert (url.username, url.password, url.host, url.port, url.database) == (None, None, "postgres", 5432,
                                                                                 "ledger")
        settings = load_settings(environ={**environment, "VAR_DIR": str(REPO_ROOT / "var")})
        role = make_url(settings.service_database_url(service))
        assert (role.username, role.host, role.database) == (f"ledger_{service}", "postgres", "ledger")
        assert role.password and role.password != owner_password


def test_the_stack_has_every_part_a_deployment_needs():
    config = full_stack()
    assert set(config["services"]) == {"postgres", "redis", "migrate", *WEB_SERVICES, "worker", "beat",
                                       "mail", "gateway", "backup"}
    assert config["services"]["gateway"]["image"].startswith("nginx:")
    assert config["services"]["mail"]["image"].startswith("axllent/mailpit:")
    assert config["services"]["worker"]["command"][:4] == ["celery", "-A", "services.reports.worker", "worker"]
    assert config["services"]["beat"]["command"][:4] == ["celery", "-A", "services.reports.worker", "beat"]
    for service in WEB_SERVICES:
        assert config["services"][service]["command"][0] == "gunicorn"
    # The database (with the report files, kept in it) and what the processes write survive a restart.
    assert {"target": "/var/lib/postgresql/data", "source": "postgres-data"}.items() <= \
        config["services"]["postgres"]["volumes"][0].items()
    for service in (*WEB_SERVICES, "worker", "beat"):
        assert any(v["source"] == "ledger-var" and v["target"] == "/app/var" for v in config["services"][service]["volumes"])
    assert {"postgres-data", "redis-data", "ledger-var", "backups"} <= set(config["volumes"])
    assert config["services"]["backup"]["profiles"] == ["tools"]


def test_every_long_running_container_checks_its_health():
    config = full_stack()
    one_shot = {"migrate", "backup"}
    for name, definition in config["services"].items():
        if name not in one_shot:
            assert definition.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for service in WEB_SERVICES:
        test = config["services"][service]["healthcheck"]["test"]
        # The image has no curl: python's urllib asks the service's own health page on its port.
        assert test[:3] == ["CMD", "python", "-c"] and "urllib.request" in test[3]
        assert f"'http://127.0.0.1:8000/{service}/healthz'" in test[3]
        compile(test[3], "healthcheck", "exec")
    worker = config["services"]["worker"]["healthcheck"]["test"]
    assert worker[0] == "CMD-SHELL" and "inspect ping" in worker[1] and "celery@$$HOSTNAME" in worker[1]
    beat = config["services"]["beat"]["healthcheck"]["test"]
    assert "/tmp/celerybeat-schedule" in beat[3] and "/tmp/celerybeat-schedule" in config["services"]["beat"]["command"]
    compile(beat[3], "healthcheck", "exec")
    assert "http://127.0.0.1:8000/healthz" in config["services"]["gateway"]["healthcheck"]["test"]
    assert re.search(r"location = /healthz \{[^}]*return 200", (REPO_ROOT / "deploy" / "nginx.conf").read_text())
    assert config["services"]["mail"]["healthcheck"]["test"] == ["CMD", "/mailpit", "readyz"]


def test_containers_start_in_order_of_health():
    config = full_stack()
    services = config["services"]
    for service in (*WEB_SERVICES, "worker", "beat"):
        depends = services[service]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", service
        assert depends["redis"]["condition"] == "service_healthy", service
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["mail"]["condition"] == "service_healthy"
    assert {name: d["condition"] for name, d in services["gateway"]["depends_on"].items()} == {
        service: "service_healthy" for service in WEB_SERVICES}


def test_workers_scale():
    """`docker compose up --scale worker=3`: nothing in a worker's definition may exist only once."""
    config = full_stack()
    for name, definition in config["services"].items():
        assert "container_name" not in definition, f"{name} has a fixed container name"
    worker = config["services"]["worker"]
    assert "ports" not in worker and "hostname" not in worker
    assert all(volume["type"] == "volume" for volume in worker.get("volumes", []))
    # Each worker is its own Celery node (celery@<its container's hostname>).
    assert "-n" not in worker["command"] and "--hostname" not in worker["command"]
    # Beat is one only: it alone names a schedule file, which is the container's own.
    assert "worker" not in config["services"]["beat"]["command"][3:] and "-B" not in worker["command"]


def test_env_example_names_every_variable_the_compose_file_reads():
    compose_file = (REPO_ROOT / "docker-compose.yml").read_text()
    wanted = set(re.findall(r"\$\{([A-Z_]+)", compose_file))
    example = (REPO_ROOT / ".env.example").read_text()
    given = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    assert wanted == given
    # Each is explained: a comment right above it (or above its group).
    for name in given:
        before = example.split(f"\n{name}=")[0].rstrip("\n").splitlines()
        assert before[-1].startswith("#") or re.match(r"^[A-Z_]+=", before[-1]), name


def test_the_env_example_cannot_start_the_services(tmp_path: Path):
    """Copied as it is (with a database password), compose accepts it but every service refuses its
    sample SECRET_KEY with one line, before touching the database."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "POSTGRES_PASSWORD")}
    env["POSTGRES_PASSWORD"] = "owner-password-7d1c"
    config = json.loads(compose_config(
        "--format", "json", env=env, options=("--env-file", str(REPO_ROOT / ".env.example"))).stdout)
    for name in ("migrate", *WEB_SERVICES, "worker", "beat"):
        environment = config["services"][name]["environment"]
        assert environment["LEDGER_ENV"] == "production"
        command = config["services"][name]["command"]
        if command[0] == "gunicorn":
            command = [sys.executable, "-m", *command]
            command[command.index("0.0.0.0:8000")] = "127.0.0.1:0"
            command[command.index("--workers") + 1] = "1"
        elif command[0] == "celery":
            command = [sys.executable, "-m", *command]
        else:
            command = [sys.executable, *command[1:]]
        run_env = {**os.environ, **environment, "VAR_DIR": str(tmp_path / name)}
        started = subprocess.run(command, cwd=REPO_ROOT, env=run_env, capture_output=True, text=True, timeout=60)
        # 3: gunicorn's master stops when a worker fails to boot (it may also say so with a traceback, 1).
        assert started.returncode in ((1, 3) if "gunicorn" in command else (3,)), (name, started.stderr)
        refusals = [line for line in started.stderr.splitlines() if line.startswith("refusing to start:")]
        assert refusals and refusals[0].startswith("refusing to start: SECRET_KEY is a sample value"), \
            (name, started.stderr)
        assert not (tmp_path / name / "secret_key").exists()


@pytest.mark.parametrize(("key", "reason"), [
    ("", "is not set"),
    ("test-secret-key-not-for-production", "is a sample value"),
    ("please-CHANGE-ME-" + secrets.token_urlsafe(32), "is a sample value"),
    (secrets.token_urlsafe(16), "is shorter than 32 characters"),
    ("ab" * 30, "repeats too few characters"),
])
def test_production_refuses_an_unfit_secret_key(key: str, reason: str, tmp_path: Path, capsys):
    environ = {"LEDGER_ENV": "production", "SECRET_KEY": key, "VAR_DIR": str(tmp_path)}
    with pytest.raises(InsecureSecretKey) as refused:
        load_settings(environ=environ)
    assert refused.value.code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"refusing to start: SECRET_KEY {reason}")
    assert not (tmp_path / "secret_key").exists()


def test_a_random_key_starts_in_production_and_anything_starts_in_development(tmp_path: Path):
    key = secrets.token_urlsafe(48)
    assert load_settings(environ={"LEDGER_ENV": "production", "SECRET_KEY": key, "VAR_DIR": str(tmp_path)}
                         ).secret_key == key
    # `make run` and the tests: an unset key is made once under var/, a short one is taken.
    assert len(load_settings(environ={"VAR_DIR": str(tmp_path)}).secret_key) >= 32
    assert load_settings(environ={"SECRET_KEY": "dev", "VAR_DIR": str(tmp_path)}).secret_key == "dev"


def test_the_image_is_production():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert re.search(r"^ENV .*LEDGER_ENV=production", dockerfile, re.MULTILINE)
    assert "postgresql-client-15" in dockerfile and "image: postgres:15" in (REPO_ROOT / "docker-compose.yml").read_text()
