"""The funds service answers for keys, logins and funds from its own tables."""

from __future__ import annotations

from sqlalchemy import select

from services.funds.commands import fund_info, key_principal, live_login_session, user_principal
from services.funds.models import ApiKey, Fund
from shared.auth import Principal, hash_api_key
from shared.contracts.funds import FundInfo, is_fund_code
from shared.db import Database


class LocalAuthority:
    """Reads fresh from the database on every call (no cache in this service)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def principal_for_key(self, secret: str) -> Principal | None:
        return self.principal_for_key_hash(hash_api_key(secret))

    def principal_for_key_hash(self, key_hash: str) -> Principal | None:
        key = self.database.session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
        if key is None or key.revoked_at is not None:
            return None
        return key_principal(key)

    def principal_for_session(self, user_id: int, session_token: str) -> Principal | None:
        user = live_login_session(self.database.session, user_id, session_token)
        if user is None:
            return None
        return user_principal(user, session_token.partition(".")[2])

    def fund(self, code: str) -> FundInfo | None:
        if not is_fund_code(code):
            return None
        fund = self.database.session.scalar(select(Fund).where(Fund.code == code))
        return None if fund is None else fund_info(fund)
