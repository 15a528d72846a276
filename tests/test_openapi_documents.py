"""The OpenAPI documents, as integrators read them to generate clients: what each
operation answers (problems, statuses, headers), its name, its rules, where it
is served, checked against what the running services really do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from werkzeug.test import Client

from conftest import ADMIN_KEY, ApiClient, Factory
from helpers import PROBLEM, assert_ok

from shared.config import SERVICES

METHODS = ("get", "post", "put", "patch", "delete")
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
# A value for each path parameter: names nothing, but routes.
PATH_VALUES = {"code": "NO-SUCH-FUND", "fmt": "pdf"}


def documents(gateway: Any) -> dict[str, dict[str, Any]]:
    client = Client(gateway)
    found = {}
    for service in SERVICES:
        response = client.get(f"/{service}/openapi.json")
        assert response.status_code == 200
        found[service] = response.json
    return found


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def deref(document: dict[str, Any], node: Any) -> Any:
    """`node` with its `$ref` followed (one level at a time, until none is left)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def fill(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: PATH_VALUES.get(m.group(1), "999999"), path)


def json_schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.0 schema as JSON Schema (nullable, refs into the document)."""

    def convert(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return convert(deref(document, node))
            out = {k: convert(v) for k, v in node.items() if k not in ("nullable", "example", "readOnly")}
            if node.get("nullable"):
                out = {"anyOf": [out, {"type": "null"}]}
            return out
        if isinstance(node, list):
            return [convert(item) for item in node]
        return node

    return convert(schema)  # type: ignore[no-any-return]


# -- 1. problems ------------------------------------------------------------------

def test_every_error_is_documented_as_the_problem_the_server_sends(gateway: Any) -> None:
    client = Client(gateway)
    for service, document in documents(gateway).items():
        schemas = document["components"]["schemas"]
        assert "Error" not in schemas and "PaginationMetadata" not in schemas, service
        problem = schemas["Problem"]
        assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
        assert {"errors", "codes", "params"} <= set(problem["properties"])
        for path, method, operation in operations(document):
            errors = {status: deref(document, response) for status, response in operation["responses"].items()
                      if status == "default" or int(status) >= 400}
            assert "default" in errors, (path, method)
            for status, response in errors.items():
                assert response["content"] == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}, \
                    (service, path, method, status)
        # What a refused request really answers is that document's Problem.
        answer = client.get(f"/{service}/api/v1/me")
        assert answer.status_code == 401 and answer.mimetype == PROBLEM
        jsonschema_rs.validate(json_schema(document, problem), answer.json)
        invalid = client.get(f"/{service}/api/v1/me", headers={"Authorization": "Bearer cfk_nope"})
        jsonschema_rs.validate(json_schema(document, problem), invalid.json)


def test_a_validation_problem_matches_the_document(api: ApiClient) -> None:
    document = assert_ok(api.get("/funds/openapi.json"))
    answer = api.post("/funds/api/v1/organizations", json={"name": "", "kind": "guild"})
    assert answer.status_code == 422
    jsonschema_rs.validate(json_schema(document, document["components"]["schemas"]["Problem"]), answer.json)
    assert set(answer.json["errors"]) == {"name", "kind"} == set(answer.json["codes"])


# -- 2. Idempotency-Key and the headers answers carry --------------------------------------

def honours_idempotency_key(client: Client, service: str, path: str, method: str) -> bool:
    """Whether the operation reads Idempotency-Key: one too long is refused, naming the header."""
    response = client.open(f"/{service}{fill(path)}", method=method.upper(),
                           headers={**ADMIN, "Idempotency-Key": "k" * 256}, json={})
    return response.status_code == 422 and "Idempotency-Key" in (response.json or {}).get("errors", {})


def test_idempotency_key_is_declared_exactly_where_it_is_honoured(gateway: Any) -> None:
    client = Client(gateway)
    declared_somewhere = 0
    for service, document in documents(gateway).items():
        for path, method, operation in operations(document):
            parameters = [deref(document, p) for p in operation.get("parameters", [])]
            header = [p for p in parameters if p["in"] == "header" and p["name"] == "Idempotency-Key"]
            honoured = method != "get" and honours_idempotency_key(client, service, path, method)
            assert bool(header) == honoured, (service, method, path)
            if header:
                declared_somewhere += 1
                (parameter,) = header
                assert parameter["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
                for rule in ("1-255", "422", "409", "24"):
                    assert rule in parameter["description"], rule
                assert {"409", "422"} <= set(operation["responses"])
                success = [r for s, r in operation["responses"].items() if s.startswith("2")]
                if "idempotency_secret_not_kept" not in operation["responses"]["409"]["description"]:
                    assert all("Idempotent-Replayed" in r["headers"] for r in success), (method, path)
    assert declared_somewhere >= 15


def test_a_replay_carries_the_documented_header(api: ApiClient, make: Factory) -> None:
    document = assert_ok(api.get("/funds/openapi.json"))
    created = document["paths"]["/api/v1/organizations"]["post"]["responses"]["201"]
    header = deref(document, created["headers"]["Idempotent-Replayed"])
    body = {"name": "铜陵市商会", "kind": "chamber_of_commerce"}
    first = api.post("/funds/api/v1/organizations", json=body, headers={"Idempotency-Key": "org-1"})
    again = api.post("/funds/api/v1/organizations", json=body, headers={"Idempotency-Key": "org-1"})
    assert first.status_code == again.status_code == 201 and first.json == again.json
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] in header["schema"]["enum"]
    assert "X-Request-Id" in created["headers"] and again.headers["X-Request-Id"]


def test_every_answer_documents_its_request_id(gateway: Any) -> None:
    for service, document in documents(gateway).items():
        for path, method, operation in operations(document):
            for status, response in operation["responses"].items():
                assert "X-Request-Id" in deref(document, response).get("headers", {}), (service, path, status)
        assert document["components"]["headers"]["X-Request-Id"]["schema"]["maxLength"] == 64


# -- 3. servers ----------------------------------------------------------------------

def test_documents_name_their_server_relative_to_the_mount_point(gateway: Any) -> None:
    client = Client(gateway)
    for service, document in documents(gateway).items():
        (server,) = document["servers"]
        assert server["url"] == f"/{service}"
        # Paths are relative to the server: joined, they are the contract's paths.
        assert all(path.startswith("/api/v1/") for path in document["paths"])
        me = client.get(server["url"] + "/api/v1/me", headers=ADMIN)
        assert me.status_code == 200, service
        # Swagger UI loads this very document relatively, so "Try it out" calls server + path.
        page = client.get(f"/{service}/docs").get_data(as_text=True)
        assert 'url: "openapi.json"' in page or "openapi.json" in page


def test_a_service_served_alone_at_the_root_names_the_root(app_config: dict[str, Any]) -> None:
    from services.funds import create_app

    app = create_app(app_config)
    try:
        client = Client(app)
        document = client.get("/openapi.json").json
        assert document["servers"][0]["url"] == "/"
        assert client.get("/api/v1/me", headers=ADMIN).status_code == 200
        prefixed = client.get("/openapi.json", base_url="http://localhost/ledger/funds").json
        assert prefixed["servers"][0]["url"] == "/ledger/funds"
    finally:
        app.extensions["peers"].close()
        app.extensions["database"].dispose()


# -- 4. statuses ------------------------------------------------------------------------

def test_each_operation_declares_the_statuses_it_can_answer_with(gateway: Any) -> None:
    for service, document in documents(gateway).items():
        for path, method, operation in operations(document):
            statuses = set(operation["responses"])
            where = (service, method, path)
            assert {"401", "429", "default"} <= statuses, where
            if method != "get" or path != "/api/v1/me":
                assert "403" in statuses, where
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= statuses, where
            if "{" in path:
                assert "404" in statuses, where
            if any(p.get("in") == "query" for p in operation.get("parameters", [])):
                assert "422" in statuses, where
            if service != "funds":
                assert "503" in statuses, where
            unauthorized = operation["responses"]["401"]
            assert "WWW-Authenticate" in unauthorized["headers"], where
            assert "Retry-After" in operation["responses"]["429"]["headers"], where
            if "503" in statuses:
                assert "Retry-After" in operation["responses"]["503"]["headers"], where
    funds = documents(gateway)["funds"]
    assert "fund_not_empty" in funds["paths"]["/api/v1/funds/{code}/close"]["post"]["responses"]["409"]["description"]


def test_a_refused_key_is_told_how_to_authenticate(gateway: Any) -> None:
    client = Client(gateway)
    for service in SERVICES:
        missing = client.get(f"/{service}/api/v1/me")
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"] == 'Bearer realm="charity-ledger"'
        wrong = client.get(f"/{service}/api/v1/me", headers={"Authorization": "Bearer cfk_wrong"})
        assert wrong.status_code == 401
        challenge = wrong.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="charity-ledger"') and 'error="invalid_token"' in challenge


def test_documented_statuses_are_the_ones_answered(api: ApiClient, make: Factory) -> None:
    """A sample of the declared errors, provoked: each answers a declared status with a problem."""
    document = assert_ok(api.get("/donations/openapi.json"))
    create = document["paths"]["/api/v1/donations"]["post"]["responses"]
    org = make.organization()
    reader = make.api_key(org["id"], ["donations:read"])
    answers = {
        400: api.post("/donations/api/v1/donations", data="{", headers={"Content-Type": "application/json"}),
        403: api.post("/donations/api/v1/donations", json={}, key=reader),
        415: api.post("/donations/api/v1/donations", data="x", headers={"Content-Type": "text/plain"}),
        422: api.post("/donations/api/v1/donations", json={"amount": "0.00"}),
    }
    for status, answer in answers.items():
        assert answer.status_code == status and answer.mimetype == PROBLEM, (status, answer.json)
        assert str(status) in create
        assert answer.json["code"] in create[str(status)]["description"], (status, answer.json["code"])


# -- 5. required and nullable --------------------------------------------------------------

# Fields an answer carries only sometimes (a report's summary is kept as it was built: an older
# report's lacks the figures added since).
OPTIONAL = {("BatchRowResult", "donation"), ("BatchRowResult", "errors"), ("BatchRowResult", "codes"),
            ("Problem", "params"), ("Problem", "errors"), ("Problem", "codes"),
            ("ReportSummary", "programmes"), ("ReportSummary", "notes"),
            *((schema, field) for schema in ("ReportSummary", "FundFigures")
              for field in ("reversals_count", "restricted_total", "in_kind_total"))}


def answer_schemas(document: dict[str, Any]) -> set[str]:
    """The names of the schemas that describe answers (success or problem)."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in names:
                    names.add(name)
                    walk(document["components"]["schemas"][name])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for _, _, operation in operations(document):
        walk(operation["responses"])
    return names


