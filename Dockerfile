# The bot in a small image, running as an ordinary user. The same two commands as the
# README's: `python -m bot run` (the default) and the tests with `make test` from a checkout.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY broadcasts ./broadcasts
COPY data ./data
RUN pip install -e . && useradd --system --home /app --uid 10001 pingan \
    && mkdir -p /app/data/media && chown -R pingan /app/data

USER pingan
# SQLite (one instance) keeps its file here; with PostgreSQL only tip-off media go here.
VOLUME ["/app/data"]
EXPOSE 8443 8080

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "health"]

ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
