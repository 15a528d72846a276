"""How one service calls another's internal API.

Behind the gateway the peers live in the same process and are called through
WSGI directly; standalone, over HTTP at `<SERVICE>_URL` (default: the gateway
address). Either way the call carries the internal token and the id of the
request (or task) it is made for, as X-Request-Id.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from flask import Flask, current_app

from shared.auth import internal_token
from shared.config import Settings
from shared.errors import Problem
from shared.logs import current_request_id

log = logging.getLogger(__name__)


def _request_id_header(request: httpx.Request) -> None:
    """Every call to a peer carries the id of the request (or task) it is made for."""
    request_id = current_request_id()
    if request_id:
        request.headers["X-Request-Id"] = request_id


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
                                      base_url=f"http://{service}.internal", headers=headers,
                                      event_hooks={"request": [_request_id_header]})
            else:
                base = self.settings.peer_urls.get(service) or f"{self.settings.public_url}/{service}"
                client = httpx.Client(base_url=base, headers=headers, timeout=5.0,
                                      event_hooks={"request": [_request_id_header]})
            self._clients[service] = client
        return client

    def request(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client(service).request(method, path, **kwargs)
        except httpx.HTTPError as error:
            log.warning("%s %s on the %s service: %s", method, path, service, error)
            raise Problem.of(service) from error
        if response.status_code >= 500 or response.status_code in (401, 403):
            log.warning("%s %s on the %s service answered %s", method, path, service, response.status_code)
            raise Problem.of(service)
        return response

    def answer(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        """The peer's answer (200) as JSON, or None if it has no such thing (404). A refusal
        of the peer's (409) is raised again as it gave it; anything else is the peer failing."""
        response = self.request(service, method, path, **kwargs)
        if response.status_code == 200:
            return response.json()
        if response.status_code == 404:
            return None
        if response.status_code == 409:
            raise Problem.relayed(service, response.json())
        raise Problem.of(service)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def peers() -> Peers:
    return current_app.extensions["peers"]  # type: ignore[no-any-return]
