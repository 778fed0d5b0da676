"""One hand-countable month for the trend, follow-up and dashboard tests.

Times are WIB (UTC+7); three posts fall where the WIB date or ISO week differs from UTC's:

| post | approved (WIB)       | UTC date | recipients (sent)   | taps                 |
| ---- | -------------------- | -------- | ------------------- | -------------------- |
| D    | Sat 31 Oct 12:00     | 31 Oct   | Ahmad Budi Hadi Dewi | everyone likes       |
| A    | Tue 3 Nov 06:00      | 2 Nov    | Ahmad Budi Hadi Dewi | Ahmad like; Budi like+share |
| B    | Sun 8 Nov 23:00      | 8 Nov    | Budi Hadi Dewi (Ahmad failed) | Dewi like   |
| C    | Mon 9 Nov 00:30      | 8 Nov    | Ahmad Budi Hadi Dewi | Ahmad share          |

DINKES: Ahmad, Budi, Hadi registered; Citra never registered; Fajar blocked the bot; Gita
sent /berhenti. DISDIK: Dewi registered.

November: A 4 delivered, 2 liked, 1 shared, 2 participated; B 3/1/0/1; C 4/0/1/1; total
11/3/2/4. DISDIK alone: 3/1/0/1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from db.accounts.identities import mark_unreachable, opt_out
from db.delivery.confirmations import confirm
from db.delivery.outbox import finish_posts, mark_failed, mark_sent
from db.models import Asn
from db.posts.lifecycle import approve_post, submit_post
from tests.factories import add_asn, delivery_of, register

WIB = ZoneInfo("Asia/Jakarta")


@dataclass(frozen=True)
class Month:
    posts: dict[str, int]


def _post(session: Session, name: str, opd: str, at: datetime) -> int:
    post = submit_post(session, opd_kode=opd, url=f"https://www.instagram.com/p/{name}/")
    assert post.id is not None
    approve_post(session, post.id, now=at)
    return post.id


def seed_november(engine: Engine) -> Month:
    with Session(engine) as session:
        people: dict[str, Asn] = {}
        for nama, opd in [
            ("Ahmad", "DINKES"),
            ("Budi", "DINKES"),
            ("Citra", "DINKES"),
            ("Fajar", "DINKES"),
            ("Gita", "DINKES"),
            ("Hadi", "DINKES"),
            ("Dewi", "DISDIK"),
        ]:
            people[nama] = add_asn(session, opd=opd, nama=nama, opd_nama=f"Dinas {opd}")
        for nama in ("Ahmad", "Budi", "Hadi", "Dewi", "Gita"):
            register(session, people[nama])
        mark_unreachable(session, register(session, people["Fajar"]), "Forbidden: bot blocked")
        opt_out(session, people["Gita"])

        plan = {
            "D": ("DINKES", datetime(2026, 10, 31, 12, 0, tzinfo=WIB)),
            "A": ("DINKES", datetime(2026, 11, 3, 6, 0, tzinfo=WIB)),
            "B": ("DISDIK", datetime(2026, 11, 8, 23, 0, tzinfo=WIB)),
            "C": ("DINKES", datetime(2026, 11, 9, 0, 30, tzinfo=WIB)),
        }
        posts = {name: _post(session, name, opd, at) for name, (opd, at) in plan.items()}
        receivers = ("Ahmad", "Budi", "Hadi", "Dewi")
        for name, post_id in posts.items():
            for who in receivers:
                delivery = delivery_of(session, post_id, people[who])
                if name == "B" and who == "Ahmad":
                    mark_failed(session, delivery, "Forbidden: bot was blocked by the user")
                else:
                    mark_sent(session, delivery, f"{name}-{who}")

        taps = [("D", who, "like") for who in receivers] + [
            ("A", "Ahmad", "like"),
            ("A", "Budi", "like"),
            ("A", "Budi", "share"),
            ("B", "Dewi", "like"),
            ("C", "Ahmad", "share"),
        ]
        for name, who, kind in taps:
            confirm(session, delivery_of(session, posts[name], people[who]), kind)
        finish_posts(session, set(posts.values()), now=datetime(2026, 11, 10, tzinfo=WIB))
        session.commit()
        return Month(posts)