def test_answers_mark_every_field_they_always_carry_as_required(gateway: Any) -> None:
    for service, document in documents(gateway).items():
        names = answer_schemas(document)
        assert {"Problem", "Principal"} <= names
        for name in names:
            schema = document["components"]["schemas"][name]
            required = set(schema.get("required", []))
            for field in schema["properties"]:
                if (name, field) not in OPTIONAL:
                    assert field in required, (service, name, field)
    donations = documents(gateway)["donations"]["components"]["schemas"]
    assert donations["Donation"]["properties"]["reference"]["nullable"] is True
    assert donations["Disbursement"]["properties"]["paid_on"]["nullable"] is True
    assert not donations["Donation"]["properties"]["amount"].get("nullable")


def test_the_caller_is_documented_as_answered(api: ApiClient) -> None:
    for service in SERVICES:
        document = assert_ok(api.get(f"/{service}/openapi.json"))
        schema = json_schema(document, document["components"]["schemas"]["Principal"])
        me = assert_ok(api.get(f"/{service}/api/v1/me"))
        jsonschema_rs.validate(schema, me)
        assert set(schema["required"]) == set(me) - {"session_token"}


# -- 6. the CSV batch ---------------------------------------------------------------------

def test_the_csv_batch_is_documented_with_its_columns(api: ApiClient, make: Factory) -> None:
    from services.donations.batch import CSV_COLUMNS, MAX_ROWS, OPTIONAL_COLUMNS

    document = assert_ok(api.get("/donations/openapi.json"))
    body = document["paths"]["/api/v1/donations/batch"]["post"]["requestBody"]
    csv = body["content"]["text/csv"]
    header, *rows = csv["example"].splitlines()
    assert header.split(",") == list(CSV_COLUMNS) and rows
    for column in CSV_COLUMNS:
        assert f"`{column}`" in csv["schema"]["description"], column
    for column in OPTIONAL_COLUMNS:
        assert f"`{column}` may be left out" in csv["schema"]["description"] \
            or f"`{column}`" in csv["schema"]["description"].split("may be left out")[0].rsplit(";", 1)[1]
    listed = body["content"]["application/json"]["schema"]
    assert listed["items"] == {"$ref": "#/components/schemas/DonationCreate"} and listed["maxItems"] == MAX_ROWS
    # The example, as documented, is a file the service takes.
    org = make.organization()
    fund = make.fund(org["id"], "TL-HQ-001")
    answer = api.post("/donations/api/v1/donations/batch", data=csv["example"].encode(),
                      headers={"Content-Type": "text/csv"})
    results = assert_ok(answer)["results"]
    assert [r["status"] for r in results] == ["recorded"] * len(rows)
    assert results[0]["donation"]["fund_code"] == fund["code"]


