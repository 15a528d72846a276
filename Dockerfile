# One image for every service; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk fontconfig \
 && fc-cache -f && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN pip install . && useradd --system --home /app ledger && mkdir -p /app/var && chown ledger /app/var
USER ledger
ENV VAR_DIR=/app/var
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", \
     "--worker-class", "gthread", "services.funds:create_app()"]
