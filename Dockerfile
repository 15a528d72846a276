# One image for every service; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# postgresql-client: pg_dump and pg_restore of the major version docker-compose's
# PostgreSQL runs (15), for `python -m shared.backup`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk fontconfig postgresql-client-15 \
 && fc-cache -f && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN pip install . && useradd --system --home /app ledger \
 && mkdir -p /app/var/backups && chown -R ledger /app/var
USER ledger
# A container is production: a process refuses an unset, short or sample SECRET_KEY
# (shared/config.py) instead of making one of its own.
ENV VAR_DIR=/app/var LEDGER_ENV=production
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", \
     "--worker-class", "gthread", "services.funds:create_app()"]
