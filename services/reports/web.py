"""The reports service's web pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from shared.auth import login_required_for

bp = Blueprint("web", __name__)


@bp.get("/")
@login_required_for("reports:read")
def home() -> Any:
    return render_template("reports/home.html")
