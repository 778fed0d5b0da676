# syntax=docker/dockerfile:1
# Build stage: install the locked dependencies and Gaung into a virtual environment.
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/gaung
COPY requirements.lock pyproject.toml README.md ./
RUN /opt/gaung/bin/pip install --require-hashes -r requirements.lock
COPY api ./api
COPY bot ./bot
COPY db ./db
RUN /opt/gaung/bin/pip install --no-deps .

# Runtime stage: only the environment, run as an unprivileged user.
FROM python:3.11-slim
RUN groupadd --system gaung && useradd --system --gid gaung --home /var/lib/gaung gaung \
    && mkdir -p /var/lib/gaung && chown gaung:gaung /var/lib/gaung
COPY --from=build /opt/gaung /opt/gaung
ENV PATH=/opt/gaung/bin:$PATH PYTHONUNBUFFERED=1 \
    GAUNG_DATABASE_URL=sqlite:////var/lib/gaung/gaung.db
WORKDIR /var/lib/gaung
USER gaung
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
ENTRYPOINT ["gaung"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
