"""``GET /api/v1/participation`` writes its JSON itself (issue 11: one validation, no second
pass in another worker thread). The answer must stay what the published model says, and the
WhatsApp billing beside it must keep the report's scope whether or not it names OPDs."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.schemas import ParticipationReport
from api.whatsapp_cost import participation_billing
from db.reporting.participation import participation
from db.reporting.window import resolve_window
from tests.api.conftest import app_settings, make_key
from tests.api.test_whatsapp_billing import seed

START, END = "2020-01-01", "2100-01-01"


def test_the_answer_is_the_published_model_with_billing_in_scope(
    client: TestClient, engine: Engine, database_url: str
) -> None:
    seed(engine)  # three billed WhatsApp templates to DINKES, nothing to DISDIK
    key = make_key(engine, "diskominfo")
    params = {"start": START, "end": END}

    answer = client.get("/api/v1/participation", headers=key, params=params)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    settings = app_settings(database_url)
    with Session(engine) as session:
        report = participation(session, resolve_window(START, END, settings.tz))
        assert report.opd_ids is None
        billing = participation_billing(session, report, settings)
    expected = ParticipationReport.of(report, settings.tz, billing).model_dump(mode="json")
    assert answer.json() == expected
    assert list(answer.json()) == list(ParticipationReport.model_fields)
    assert [row["kode"] for row in expected["opd"]] == ["DINKES", "DISDIK"]
    assert expected["whatsapp"]["template_messages"] == 3

    # Every OPD (no codes bound) bills what DINKES and DISDIK bill together.
    by_opd = [
        client.get("/api/v1/participation", headers=key, params=params | {"opd": kode}).json()
        for kode in ("DINKES", "DISDIK")
    ]
    assert [r["whatsapp"]["template_messages"] for r in by_opd] == [3, 0]
    assert [r["whatsapp"]["billed_messages"] for r in by_opd] == [3, 0]
    assert answer.json()["whatsapp"]["billed_messages"] == 3

    spec = client.get("/openapi.json").json()
    ok = spec["paths"]["/api/v1/participation"]["get"]["responses"]["200"]
    schema = ok["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ParticipationReport"}
