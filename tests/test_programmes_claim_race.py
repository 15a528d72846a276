"""64 organisations claim the same need at once, through the real server: never over-pledged."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from tests.conftest import ADMIN_KEY, LiveServer

pytestmark = pytest.mark.slow

ORGANIZATIONS = 64
API = "/programmes/api/v1"


def test_64_organisations_claiming_one_need_at_once_never_over_pledge_it(live_server: LiveServer) -> None:
    base = live_server.base_url
    admin = httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    village = admin.post(f"{API}/villages", json={"name": "红旗村", "township": "钟鸣镇"}).json()
    # 35 street lights at 300.00 each: 10,500.00, claimed 64 times in shares of 300.00 to 900.00.
    need = admin.post(f"{API}/needs", json={"village_id": village["id"], "title": "路灯 35 盏", "category": "lighting",
                                            "amount": "10500.00", "due_on": "2027-06-30"})
    assert need.status_code == 201, need.text
    need_id = need.json()["id"]
    keys = []
    for n in range(ORGANIZATIONS):
        organization = admin.post("/funds/api/v1/organizations",
                                  json={"name": f"认领商会{n}", "kind": "chamber_of_commerce"}).json()
        issued = admin.post(f"/funds/api/v1/organizations/{organization['id']}/api-keys",
                            json={"name": "claims", "scopes": ["programmes:read", "programmes:write"]})
        keys.append((organization["id"], issued.json()["key"]))

    start = threading.Barrier(ORGANIZATIONS)
    answers: dict[int, httpx.Response] = {}
    lock = threading.Lock()

    def claim(n: int, key: str) -> None:
        with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:
            start.wait()
            response = client.post(f"{API}/needs/{need_id}/claims", json={"amount": f"{300 * (1 + n % 3)}.00"})
        with lock:
            answers[n] = response

    threads = [threading.Thread(target=claim, args=(n, key)) for n, (_, key) in enumerate(keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = Counter(response.status_code for response in answers.values())
    assert set(statuses) <= {201, 409}, {n: r.text for n, r in answers.items() if r.status_code not in (201, 409)}
    granted = [r.json() for r in answers.values() if r.status_code == 201]
    refused = [r.json() for r in answers.values() if r.status_code == 409]
    assert {problem["code"] for problem in refused} <= {"claim_exceeds_open"}
    pledged_fen = sum(int(claim["amount"].replace(".", "")) for claim in granted)
    assert pledged_fen <= 1_050_000 and granted and refused
    shown = admin.get(f"{API}/needs/{need_id}").json()
    assert int(shown["pledged"].replace(".", "")) == pledged_fen
    assert int(shown["open"].replace(".", "")) == 1_050_000 - pledged_fen
    # Open only shrinks while nothing is withdrawn: whatever was refused is still more than what is open.
    open_fen = 1_050_000 - pledged_fen
    assert all(30_000 * (1 + n % 3) > open_fen for n, r in answers.items() if r.status_code == 409)
    recorded = admin.get(f"{API}/claims?limit=500").json()["items"]
    assert sorted(c["id"] for c in recorded) == sorted(c["id"] for c in granted)
