"""``GET /api/v1/participation/trend`` against the hand-counted month in ``november.py``."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.conftest import make_key
from tests.api.november import seed_november

NOVEMBER = {"start": "2026-11-01", "end": "2026-12-01"}
DELIVERY_FIELDS = ("delivered", "liked", "shared", "participated")


def _counts(bucket: dict[str, Any]) -> tuple[int, ...]:
    return tuple(bucket[f] for f in DELIVERY_FIELDS)


def test_daily_buckets_follow_the_wib_date_of_approval(client: TestClient, engine: Engine) -> None:
    seed_november(engine)
    body = client.get(
        "/api/v1/participation/trend", params=NOVEMBER, headers=make_key(engine, "diskominfo")
    ).json()
    assert (body["start"], body["end"], body["interval"]) == (
        "2026-11-01T00:00:00+07:00",
        "2026-12-01T00:00:00+07:00",
        "day",
    )
    buckets = body["buckets"]
    assert [b["label"] for b in buckets][:3] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert len(buckets) == 30 and buckets[-1]["label"] == "2026-11-30"
    assert buckets[2]["start"] == "2026-11-03T00:00:00+07:00"
    assert buckets[2]["end"] == "2026-11-04T00:00:00+07:00"
    busy = {b["label"]: _counts(b) for b in buckets if b["delivered"]}
    # A was approved on 2 Nov in UTC but 3 Nov in WIB; C on 8 Nov UTC, 9 Nov WIB.
    assert busy == {
        "2026-11-03": (4, 2, 1, 2),
        "2026-11-08": (3, 1, 0, 1),
        "2026-11-09": (4, 0, 1, 1),
    }
    by_label = {b["label"]: b for b in buckets}
    assert by_label["2026-11-03"]["participation_rate"] == 0.5
    assert by_label["2026-11-09"]["participation_rate"] == 0.25
    assert by_label["2026-11-01"]["participation_rate"] == 0.0
    assert body["total"] == {
        "delivered": 11,
        "liked": 3,
        "shared": 2,
        "participated": 4,
        "participation_rate": 0.364,
    }


def test_weeks_start_on_monday_and_are_clipped_to_the_window(
    client: TestClient, engine: Engine
) -> None:
    seed_november(engine)
    body = client.get(
        "/api/v1/participation/trend",
        params=NOVEMBER | {"interval": "week"},
        headers=make_key(engine, "diskominfo"),
    ).json()
    assert [(b["label"], b["start"][:10], b["end"][:10], _counts(b)) for b in body["buckets"]] == [
        ("2026-W44", "2026-11-01", "2026-11-02", (0, 0, 0, 0)),  # Sunday 1 Nov only
        ("2026-W45", "2026-11-02", "2026-11-09", (7, 3, 1, 3)),  # A and B (Sun 23:00 WIB)
        ("2026-W46", "2026-11-09", "2026-11-16", (4, 0, 1, 1)),  # C (Mon 00:30 WIB)
        ("2026-W47", "2026-11-16", "2026-11-23", (0, 0, 0, 0)),
        ("2026-W48", "2026-11-23", "2026-11-30", (0, 0, 0, 0)),
        ("2026-W49", "2026-11-30", "2026-12-01", (0, 0, 0, 0)),  # Monday 30 Nov only
    ]
    assert body["buckets"][1]["participation_rate"] == 0.429


@pytest.mark.parametrize(
    ("params", "interval"),
    [
        (NOVEMBER, "day"),
        (NOVEMBER, "week"),
        ({"start": "2026-10-01", "end": "2026-11-09T00:15:00+07:00"}, "day"),
        ({"start": "2026-10-31T12:00:00+07:00", "end": "2026-11-09T00:30:00+07:00"}, "week"),
        ({"start": "2026-11-03", "opd": "DISDIK", "end": "2026-11-30"}, "week"),
    ],
)
def test_buckets_add_up_to_the_participation_total(
    client: TestClient, engine: Engine, params: dict[str, str], interval: str
) -> None:
    seed_november(engine)
    headers = make_key(engine, "diskominfo")
    table = client.get("/api/v1/participation", params=params, headers=headers).json()
    body = client.get(
        "/api/v1/participation/trend", params=params | {"interval": interval}, headers=headers
    ).json()
    sums = tuple(sum(b[f] for b in body["buckets"]) for f in DELIVERY_FIELDS)
    assert sums == _counts(table["total"]) == _counts(body["total"])
    assert body["total"]["participation_rate"] == table["total"]["participation_rate"]
    assert (body["start"], body["end"]) == (table["start"], table["end"])
    assert body["buckets"][0]["start"] == body["start"]
    assert body["buckets"][-1]["end"] == body["end"]
    assert all(a["end"] == b["start"] for a, b in pairwise(body["buckets"]))


def test_one_opd_and_opd_keys(client: TestClient, engine: Engine) -> None:
    seed_november(engine)
    admin = make_key(engine, "diskominfo")
    disdik = client.get(
        "/api/v1/participation/trend", params=NOVEMBER | {"opd": "disdik"}, headers=admin
    ).json()
    assert _counts(disdik["total"]) == (3, 1, 0, 1)

    opd_key = make_key(engine, "opd", "DISDIK")
    own = client.get("/api/v1/participation/trend", params=NOVEMBER, headers=opd_key)
    assert own.status_code == 200 and own.json() == disdik
    explicit = client.get(
        "/api/v1/participation/trend", params=NOVEMBER | {"opd": "DISDIK"}, headers=opd_key
    )
    assert explicit.json() == disdik
    other = client.get(
        "/api/v1/participation/trend", params=NOVEMBER | {"opd": "DINKES"}, headers=opd_key
    )
    assert other.status_code == 403
    assert other.json() == {"detail": "kunci OPD hanya boleh melihat OPD-nya sendiri"}
    assert client.get("/api/v1/participation/trend", params=NOVEMBER).status_code == 401


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"interval": "month"}, "interval 'month' tidak dikenal"),
        ({"interval": ""}, "pakai day (harian) atau week (mingguan)"),
        ({"start": "2026-12-01", "end": "2026-11-01"}, "start harus sebelum end"),
        ({"start": "kemarin"}, "start 'kemarin' tidak dikenali"),
        ({"end": "2026-02-30"}, "end '2026-02-30' tidak dikenali"),
        ({"opd": "TIDAKADA"}, "OPD dengan kode 'TIDAKADA' tidak dikenal"),
        (
            {"start": "2020-01-01", "end": "2026-01-01"},
            "rentang terlalu panjang untuk interval day",
        ),
    ],
)
def test_bad_requests_are_422_with_an_indonesian_reason(
    client: TestClient, engine: Engine, params: dict[str, str], fragment: str
) -> None:
    response = client.get(
        "/api/v1/participation/trend", params=params, headers=make_key(engine, "diskominfo")
    )
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def test_a_long_range_fits_in_weeks(client: TestClient, engine: Engine) -> None:
    response = client.get(
        "/api/v1/participation/trend",
        params={"start": "2020-01-01", "end": "2026-01-01", "interval": "week"},
        headers=make_key(engine, "diskominfo"),
    )
    assert response.status_code == 200 and len(response.json()["buckets"]) == 314


def test_trend_and_follow_up_are_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    trend = paths["/api/v1/participation/trend"]["get"]
    answer = trend["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/TrendReport"}
    fields = spec["components"]["schemas"]["TrendReport"]["properties"]
    assert fields["interval"]["examples"] == ["week"]
    assert {p["name"] for p in trend["parameters"]} == {"start", "end", "interval", "opd"}
    asn = paths["/api/v1/opd/{kode}/asn"]["get"]
    assert {p["name"] for p in asn["parameters"]} == {
        "kode",
        "participated",
        "start",
        "end",
        "page",
        "per_page",
    }
    assert not any(path.startswith("/dashboard") for path in paths)
