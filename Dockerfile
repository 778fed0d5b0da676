# syntax=docker/dockerfile:1
# Build stage: install the locked runtime dependencies (requirements.lock: no test tools) and
# Gaung into a virtual environment.
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
# The image's default command is `gaung serve`; compose gives the worker its own check.
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-m", "api.healthcheck", "serve", "8000"]
ENTRYPOINT ["gaung"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
