from __future__ import annotations

from sqlmodel import Session

from db.delivery.inbox import mark_handled, store_updates, unhandled


def test_each_update_is_new_once_and_only_payloads_wait_for_handling(session: Session) -> None:
    first = store_updates(
        session,
        "telegram",
        [("1", {"update_id": 1}), ("2", None), ("1", {"update_id": 1}), ("3", {"x": "y"})],
    )
    session.commit()
    assert first == {"1", "2", "3"}
    # Redelivered, together with a new one; another channel has its own ids.
    assert store_updates(session, "telegram", [("2", None), ("3", {}), ("4", None)]) == {"4"}
    assert store_updates(session, "whatsapp", [("1", {"id": "wamid"})]) == {"1"}
    session.commit()
    # "2" and "4" were handled in the transaction that stored them.
    assert sorted(unhandled(session, "telegram")) == [("1", {"update_id": 1}), ("3", {"x": "y"})]
    mark_handled(session, "telegram", "1")
    session.commit()
    assert [u for u, _ in unhandled(session, "telegram")] == ["3"]
    assert store_updates(session, "telegram", []) == set()
