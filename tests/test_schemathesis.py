"""Every operation of every service, fuzzed from its own OpenAPI document by schemathesis over
real HTTP (valid and invalid requests alike, with an admin key): no server error, and every
answer conforms to the document (status, content type, headers, body)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
)

from conftest import ADMIN_KEY, ApiClient, Factory
from reports_support import serve_over_http

from shared.config import SERVICES

# Per operation: about 2,000 requests a run, under a minute on two cores, the same examples every run.
# SCHEMATHESIS_EXAMPLES=200 explores further, with new examples each run.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "50"))
DERANDOMIZE = "SCHEMATHESIS_EXAMPLES" not in os.environ
# Past 20 wrong keys a minute from one address the answer is 429 (shared/throttle.py), which this check,
# sending a wrong key after each request, does not expect; 401 for a missing or wrong key is
# tested in test_openapi_documents.py and test_cross_service_auth.py.
# A request the document cannot call invalid may still be refused with a 422: a cursor this API did not
# give, an Idempotency-Key used before with another body, a fund that does not exist, a period to come.
EXCLUDED_CHECKS = [ignored_auth, positive_data_acceptance]
# A batch answers 200 with a result per row, `invalid` ones included: rows the document calls invalid
# are not refused as a whole (API.md).
EXCLUDED_FOR = {"createDonationBatch": [negative_data_rejection]}
# Revoking keys goes last: it may revoke a key the other operations' requests would have found.
LAST = ("revokeApiKey",)


@pytest.fixture
def live(gateway: Any, api: ApiClient, make: Factory) -> Iterator[str]:
    # Something to find: an organisation with a fund, a donation and a requested disbursement; a village
    # with a need, claimed in part.
    org = make.organization("铜陵市工商业联合会")
    fund = make.fund(org["id"], "TL-HQ-001")
    make.donation(fund["code"], "1000.00")
    answer = api.post("/donations/api/v1/disbursements", json={
        "fund_code": fund["code"], "amount": "10.00", "payee": "某村", "purpose": "修路"})
    assert answer.status_code == 201, answer.json
    village = api.post("/programmes/api/v1/villages", json={"name": "水村村", "township": "钟鸣镇"})
    assert village.status_code == 201, village.json
    need = api.post("/programmes/api/v1/needs", json={
        "village_id": village.json["id"], "title": "村道路灯", "category": "lighting", "amount": "20000.00",
        "due_on": "2099-06-30"})
    assert need.status_code == 201, need.json
    claim = api.post(f"/programmes/api/v1/needs/{need.json['id']}/claims", json={
        "amount": "5000.00", "organization_id": org["id"]})
    assert claim.status_code == 201, claim.json
    base_url, stop = serve_over_http(gateway)
    yield base_url
    stop()


def fuzz(operation: Any, statuses: list[int]) -> list[str]:
    """Run the operation's examples; what failed, one line each (empty when nothing did). The
    statuses answered are added to `statuses`."""
    failures: list[str] = []
    excluded = EXCLUDED_CHECKS + EXCLUDED_FOR.get(operation.definition.raw.get("operationId"), [])
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))

    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
                         suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
    @hypothesis.given(case=strategy)
    def run(case: Any) -> None:
        try:
            statuses.append(case.call_and_validate(excluded_checks=excluded, timeout=30).status_code)
        except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - every failure is reported
            failures.append(f"{operation.label}: {str(failure).strip()[:2000]}")

    run()
    return failures


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_as_its_document_says(live: str, service: str) -> None:
    # The key as the documents' security scheme: schemathesis then knows a request it makes without it
    # is refused for that alone.
    config = SchemathesisConfig.from_dict({"auth": {"openapi": {"ApiKey": {"bearer": ADMIN_KEY}}}})
    schema = schemathesis.openapi.from_url(f"{live}/{service}/openapi.json", config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: op.definition.raw.get("operationId") in LAST)
    assert len(operations) >= 10
    answered: dict[str, list[int]] = {operation.label: [] for operation in operations}
    failures = [failure for operation in operations for failure in fuzz(operation, answered[operation.label])]
    assert not failures, "\n\n".join(dict.fromkeys(failures))
    # The key was used (only the requests made without it on purpose are 401): most operations were
    # answered with success at least once, and each got past authentication.
    succeeded = [label for label, statuses in answered.items() if any(200 <= s < 300 for s in statuses)]
    assert len(succeeded) >= len(operations) // 2, answered
    assert all(set(statuses) - {401} for statuses in answered.values()), answered


@pytest.mark.parametrize("path", ["/reports/api/v1/reports/{id}", "/reports/api/v1/reports/{id}/log",
                                  "/reports/api/v1/reports/{id}/files/pdf", "/donations/api/v1/donations/{id}",
                                  "/funds/api/v1/organizations/{id}", "/programmes/api/v1/villages/{id}",
                                  "/programmes/api/v1/needs/{id}", "/programmes/api/v1/claims/{id}"])
def test_an_id_no_row_can_have_is_not_found(api: ApiClient, path: str) -> None:
    for number in (0, 2**31, 2**63, 10**30):
        answer = api.get(path.format(id=number))
        assert answer.status_code == 404, (number, answer.json)
    assert api.delete(f"/reports/api/v1/subscriptions/{2**31}").status_code == 404


def test_an_export_of_an_organisation_that_does_not_exist_is_not_found(api: ApiClient) -> None:
    answer = api.get("/reports/api/v1/exports?period=2026-Q3&format=csv&organization_id=122079")
    assert answer.status_code == 404 and answer.json["code"] == "organization_not_found", answer.json
