"""Prometheus metrics for ``GET /metrics`` (prometheus-client; names in docs/operations.md).

Two sources: the database, read at each scrape (deliveries by status, queue depth, taps,
inbox lag, flood waits, live workers: shared by every process), and this process's own
request timings (webhook and API latency), measured by a plain ASGI wrapper that costs a few
microseconds a request. Each app has its own registry, so tests can build many apps.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.engine import session_scope
from db.reporting.operations import operations
from db.types import utcnow

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def per_label(
    family: type[GaugeMetricFamily | CounterMetricFamily],
    name: str,
    documentation: str,
    values: Mapping[str, float],
    *,
    label: str = "channel",
) -> Metric:
    """A family with one label (the channel, by default), one sample per key, in key order."""
    metric = family(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        metric.add_metric([key], value)
    return metric


class DatabaseCollector(Collector):
    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("gaung_database_up", "1 when the database answered this scrape")
        engine = getattr(self.app.state, "engine", None)
        try:
            if engine is None:
                raise RuntimeError("not started")
            with session_scope(engine, readonly=True) as session:
                ops = operations(session, now=utcnow())
        except Exception:  # a scrape must answer even while the database is away
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        deliveries = GaugeMetricFamily(
            "gaung_deliveries", "Deliveries by channel and status", labels=["channel", "status"]
        )
        sent = CounterMetricFamily(
            "gaung_messages_sent",
            "Deliveries the channel accepted (rate() = send rate)",
            labels=["channel"],
        )
        for (channel, status), count in sorted(ops.deliveries.items()):
            deliveries.add_metric([channel, status], count)
            if status == "sent":
                sent.add_metric([channel], count)
        yield deliveries
        yield sent
        yield per_label(
            GaugeMetricFamily, "gaung_queue_depth", "Pending deliveries due now", ops.due
        )
        yield per_label(
            CounterMetricFamily, "gaung_taps", "Like/Share taps recorded", ops.taps, label="kind"
        )
        yield per_label(
            GaugeMetricFamily,
            "gaung_flood_wait_seconds",
            "Seconds left of a channel's flood wait (429)",
            ops.flood_wait,
        )
        yield per_label(
            GaugeMetricFamily,
            "gaung_inbox_lag_seconds",
            "Age of the oldest stored, unhandled update",
            ops.inbox_lag,
        )
        yield per_label(
            GaugeMetricFamily,
            "gaung_inbox_unhandled",
            "Stored updates not handled yet",
            ops.inbox_unhandled,
        )
        workers = GaugeMetricFamily("gaung_workers_live", "Delivery workers alive")
        workers.add_metric([], ops.workers)
        yield workers
        up_channels = GaugeMetricFamily(
            "gaung_channel_up", "1 ok, 0.5 degraded, 0 down (as /healthz)", labels=["channel"]
        )
        for name in ("telegram", "whatsapp"):
            service = getattr(self.app.state, name, None)
            if service is not None:
                up_channels.add_metric([name], {"ok": 1.0, "degraded": 0.5}.get(service.health, 0))
        yield up_channels


class Metrics:
    def __init__(self, app: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.latency = Histogram(
            "gaung_http_request_duration_seconds",
            "Time to answer a request, by route (webhooks and API)",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(DatabaseCollector(app))


class LatencyMiddleware:
    """Times each HTTP request by its route template (never the raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "other"
            if path != "/metrics":
                self.metrics.latency.labels(
                    path, scope.get("method", ""), f"{status[0] // 100}xx"
                ).observe(time.perf_counter() - began)