# -- 7. operationIds ----------------------------------------------------------------------

EXPECTED_IDS = {
    "funds": {"getMe", "listOrganizations", "createOrganization", "getOrganization", "updateOrganization",
              "listApiKeys", "createApiKey", "revokeApiKey", "listFunds", "createFund", "getFund", "updateFund",
              "freezeFund", "unfreezeFund", "closeFund"},
    "donations": {"getMe", "listDonations", "createDonation", "createDonationBatch", "getDonation",
                  "reverseDonation", "listDisbursements", "createDisbursement", "getDisbursement",
                  "approveDisbursement", "payDisbursement", "rejectDisbursement", "withdrawDisbursement",
                  "getDisbursementTimeline", "listDisbursementAttachments", "attachToDisbursement",
                  "getDisbursementAttachment", "getFundBalance",
                  "getFundStatement", "getTrialBalance", "listChainHeads", "verifyLedger"},
    "reports": {"getMe", "listReports", "createReport", "getReport", "getReportLog", "getReportFile",
                "listSubscriptions", "createSubscription", "deleteSubscription", "getLedgerExport"},
    # The programmes service grows (projects, teams, drives): at least these.
    "programmes": {"getMe", "listVillages", "createVillage", "getVillage", "listNeeds", "createNeed", "getNeed",
                   "closeNeed", "claimNeed", "listClaims", "getClaim"},
}


