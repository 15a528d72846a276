"""PostgreSQL is the only database: found, or started embedded, or refused plainly."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import NoDatabase
from shared.postgres import server_answers
from tests.conftest import SECRET_KEY


def test_a_service_given_no_database_refuses_to_start(tmp_path: Path):
    from services.funds import create_app

    with pytest.raises(NoDatabase) as error:
        create_app({"DATABASE_URL": "", "VAR_DIR": str(tmp_path), "SECRET_KEY": SECRET_KEY})
    assert "make run" in str(error.value) and "DATABASE_URL" in str(error.value)


def test_an_unreachable_server_does_not_answer(database_url: str):
    assert server_answers(database_url)
    assert not server_answers("postgresql+psycopg://postgres@127.0.0.1:9/postgres", timeout=1)
