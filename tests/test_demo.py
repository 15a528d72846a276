"""`make demo` loads the demonstration through the API of a running server; a second run adds nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from shared.config import REPO_ROOT
from tests.conftest import ADMIN_KEY, LiveServer

pytestmark = pytest.mark.slow

DEMO = REPO_ROOT / "scripts" / "demo.py"


def load(server: LiveServer, var_dir: str) -> str:
    """What the demo printed (how long it takes is measured by bench/programmes.py, not here)."""
    done = subprocess.run([sys.executable, str(DEMO), "--url", server.base_url], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "BOOTSTRAP_ADMIN_API_KEY": ADMIN_KEY, "VAR_DIR": var_dir})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def counts(base: str) -> dict[str, int]:
    admin = httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {ADMIN_KEY}"})

    def total(path: str) -> int:
        n, cursor = 0, None
        while True:
            page = admin.get(path, params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
            n += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return n

    return {path: total(path) for path in (
        "/funds/api/v1/organizations", "/funds/api/v1/funds", "/donations/api/v1/donations",
        "/donations/api/v1/disbursements", "/programmes/api/v1/villages", "/programmes/api/v1/needs",
        "/programmes/api/v1/claims", "/programmes/api/v1/projects", "/programmes/api/v1/teams",
        "/programmes/api/v1/drives")}


def test_the_demo_loads_once_and_a_second_run_adds_nothing(live_server: LiveServer, tmp_path: object) -> None:
    var_dir = str(live_server.log.parent)
    said = load(live_server, var_dir)
    assert "Demo loaded" in said and "/programmes/public/villages/" in said, said
    first = counts(live_server.base_url)
    assert first["/funds/api/v1/funds"] == 23 and first["/programmes/api/v1/villages"] == 30
    assert first["/donations/api/v1/donations"] >= 23 * 80
    assert first["/programmes/api/v1/needs"] >= 30 and first["/programmes/api/v1/claims"] > 0
    assert first["/donations/api/v1/disbursements"] > 0
    assert first["/programmes/api/v1/projects"] == 102 and first["/programmes/api/v1/teams"] == 24
    assert first["/programmes/api/v1/drives"] == 1
    admin = httpx.Client(base_url=live_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    budgets = [int(p["budget"].replace(".", "")) for p in admin.get("/programmes/api/v1/projects?limit=500").json()["items"]]
    assert all(1_000_000 <= fen <= 5_000_000 for fen in budgets) and 2_500_000_00 <= sum(budgets) <= 3_500_000_00
    drive = admin.get("/programmes/api/v1/drives").json()["items"][0]
    assert (drive["quantity"], drive["unit"], drive["unit_price"]) == ("1000", "5斤装一筐", "35.00")
    said = load(live_server, var_dir)
    assert "nothing new" in said, said
    assert counts(live_server.base_url) == first
