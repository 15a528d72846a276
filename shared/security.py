"""Security headers on every answer, and cookies fit for HTTPS when served over it.

Pages run no inline script, so the Content-Security-Policy allows scripts from
the site only (styles may be inline: the pages carry their own). The browsable
API docs (Swagger UI) start with an inline script: only their page allows one.
Pages and API answers show money and people: nothing is cached.
"""

from __future__ import annotations

from flask import Flask, Response, request

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
# JSON, files: nothing in them may run or load anything.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
HSTS = "max-age=31536000; includeSubDomains"


def init_security_headers(app: Flask, *, https_only: bool) -> None:
    if https_only:
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if "Content-Security-Policy" not in headers:
            if request.path.rstrip("/").endswith("/docs"):
                headers["Content-Security-Policy"] = DOCS_POLICY
            elif response.mimetype == "text/html":
                headers["Content-Security-Policy"] = PAGE_POLICY
            else:
                headers["Content-Security-Policy"] = DATA_POLICY
        if "Cache-Control" not in headers and not _static(request.path):
            headers["Cache-Control"] = "no-store"
        if https_only:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response


def _static(path: str) -> bool:
    """Files that are the same for everyone (the docs' scripts and styles) may be cached."""
    return "/static/" in path or "/swagger-ui-assets/" in path
