"""The funds service's web pages for fund managers and admins."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user

from services.funds import commands
from services.funds.forms import LoginForm
from shared.auth import login_required_for
from shared.db import db_session

bp = Blueprint("web", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only a local path: never send someone off-site after logging in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        user = commands.authenticate(db_session(), form.username.data or "", form.password.data or "")
        if user is None:
            form.password.errors.append("用户名或密码不正确，或账户已停用。")
        else:
            login_user(commands.user_principal(user))
            return redirect(_safe_next(request.args.get("next")) or url_for("web.fund_list"))
    status = 422 if form.errors else 200
    return render_template("funds/login.html", form=form), status


@bp.post("/logout")
def logout() -> Any:
    logout_user()
    flash("您已退出登录。", "info")
    return redirect(url_for("web.login"))


@bp.get("/")
@login_required_for("funds:read")
def fund_list() -> Any:
    return render_template("funds/fund_list.html", funds=list(db_session().scalars(
        commands.fund_query(_me()).limit(200))))


def _me() -> Any:
    from flask_login import current_user

    return current_user
