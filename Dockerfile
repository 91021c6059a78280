# Gatewayz: one HTTP gateway in front of every AI inference provider.
# Build: docker build -t gatewayz .   Run with PostgreSQL, Redis, Prometheus and Grafana:
# docker compose -f deploy/compose.yaml up (see docs/deployment.md).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip install --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAYZ_HOST=0.0.0.0 \
    GATEWAYZ_PORT=8000 \
    GATEWAYZ_DATABASE_URL=sqlite+aiosqlite:////data/gatewayz.db \
    GATEWAYZ_SECRET_FILE=/data/gatewayz.secret \
    GATEWAYZ_LOG_FORMAT=json
# GATEWAYZ_SECRET, GATEWAYZ_DATABASE_URL and GATEWAYZ_REDIS_URL are meant to be set at run time.
RUN groupadd --system --gid 10001 gatewayz \
    && useradd --system --uid 10001 --gid gatewayz --home-dir /data --create-home gatewayz
COPY --from=build /install /usr/local
USER gatewayz
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('GATEWAYZ_PORT', '8000')}/health\", timeout=4)"]
ENTRYPOINT ["gatewayz"]
CMD ["serve", "--host", "0.0.0.0"]
