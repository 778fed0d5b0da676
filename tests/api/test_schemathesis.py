"""schemathesis against ``/openapi.json``: generated requests to every documented operation,
with a Diskominfo key and with an OPD key, must never get a 5xx, an undocumented status, or
a body that breaks the schema the API publishes.

Bounded: ``EXAMPLES`` cases per operation and key, so the run stays in seconds. The counts
of cases and findings are what bench/RESULTS.md records.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from db.accounts.apikeys import create_api_key
from db.delivery.confirmations import confirm
from db.delivery.outbox import mark_sent
from db.posts.lifecycle import approve_post, submit_post
from tests.api.conftest import app_settings
from tests.factories import add_asn, delivery_of, register

if TYPE_CHECKING:  # schemathesis itself is imported by the test alone, not by every worker
    import schemathesis
    from schemathesis import APIOperation

EXAMPLES = 15


def _seed(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        people = [add_asn(session, opd="DINKES"), add_asn(session, opd="DISDIK")]
        for asn in people:
            register(session, asn)
        post = submit_post(session, opd_kode="DINKES", url="https://www.instagram.com/p/uji/")
        assert post.id is not None
        approve_post(session, post.id)
        mark_sent(session, delivery_of(session, post.id, people[0]), "1")
        confirm(session, delivery_of(session, post.id, people[0]), "like")
        keys = {
            "diskominfo": create_api_key(session, role="diskominfo")[1],
            "opd": create_api_key(session, role="opd", opd_kode="DINKES")[1],
        }
        session.commit()
    return keys


class Tally:
    def __init__(self) -> None:
        self.cases = 0
        self.statuses: Counter[int] = Counter()

    def probe(self, operation: APIOperation, key: str) -> None:
        """Up to ``EXAMPLES`` generated requests to one operation with one key."""
        from schemathesis.checks import (
            content_type_conformance,
            not_a_server_error,
            response_schema_conformance,
            status_code_conformance,
        )

        headers = {"Authorization": f"Bearer {key}"}
        checks = [
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
        # Telegram's webhook answers Telegram's way (an empty 200, or a method call), not ours.
        checks = checks[:2] if operation.path.startswith("/webhook/") else checks

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            self.cases += 1
            self.statuses[response.status_code] += 1
            case.validate_response(response, checks=checks, headers=headers)

        run()


def test_generated_requests_never_break_the_published_schema(
    database_url: str, engine: Engine
) -> None:
    import schemathesis

    keys = _seed(engine)
    app = create_app(app_settings(database_url, telegram_webhook_secret="w" * 32))
    tally = Tally()
    with TestClient(app):  # runs the lifespan: the engine the routes use
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 12
        for operation in operations:
            for key in keys.values():
                tally.probe(operation, key)
    print(f"schemathesis: {len(operations)} operations, {tally.cases} cases, {tally.statuses}")
    assert tally.cases >= len(operations) and not any(code >= 500 for code in tally.statuses)