def test_every_operation_has_a_stable_readable_operation_id(gateway: Any) -> None:
    for service, document in documents(gateway).items():
        ids = [operation.get("operationId") for _, _, operation in operations(document)]
        assert all(isinstance(i, str) and re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)*", i) for i in ids), ids
        assert len(ids) == len(set(ids)), ids
        if service == "programmes":
            assert EXPECTED_IDS[service] <= set(ids), EXPECTED_IDS[service] - set(ids)
        else:
            assert set(ids) == EXPECTED_IDS[service], set(ids) ^ EXPECTED_IDS[service]


# -- 8. enums -------------------------------------------------------------------------

# Properties and parameters whose values are a closed set wherever they appear.
CLOSED = {"kind", "status", "channel", "category", "currency", "frequency", "format", "fmt", "role", "scopes",
          "trigger", "direction", "charity_kind", "from_status", "to_status"}


def enumerations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, name, schema) for every property and parameter named in CLOSED."""
    for name, schema in document["components"]["schemas"].items():
        for field, spec in schema.get("properties", {}).items():
            spec = spec.get("items", spec) if spec.get("type") == "array" else spec
            if field in CLOSED and spec.get("type") == "string":
                yield name, field, spec
    for path, method, operation in operations(document):
        item = document["paths"][path]
        for parameter in [*operation.get("parameters", []), *item.get("parameters", [])]:
            if parameter["name"] in CLOSED:
                yield f"{method} {path}", parameter["name"], parameter["schema"]


def test_every_closed_set_is_an_enum_from_the_rules_the_code_checks(gateway: Any) -> None:
    from services.donations.rules import (
        CHANNELS,
        DISBURSEMENT_CATEGORIES,
        DONATION_STATUSES,
        DONOR_KINDS,
    )
    from services.funds.rules import FUND_KINDS, ORGANIZATION_KINDS
    from services.reports.rules import EXPORT_FORMATS, FILE_FORMATS, RUN_STATES
    from shared.auth import ROLES, SCOPES
    from shared.periods import FREQUENCIES

    docs = documents(gateway)
    for service, document in docs.items():
        for where, name, schema in enumerations(document):
            assert "enum" in schema, (service, where, name)
    funds, donations, reports = (docs[s]["components"]["schemas"] for s in ("funds", "donations", "reports"))
    assert funds["ApiKeyCreate"]["properties"]["scopes"]["items"]["enum"] == list(SCOPES)
    assert funds["Principal"]["properties"]["scopes"]["items"]["enum"] == list(SCOPES)
    assert funds["Principal"]["properties"]["role"]["enum"] == [*ROLES, None]
    assert funds["OrganizationCreate"]["properties"]["kind"]["enum"] == list(ORGANIZATION_KINDS)
    assert funds["Fund"]["properties"]["kind"]["enum"] == list(FUND_KINDS)
    assert donations["DonationCreate"]["properties"]["channel"]["enum"] == list(CHANNELS)
    assert donations["Donation"]["properties"]["channel"]["enum"] == list(CHANNELS)
    assert donations["Donor"]["properties"]["kind"]["enum"] == list(DONOR_KINDS)
    assert donations["Donation"]["properties"]["status"]["enum"] == list(DONATION_STATUSES)
    assert donations["Disbursement"]["properties"]["category"]["enum"] == list(DISBURSEMENT_CATEGORIES)
    assert reports["Report"]["properties"]["status"]["enum"] == list(RUN_STATES)
    assert reports["SubscriptionCreate"]["properties"]["frequency"]["enum"] == list(FREQUENCIES)
    export = {p["name"]: p for p in docs["reports"]["paths"]["/api/v1/exports"]["get"]["parameters"]}
    assert export["format"]["schema"]["enum"] == list(EXPORT_FORMATS)
    files = docs["reports"]["paths"]["/api/v1/reports/{report_id}/files/{fmt}"]["parameters"]
    assert [p["schema"]["enum"] for p in files if p["name"] == "fmt"] == [list(FILE_FORMATS)]


# -- 9. money -------------------------------------------------------------------------

def amount_properties(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    money = re.compile(r"amount|balance|debit|credit|debits|credits|available|cash|goods")
    for name, schema in document["components"]["schemas"].items():
        for field, spec in schema.get("properties", {}).items():
            if money.search(field) and spec.get("type") == "string" and "words" not in field:
                yield name, field, spec


def test_amounts_have_one_pattern_in_and_one_out(gateway: Any) -> None:
    from shared.schemas import AMOUNT_IN_PATTERN, AMOUNT_OUT_PATTERN

    found = {"in": 0, "out": 0}
    for service, document in documents(gateway).items():
        answers = answer_schemas(document)
        for name, field, spec in amount_properties(document):
            expected = AMOUNT_OUT_PATTERN if name in answers else AMOUNT_IN_PATTERN
            assert spec["pattern"] == expected, (service, name, field)
            found["out" if name in answers else "in"] += 1
    assert found["in"] >= 2 and found["out"] >= 10


@pytest.mark.parametrize("text", ["0.01", "0.10", "1.00", "1280.00", "999999999.99", "1000000000.00",
                                  "0.00", "-1.00", "1000000000.01", "1000000001.00", "9999999999.99", "01.00",
                                  "1.0", "1.000", "1e3", " 1.00", "１.00"])
def test_the_input_pattern_accepts_exactly_the_amounts_the_api_does(text: str) -> None:
    from shared.schemas import AMOUNT_IN_PATTERN
    from shared.shapes import Amount, Refusal

    try:
        Amount().check(text)
        accepted = True
    except Refusal:
        accepted = False
    assert bool(re.search(AMOUNT_IN_PATTERN, text)) == accepted


@pytest.mark.parametrize("fen", [0, 5, -1250, 128000, 1234567890100])
def test_the_output_pattern_matches_what_money_writes(fen: int) -> None:
    from shared.money import Money
    from shared.schemas import AMOUNT_OUT_PATTERN

    assert re.search(AMOUNT_OUT_PATTERN, str(Money(fen)))
    assert not re.search(AMOUNT_OUT_PATTERN, "1280.0") and not re.search(AMOUNT_OUT_PATTERN, "-0")


# -- 10. limits and conventions ---------------------------------------------------------

def test_inputs_document_their_limits(gateway: Any) -> None:
    for service, document in documents(gateway).items():
        answers = answer_schemas(document)
        for name, schema in document["components"]["schemas"].items():
            if name in answers:
                continue
            for field, spec in schema.get("properties", {}).items():
                if spec.get("type") == "string" and "enum" not in spec and "format" not in spec:
                    assert "maxLength" in spec or "pattern" in spec, (service, name, field)
                if spec.get("type") == "integer":
                    assert {"minimum", "maximum"} <= set(spec), (service, name, field)
                if field in ("received_on", "paid_on", "opened_on"):
                    assert spec["format"] == "date", (service, name, field)
        for path, method, operation in operations(document):
            for parameter in operation.get("parameters", []):
                parameter = deref(document, parameter)
                if parameter["name"] == "limit":
                    assert (parameter["schema"]["minimum"], parameter["schema"]["maximum"]) == (1, 500)
                    assert parameter["schema"]["default"] == 50
                if parameter["name"] in ("from", "to", "as_of"):
                    assert parameter["schema"]["format"] == "date"
        for name in answers:
            items = document["components"]["schemas"][name].get("properties", {}).get("items")
            if items and "next_cursor" in document["components"]["schemas"][name]["properties"]:
                assert items["maxItems"] == 500, (service, name)
    donations = documents(gateway)["donations"]["components"]["schemas"]
    assert "2000-01-01" in donations["DonationCreate"]["properties"]["received_on"]["description"]


def test_each_document_states_the_contracts_conventions(gateway: Any) -> None:
    for service, document in documents(gateway).items():
        description = document["info"]["description"]
        for words in ("Authorization: Bearer", "application/problem+json", "Idempotency-Key", "next_cursor",
                      "two decimals", "Asia/Shanghai", "ISO 8601", "`code`", "1-500"):
            assert words in description, (service, words)
