"""How one service calls another's internal API.

Behind the gateway the peers live in the same process and are called through
WSGI directly; standalone, over HTTP at `<SERVICE>_URL` (default: the gateway
address). Either way the call carries the internal token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from flask import Flask, current_app

from shared.auth import FundInfo, Principal, TTLCache, hash_api_key, internal_token
from shared.config import Settings
from shared.errors import ServiceUnavailable


class Peers:
    """Clients for the other services, one per service, made on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local: dict[str, Flask] = {}
        self._clients: dict[str, httpx.Client] = {}

    def wire_local(self, service: str, app: Flask) -> None:
        """Call `service` in this process (the gateway does this)."""
        self._local[service] = app
        self._clients.pop(service, None)

    def client(self, service: str) -> httpx.Client:
        client = self._clients.get(service)
        if client is None:
            headers = {"X-Internal-Token": internal_token(self.settings.secret_key)}
            local = self._local.get(service)
            if local is not None:
                client = httpx.Client(transport=httpx.WSGITransport(app=local, script_name=f"/{service}"),
                                      base_url=f"http://{service}.internal", headers=headers)
            else:
                base = self.settings.peer_urls.get(service) or f"{self.settings.public_url}/{service}"
                client = httpx.Client(base_url=base, headers=headers, timeout=5.0)
            self._clients[service] = client
        return client

    def request(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client(service).request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ServiceUnavailable(f"The {service} service cannot be reached: {error}") from error
        if response.status_code >= 500 or response.status_code in (401, 403):
            raise ServiceUnavailable(
                f"The {service} service answered {response.status_code} to {method} {path}.")
        return response

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def peers() -> Peers:
    return current_app.extensions["peers"]  # type: ignore[no-any-return]


class RemoteAuthority:
    """The funds service's word on keys, logins and funds, cached briefly."""

    def __init__(self, peers_: Peers, ttl: float) -> None:
        self.peers = peers_
        self.cache = TTLCache(ttl)

    def _get(self, path: str, **kwargs: Any) -> dict[str, Any] | None:
        response = self.peers.request("funds", "POST" if "json" in kwargs else "GET", path, **kwargs)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ServiceUnavailable(f"The funds service answered {response.status_code} to {path}.")
        return response.json()  # type: ignore[no-any-return]

    def principal_for_key(self, secret: str) -> Principal | None:
        key_hash = hash_api_key(secret)

        def load() -> Principal | None:
            data = self._get("/internal/v1/principals/key", json={"key_hash": key_hash})
            return None if data is None else Principal.from_json(data)

        return self.cache.get_or_load(("key", key_hash), load)

    def principal_for_session(self, user_id: int, session_token: str) -> Principal | None:
        def load() -> Principal | None:
            data = self._get("/internal/v1/principals/session",
                             json={"user_id": user_id, "session_token": session_token})
            return None if data is None else Principal.from_json(data)

        return self.cache.get_or_load(("session", user_id, session_token), load)

    def fund(self, code: str) -> FundInfo | None:
        def load() -> FundInfo | None:
            data = self._get(f"/internal/v1/funds/{quote(code, safe='')}")
            return None if data is None else FundInfo.from_json(data)

        return self.cache.get_or_load(("fund", code), load)
