"""``GET /api/v1/opd/{kode}/asn``: who an OPD admin should follow up, from ``november.py``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.accounts.registration import erase_account
from db.models import Asn, ChatIdentity
from tests.api.conftest import make_key
from tests.api.november import seed_november

NOVEMBER = {"start": "2026-11-01", "end": "2026-12-01"}


def _people(body: dict[str, Any]) -> list[tuple[str, str, bool, int, int]]:
    return [
        (i["nama"], i["registration"], i["registered"], i["delivered"], i["participated"])
        for i in body["items"]
    ]


def test_who_did_not_take_part_registered_or_not(client: TestClient, engine: Engine) -> None:
    seed_november(engine)
    body = client.get(
        "/api/v1/opd/DINKES/asn", params=NOVEMBER, headers=make_key(engine, "opd", "DINKES")
    ).json()
    assert body["opd"] == {"kode": "DINKES", "nama": "Dinas DINKES"}
    assert (body["start"], body["end"], body["participated"]) == (
        "2026-11-01T00:00:00+07:00",
        "2026-12-01T00:00:00+07:00",
        False,
    )
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (4, 1, 50, 1)
    assert _people(body) == [
        ("Citra", "belum_terdaftar", False, 0, 0),
        ("Fajar", "tidak_terjangkau", False, 0, 0),
        ("Gita", "berhenti", False, 0, 0),
        ("Hadi", "terdaftar", True, 3, 0),
    ]
    assert all(len(i["nip"]) == 18 and "phone" not in i for i in body["items"])


def test_who_took_part_counts_only_sent_deliveries_in_the_window(
    client: TestClient, engine: Engine
) -> None:
    seed_november(engine)
    headers = make_key(engine, "diskominfo")
    body = client.get(
        "/api/v1/opd/dinkes/asn", params=NOVEMBER | {"participated": "true"}, headers=headers
    ).json()
    # Ahmad: A (like) and C (share) sent, B failed. Budi: A, B, C sent; tapped only A.
    assert _people(body) == [("Ahmad", "terdaftar", True, 2, 2), ("Budi", "terdaftar", True, 3, 1)]
    october = client.get(
        "/api/v1/opd/DINKES/asn",
        params={"start": "2026-10-01", "end": "2026-11-01", "participated": "true"},
        headers=headers,
    ).json()
    # Post D: everyone who received it liked it, Hadi included.
    assert [(i["nama"], i["delivered"]) for i in october["items"]] == [
        ("Ahmad", 1),
        ("Budi", 1),
        ("Hadi", 1),
    ]


def test_pages(client: TestClient, engine: Engine) -> None:
    seed_november(engine)
    headers = make_key(engine, "diskominfo")
    pages = [
        client.get(
            "/api/v1/opd/DINKES/asn",
            params=NOVEMBER | {"page": str(page), "per_page": "3"},
            headers=headers,
        ).json()
        for page in (1, 2, 3)
    ]
    assert [[i["nama"] for i in p["items"]] for p in pages] == [
        ["Citra", "Fajar", "Gita"],
        ["Hadi"],
        [],
    ]
    assert {(p["total"], p["pages"]) for p in pages} == {(4, 2)}


def test_opd_keys_see_only_their_own_people(client: TestClient, engine: Engine) -> None:
    seed_november(engine)
    disdik = make_key(engine, "opd", "DISDIK")
    own = client.get(
        "/api/v1/opd/DISDIK/asn", params=NOVEMBER | {"participated": "true"}, headers=disdik
    )
    assert [i["nama"] for i in own.json()["items"]] == ["Dewi"]
    other = client.get("/api/v1/opd/DINKES/asn", params=NOVEMBER, headers=disdik)
    assert other.status_code == 403
    assert other.json() == {"detail": "kunci OPD hanya boleh melihat OPD-nya sendiri"}
    unknown = client.get("/api/v1/opd/TIDAKADA/asn", headers=make_key(engine, "diskominfo"))
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "OPD dengan kode 'TIDAKADA' tidak dikenal"}
    assert client.get("/api/v1/opd/DISDIK/asn").status_code == 401


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"start": "2026-12-01", "end": "2026-11-01"}, "start harus sebelum end"),
        ({"start": "1 November"}, "start '1 November' tidak dikenali"),
        ({"participated": "mungkin"}, "participated"),
        ({"page": "0"}, "page"),
        ({"per_page": "501"}, "per_page"),
    ],
)
def test_bad_parameters_are_422(
    client: TestClient, engine: Engine, params: dict[str, str], fragment: str
) -> None:
    seed_november(engine)
    response = client.get(
        "/api/v1/opd/DINKES/asn", params=params, headers=make_key(engine, "diskominfo")
    )
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def test_an_erased_person_is_not_followed_up_and_the_figures_stay(
    client: TestClient, engine: Engine
) -> None:
    """Ahmad sends /hapus: no longer listed, with no history; November's figures unchanged."""
    seed_november(engine)
    headers = make_key(engine, "diskominfo")
    table_before = client.get("/api/v1/participation", params=NOVEMBER, headers=headers).json()
    with Session(engine) as session:
        ahmad = session.exec(select(Asn).where(Asn.nama == "Ahmad")).one()
        account = session.exec(select(ChatIdentity).where(ChatIdentity.asn_id == ahmad.id)).one()
        assert erase_account(session, account.channel, account.external_id)
        session.commit()
    for took_part in ("true", "false"):
        body = client.get(
            "/api/v1/opd/DINKES/asn",
            params=NOVEMBER | {"participated": took_part},
            headers=headers,
        ).json()
        assert "Ahmad" not in [i["nama"] for i in body["items"]]
    took_part_body = client.get(
        "/api/v1/opd/DINKES/asn", params=NOVEMBER | {"participated": "true"}, headers=headers
    ).json()
    assert _people(took_part_body) == [("Budi", "terdaftar", True, 3, 1)]
    table_after = client.get("/api/v1/participation", params=NOVEMBER, headers=headers).json()
    figures = ("delivered", "liked", "shared", "participated", "participation_rate")

    def participation_of(table: dict[str, Any]) -> list[list[object]]:
        return [[row[f] for f in figures] for row in [*table["opd"], table["total"]]]

    assert participation_of(table_after) == participation_of(table_before)
    # He is on the roster still, no longer registered.
    assert (table_after["total"]["asn_roster"], table_after["total"]["asn_registered"]) == (7, 3)
