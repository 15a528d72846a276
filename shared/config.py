"""Settings read from the environment when an application is created.

Nothing here runs at import time: `load_settings()` is called by each
application factory, so tests build apps with their own settings.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

SERVICES = ("funds", "donations", "reports", "programmes")

NO_DATABASE = ("DATABASE_URL is not set: start the ledger with `make run` (it runs an embedded "
               "PostgreSQL under var/pg), or set DATABASE_URL, e.g. "
               "DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ledger")


class NoDatabase(RuntimeError):
    """An application was asked to start without a database."""


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    # The database as its owner (migrations); None when DATABASE_URL is unset.
    # The services connect as their own roles (`service_database_url`).
    database_url: str | None
    celery_broker_url: str
    secret_key: str
    # The services' roles are `<prefix>_<service>`; None: the database's name.
    database_role_prefix: str | None = None
    bootstrap_admin_api_key: str | None = None
    bootstrap_admin_password: str | None = None
    # Where a service reaches its peers; None means "in this process" (the
    # gateway wires the peers directly) or, standalone, the default gateway.
    peer_urls: Mapping[str, str] = field(default_factory=dict)
    # How long another service may trust what the funds service said about a
    # key, a login or a fund: a revoked key or a disabled user is refused
    # within it. (A fund's status does not wait for it where money moves: the
    # ledger hears of a freeze before it commits.)
    auth_cache_seconds: float = 2.0
    public_url: str = "http://127.0.0.1:8000"
    # Where reports are emailed: smtp://[user:password@]host[:port] (smtps:// for TLS, ?starttls for
    # STARTTLS). None: written as .eml files under var/mail/ (the embedded default).
    smtp_url: str | None = None
    mail_from: str = "reports@charity-ledger.local"
    # A running report belongs to its worker for this long past its last sign of life; then
    # another worker takes it over.
    report_lease_seconds: float = 120.0
    # How often beat looks for due reports, stuck runs and unsent mail.
    schedule_every_seconds: float = 120.0
    # How long Redis waits before handing an unacknowledged task to another worker (a worker
    # killed mid-task): a little over a lease, so a report is taken over soon, not in an hour.
    broker_visibility_timeout: float = 300.0
    # Served over HTTPS (behind a TLS-terminating gateway): cookies only over HTTPS, and HSTS.
    https_only: bool = False
    # Where failed logins and bad keys are counted (shared/throttle.py).
    rate_limit_storage_url: str = "memory://"
    # Reads of the public pages and JSON from one address within a minute (shared/throttle.py).
    public_reads_per_minute: int = 120
    # How many proxies in front set X-Forwarded-For (the gateway in docker-compose: 1). 0: the
    # header is ignored, so nobody can choose the address their failed logins are counted under.
    trusted_proxies: int = 0
    # Logs: `json` (one JSON object a line, the default) or `text` (for a person at a terminal).
    log_format: str = "json"
    log_level: str = "INFO"
    # When set, GET /<service>/metrics asks for `Authorization: Bearer <METRICS_TOKEN>`.
    metrics_token: str | None = None
    # How long /readyz waits for each of its checks (database, Redis, each peer's /healthz).
    health_timeout_seconds: float = 1.5
    # When set, the Celery worker serves its own metrics (report runs) on this port.
    worker_metrics_port: int | None = None

    def service_database_url(self, service: str) -> str:
        """Where `service` connects: DATABASE_URL's database, as the service's own role."""
        from shared.postgres import service_database_url

        if self.database_url is None:
            raise NoDatabase(NO_DATABASE)
        return service_database_url(self.database_url, service, self.secret_key, self.database_role_prefix)


def _secret_key(var_dir: Path) -> str:
    """The SECRET_KEY kept under var/, created once with a random value.

    Several processes may start at once: the file is created exclusively and
    whoever loses the race reads the winner's key.
    """
    path = var_dir / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} exists but is empty")
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


# LEDGER_ENV=production (the Dockerfile's image, docker-compose): SECRET_KEY must be set, long and
# not a sample. Unset (`make run`, tests, benchmarks): an unset key is generated into var/.
PRODUCTION = "production"
MIN_SECRET_KEY_LENGTH = 32
# Values published with the project (.env.example, the test suite's) and the like.
SAMPLE_SECRET_KEYS = frozenset({
    "replace-me-with-python3-c-import-secrets-print-secrets-token-urlsafe-48",
    "test-secret-key-not-for-production",
})
SAMPLE_MARKERS = ("change-me", "changeme", "replace-me", "not-for-production", "example", "secret-key")


class InsecureSecretKey(SystemExit):
    """A production process started with an unset, short or sample SECRET_KEY. Exits with status 3
    (gunicorn's "worker failed to boot": the master stops instead of starting workers again)."""

    def __init__(self, reason: str) -> None:
        self.message = (f"refusing to start: SECRET_KEY {reason} (LEDGER_ENV=production); set it to a random "
                        f"value of at least {MIN_SECRET_KEY_LENGTH} characters, e.g. "
                        f"python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
        super().__init__(3)

    def __str__(self) -> str:
        return self.message


def _refuse_insecure_secret_key(key: str) -> None:
    """In production, stop with one line on stderr unless SECRET_KEY is fit for it."""
    lowered = key.strip().lower()
    if not lowered:
        reason = "is not set"
    elif lowered in SAMPLE_SECRET_KEYS or any(marker in lowered for marker in SAMPLE_MARKERS):
        reason = "is a sample value"
    elif len(key) < MIN_SECRET_KEY_LENGTH:
        reason = f"is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    elif len(set(key)) < 10:
        reason = "repeats too few characters to be random"
    else:
        return
    refusal = InsecureSecretKey(reason)
    print(refusal.message, file=sys.stderr, flush=True)
    raise refusal


def _rate_limit_storage(env: Mapping[str, Any]) -> str:
    """The broker's Redis when there is one (every process counts together), else this process's memory."""
    broker = env.get("CELERY_BROKER_URL") or ""
    return broker if broker.startswith(("redis://", "rediss://")) else "memory://"


def log_format(env: Mapping[str, Any]) -> str:
    """LOG_FORMAT: json (the default) or text."""
    value = (env.get("LOG_FORMAT") or "json").strip().lower()
    if value not in ("json", "text"):
        raise ValueError(f"LOG_FORMAT must be json or text, not {value!r}")
    return value


def load_settings(overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, with `overrides` (same names) on top."""
    env: dict[str, Any] = dict(os.environ if environ is None else environ)
    env.update(overrides or {})

    if (env.get("LEDGER_ENV") or "").strip().lower() == PRODUCTION:
        _refuse_insecure_secret_key(env.get("SECRET_KEY") or "")
    var_dir = Path(env.get("VAR_DIR") or REPO_ROOT / "var").resolve()
    var_dir.mkdir(parents=True, exist_ok=True)

    peer_urls = {
        name: env[f"{name.upper()}_URL"].rstrip("/")
        for name in SERVICES
        if env.get(f"{name.upper()}_URL")
    }
    return Settings(
        var_dir=var_dir,
        database_url=env.get("DATABASE_URL") or None,
        database_role_prefix=env.get("DATABASE_ROLE_PREFIX") or None,
        celery_broker_url=env.get("CELERY_BROKER_URL") or "filesystem://",
        secret_key=env.get("SECRET_KEY") or _secret_key(var_dir),
        bootstrap_admin_api_key=env.get("BOOTSTRAP_ADMIN_API_KEY") or None,
        bootstrap_admin_password=env.get("BOOTSTRAP_ADMIN_PASSWORD") or None,
        peer_urls=peer_urls,
        auth_cache_seconds=float(env.get("AUTH_CACHE_SECONDS") or 2.0),
        smtp_url=env.get("SMTP_URL") or None,
        mail_from=env.get("MAIL_FROM") or "reports@charity-ledger.local",
        report_lease_seconds=float(env.get("REPORT_LEASE_SECONDS") or 120.0),
        schedule_every_seconds=float(env.get("SCHEDULE_EVERY_SECONDS") or 120.0),
        broker_visibility_timeout=float(env.get("BROKER_VISIBILITY_TIMEOUT") or 300.0),
        https_only=(env.get("HTTPS_ONLY") or "").lower() in ("1", "true", "yes", "on"),
        rate_limit_storage_url=env.get("RATE_LIMIT_STORAGE_URL") or _rate_limit_storage(env),
        trusted_proxies=int(env.get("TRUSTED_PROXIES") or 0),
        public_reads_per_minute=int(env.get("PUBLIC_READS_PER_MINUTE") or 120),
        log_format=log_format(env),
        log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        metrics_token=env.get("METRICS_TOKEN") or None,
        health_timeout_seconds=float(env.get("HEALTH_TIMEOUT_SECONDS") or 1.5),
        worker_metrics_port=int(env["WORKER_METRICS_PORT"]) if env.get("WORKER_METRICS_PORT") else None,
        public_url=(env.get("PUBLIC_URL") or f"http://127.0.0.1:{env.get('PORT') or 8000}").rstrip("/"),
    )

