# One image for every service; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# postgresql-client: pg_dump and pg_restore of the major version docker-compose's
# PostgreSQL runs (15), for `python -m shared.backup`; pango and harfbuzz: WeasyPrint's
# report PDFs; Noto CJK: their Chinese.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk fontconfig postgresql-client-15 \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
 && fc-cache -f && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY deploy/gunicorn.conf.py ./deploy/
RUN pip install . && useradd --system --home /app ledger \
 && mkdir -p /app/var/backups && chown -R ledger /app/var
USER ledger
# A container is production: a process refuses an unset, short or sample SECRET_KEY
# (shared/config.py) instead of making one of its own.
ENV VAR_DIR=/app/var LEDGER_ENV=production
EXPOSE 8000
CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", \
     "--worker-class", "gthread", "services.funds:create_app()"]
