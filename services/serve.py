"""`make run`: migrate, then serve all four services on one address.

    python -m services.serve [--port 8000]

Without DATABASE_URL it starts the embedded PostgreSQL under var/pg (database
`charity`); with it, it uses that server. Runs gunicorn with the gateway and
the reports service's Celery worker with beat (on Celery's embedded
transport under var/celery unless CELERY_BROKER_URL names a broker), and
stops them all on Ctrl-C, then the embedded server. On a fresh machine it makes an admin password and
an admin API key, keeps them under var/ and prints them.

Logs go to the terminal: one line per request from the services themselves
(gunicorn's access log is off: deploy/gunicorn.conf.py), the worker's per
task. LOG_FORMAT defaults to text when stderr is a terminal, else json.
Metrics (/<service>/metrics) add up every gunicorn worker and the Celery
worker's processes through PROMETHEUS_MULTIPROC_DIR (var/metrics, emptied at
start unless set).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from shared.config import REPO_ROOT, Settings, load_settings
from shared.migrate import upgrade
from shared.postgres import database_or_embedded, describe


GUNICORN_CONFIG = REPO_ROOT / "deploy" / "gunicorn.conf.py"


def _logs_and_metrics(settings: Settings, env: dict[str, str]) -> None:
    """Text logs on a terminal unless told; one metrics folder for gunicorn and the worker."""
    if not env.get("LOG_FORMAT"):
        env["LOG_FORMAT"] = "text" if sys.stderr.isatty() else "json"
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        env["PROMETHEUS_MULTIPROC_DIR"] = str(settings.var_dir / "metrics")
    from shared.metrics import clean_multiprocess_dir

    clean_multiprocess_dir(env["PROMETHEUS_MULTIPROC_DIR"])


def _kept_secret(path: Path, make: str) -> str:
    if path.exists():
        return path.read_text().strip()
    path.write_text(make + "\n")
    path.chmod(0o600)
    return make


def _bootstrap_credentials(settings: Settings, env: dict[str, str]) -> tuple[str, str | None]:
    """The admin password and key to announce: from the environment or var/."""
    password = settings.bootstrap_admin_password or _kept_secret(
        settings.var_dir / "admin_password", secrets.token_urlsafe(12))
    key = settings.bootstrap_admin_api_key or _kept_secret(
        settings.var_dir / "admin_api_key", "cfk_" + secrets.token_urlsafe(32))
    env["BOOTSTRAP_ADMIN_PASSWORD"] = password
    env["BOOTSTRAP_ADMIN_API_KEY"] = key
    return password, key


def gunicorn_command(host: str, port: int, environ: Mapping[str, str] = os.environ) -> list[str]:
    # A worker a core (the GIL lets one run Python at a time anyway) and many threads
    # each: a request mostly waits (for the database, or for the donation poster, which
    # posts all that wait in one transaction: the more wait together, the fewer commits).
    workers = int(environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
    threads = int(environ.get("WEB_THREADS") or 32)
    # No access log: each service logs a line per request (route, status, duration, request id).
    return [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG), "--bind", f"{host}:{port}",
            "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
            "--graceful-timeout", "10", "services.gateway:create_gateway()"]


def worker_command(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The reports worker with beat in one process: enough for one machine."""
    concurrency = environ.get("REPORT_WORKERS") or "2"
    return [sys.executable, "-m", "celery", "-A", "services.reports.worker", "worker", "--beat",
            "--loglevel", "INFO", "--concurrency", concurrency]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the charity fund ledger.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument("--demo", action="store_true", help="load the demonstration (scripts/demo.py) once serving")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env["PORT"] = str(args.port)
    settings = load_settings(environ=env)
    env["SECRET_KEY"] = settings.secret_key  # the same key in every process
    pg_dir = settings.var_dir / "pg"
    database = (f"PostgreSQL at {describe(settings.database_url)}" if settings.database_url
                else f"embedded PostgreSQL under {pg_dir}")
    # An embedded server stops (after gunicorn) when this block ends, also on errors.
    with database_or_embedded(settings.database_url, pg_dir) as url:
        env["DATABASE_URL"] = url
        settings = load_settings(environ=env)
        upgrade(url, secret_key=settings.secret_key, database_role_prefix=settings.database_role_prefix)
        return serve(settings, env, args.host, args.port, database, demo=args.demo)


def serve(settings: Settings, env: dict[str, str], host: str, port: int, database: str, *,
          demo: bool = False) -> int:
    """Run gunicorn until Ctrl-C (or until it stops); its exit status. With `demo`, the
    demonstration is loaded through the API once the server answers."""
    password, key = _bootstrap_credentials(settings, env)
    _logs_and_metrics(settings, env)
    children = [subprocess.Popen(gunicorn_command(host, port, env), env=env),
                subprocess.Popen(worker_command(env), env=env)]

    base = f"http://{host}:{port}"
    mail = settings.smtp_url or f"written as .eml files under {settings.var_dir / 'mail'}"
    print(f"""
  Charity fund ledger on {base}  ({database})
    web:   {base}/funds/login   user: admin   password: {password}
    API:   {base}/funds/docs  {base}/donations/docs  {base}/reports/docs  {base}/programmes/docs
           Authorization: Bearer {key}
    reports: {base}/reports/   emails: {mail}
    programmes: {base}/programmes/   public: {base}/programmes/public/
  Ctrl-C stops everything.
""", flush=True)
    if demo:
        # Beside the server, not one of the children whose end stops everything: it ends when loaded.
        threading.Thread(target=subprocess.run, daemon=True, kwargs={"env": env, "args": [
            sys.executable, str(REPO_ROOT / "scripts" / "demo.py"), "--url", base, "--wait", "120"]}).start()

    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    status = 0
    while children:
        for child in list(children):
            code = child.poll()
            if code is not None:
                children.remove(child)
                status = status or code
                if not stopping:
                    stop(signal.SIGTERM, None)
        time.sleep(0.2)
    return 0 if stopping else status


if __name__ == "__main__":
    sys.exit(main())
