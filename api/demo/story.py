"""``gaung demo``: the whole of Gaung in its own world, acted out by simulated people.

The demo owns everything it touches: a fresh folder with a fresh SQLite file, an emulated Bot
API in this process, and a real ``gaung serve --worker`` child process started with a clean
environment in that folder, so no deployment setting, ``.env`` or database is ever read.
People act only through chat, as a person would: they share contacts, type NIPs and links and
press buttons in the emulator; Gaung's own flows do the rest. The demo keeps its own count of
what the people did, and the final table (read back from Gaung's database) must equal it.
"""

from __future__ import annotations

import heapq
import random
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from api.demo.people import SAMPLE_POSTS, Habit, How, Person, Plan, Truth, When, cast, habits, plan
from api.demo.serve import DemoFailed, Serve
from bot.emulators.telegram import Limits, TelegramEmulator
from bot.emulators.telegram.world import Message, World
from db.accounts.admins import add_admin
from db.accounts.apikeys import create_api_key
from db.engine import make_engine, session_scope
from db.migrate import upgrade
from db.roster.importer import import_roster_file
from db.roster.opd import ensure_opd
from db.roster.synthetic import generate_roster, load_opd_list, write_roster_csv

PAID_RATE = 1000.0  # messages/s Telegram allows a bot with paid broadcasts
REMINDER_AFTER = 15.0  # seconds (at speed 1) from a post to its reminder
LATE_FALLBACK = 45.0  # a late ASN taps anyway this long after the reminder was due
REGISTER_RATE = 400.0  # registration actions per second (at speed 1)
IN_FLIGHT = 200  # registrations waiting for Gaung's answer at most
NO_ANSWER = 60.0  # seconds without any answer before a person tries to register again
NIP_PATIENCE = 180.0  # seconds a NIP request waits for its admin before the person asks again
TRY_AGAIN = 3.0  # seconds before trying again when Gaung asks to


@dataclass(frozen=True)
class Options:
    asn: int = 8000
    posts: int = 3
    speed: float = 1.0
    once: bool = False
    as_json: bool = False
    seed: int = 2026


@dataclass
class SimPost:
    kode: str
    url: str
    caption: str
    task: TaskID | None = None
    delivered: int = 0


@dataclass
class Watched:
    """One registering ASN as the demo follows their chat."""

    person: Person
    user_id: int
    habit: Habit
    seen: int = 0  # bot messages already looked at
    acted_at: float = 0.0  # when they last shared their contact or typed their NIP
    replies: int = 0
    registered: bool = False  # Gaung said so: "Terdaftar", or the admin "menyetujui"
    posts: dict[int, int] = field(default_factory=dict)  # post index → first message id
    arrived: dict[int, float] = field(default_factory=dict)  # post index → when it came
    late: dict[int, Plan] = field(default_factory=dict)  # waiting for a reminder


class Story:
    def __init__(self, options: Options, console: Console) -> None:
        if options.asn < 1 or options.posts < 1 or options.speed <= 0:
            raise DemoFailed("--asn dan --posts minimal 1, --speed lebih dari 0")
        self.o = options
        self.console = console
        self.pace = 1.0 / options.speed
        self.rng = random.Random(options.seed)
        self.truth = Truth()
        self.folder = Path(tempfile.mkdtemp(prefix="gaung-demo-"))
        self.database_url = f"sqlite:///{self.folder / 'gaung.db'}"
        self.rate = min(PAID_RATE, PAID_RATE * options.speed)
        self.tg = TelegramEmulator(
            Limits(rate=self.rate, paid_rate=self.rate),
            token=_token(self.rng),
            local_webhooks=True,  # gaung serve listens on http://127.0.0.1 in the demo
        )
        self.world: World = self.tg.world
        self.watched: dict[int, Watched] = {}
        self.admins: dict[str, int] = {}
        self.admin_seen: dict[int, int] = {}
        self.pressed: dict[tuple[int, int, str], str] = {}  # (user, message, label) → query
        self.kominfo = 0
        self.posts: list[SimPost] = []
        self.due: list[tuple[float, int, int, int, str]] = []  # (when, n, user, message, label)
        self.queries: list[str] = []
        self.open_taps: dict[str, tuple[int, int, str]] = {}  # query → (user, message, label)
        self.refused = 0  # taps Gaung refused and the person pressed again
        self.reminders = 0
        self.late_without_reminder = 0
        self.unanswered = 0  # taps Gaung recorded too late to answer (a backlog)
        self.retried = 0  # registrations tried again after getting no answer
        self.planned_taps = 0
        self._n = 0
        self.bars: Progress | None = None
        self.began = time.monotonic()
        self.api_key = ""

    # ----- the story ----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        self.say(f"Folder demo: {self.folder}")
        self.prepare()
        with self.tg:
            serve = Serve(
                self.folder,
                self.database_url,
                self.tg,
                rate=self.rate,
                reminder_after=REMINDER_AFTER * self.pace,
            )
            self.say(f"`gaung serve` berjalan di {serve.url} (API, dasbor, webhook, pekerja).")
            try:
                with self._progress() as bars:
                    self.bars = bars
                    self.register()
                    for n in range(self.o.posts):
                        self.submit(n)
                    self.taps()
                self.bars = None
                link = self.dashboard_link()
                result = self.result(serve.url, link)
                if not self.o.once:
                    self.show(result)
                    self.wait_for_ctrl_c()
                return result
            finally:
                serve.stop()

    def say(self, line: str) -> None:
        (self.bars.console if self.bars else self.console).print(line, highlight=False)

    def prepare(self) -> None:
        """What an operator does before launch: database, OPD list, roster, admins, a key."""
        roster = generate_roster(self.o.asn, seed=self.o.seed)
        kodes = sorted({row.opd_kode for row in roster})
        habit = habits(kodes, self.rng)
        people = cast(roster, habit, self.rng)
        for person in people:
            self.truth.add(person.row.opd_kode, "asn_roster")
        roster_file = self.folder / "roster-simulasi.csv"
        write_roster_csv(roster, roster_file)
        engine = make_engine(self.database_url)
        try:
            upgrade(engine)
            with session_scope(engine) as session:
                for opd in load_opd_list():
                    ensure_opd(session, opd.kode, opd.nama, opd.jenis)
                report = import_roster_file(session, roster_file, actor="demo")
                for kode in kodes:
                    user = self.world.add_user(f"Admin {kode}")
                    self.admins[kode] = user.id
                    add_admin(session, role="opd", opd_kode=kode, telegram_id=user.id, actor="demo")
                kominfo = self.world.add_user("Diskominfo")
                self.kominfo = kominfo.id
                add_admin(session, role="diskominfo", telegram_id=kominfo.id, actor="demo")
                _, self.api_key = create_api_key(
                    session, role="diskominfo", name="demo", actor="demo"
                )
        finally:
            engine.dispose()
        self.say(
            f"Roster simulasi {report.added} ASN di {len(kodes)} OPD diimpor "
            f"(seperti `gaung roster import`); {len(self.admins)} admin OPD dan 1 admin "
            "Diskominfo dibuat."
        )
        for person in people:
            if person.how == How.NEVER:
                continue
            phone = person.row.telepon if person.how == How.CONTACT else None
            user = self.world.add_user(person.first_name, phone=phone)
            self.watched[user.id] = Watched(person, user.id, habit[person.row.opd_kode])

    def register(self) -> None:
        assert self.bars is not None
        total = len(self.watched)
        by_nip = sum(1 for w in self.watched.values() if w.person.how == How.NIP)
        self.say(
            f"{total} ASN membuka bot: {total - by_nip} membagikan nomornya, {by_nip} mengetik "
            f"NIP (nomornya berganti) dan menunggu persetujuan admin OPD; "
            f"{self.o.asn - total} tidak pernah mendaftar."
        )
        task = self.bars.add_task("Pendaftaran ASN", total=total)
        for uid in self.admins.values():
            self.world.say(uid, "/start")
        self.world.say(self.kominfo, "/start")
        waiting = list(self.watched.values())
        self.rng.shuffle(waiting)
        step = max(1, int(REGISTER_RATE * self.o.speed / 20))
        issued = 0
        while issued < len(waiting):
            # People keep coming while Gaung keeps up: at most IN_FLIGHT wait for an answer,
            # so a slow machine slows the story down instead of letting buttons expire.
            answered = sum(1 for w in waiting[:issued] if w.replies)
            for w in waiting[issued : min(issued + step, answered + IN_FLIGHT)]:
                self._register(w, time.monotonic())
                issued += 1
            self.tick()
            self.bars.update(task, completed=sum(w.registered for w in waiting))
            time.sleep(0.05)
        self.wait(
            lambda: all(w.registered for w in waiting),
            "pendaftaran",
            lambda: (
                self.bars.update(task, completed=sum(w.registered for w in waiting))
                if self.bars
                else None
            ),
        )
        for w in waiting:
            self.truth.add(w.person.row.opd_kode, "asn_registered")
        self.say(f"Semua {total} pendaftaran selesai, {by_nip} di antaranya disetujui admin OPD.")

    def _register(self, w: Watched, now: float) -> None:
        w.acted_at = now
        if w.person.how == How.CONTACT:
            self.world.share_contact(w.user_id, plus=self.rng.random() < 0.5)
        else:
            self.world.say(w.user_id, w.person.row.nip)

    def submit(self, n: int) -> None:
        """An OPD admin sends a link and a caption; Diskominfo approves it for every OPD."""
        assert self.bars is not None
        kode, url, caption = SAMPLE_POSTS[n % len(SAMPLE_POSTS)]
        if kode not in self.admins:
            kode = sorted(self.admins)[n % len(self.admins)]
        url = url.format(n=n + 1)
        admin = self.admins[kode]
        before = len(self.world.messages(admin))
        self.world.say(admin, url)
        self.wait_button(admin, "Lewati", before)
        before = len(self.world.messages(admin))
        self.world.say(admin, caption)
        preview = self.wait_button(admin, "Ajukan", before)
        before = len(self.world.messages(self.kominfo))
        self.press(admin, preview.message_id, "Ajukan")
        self.say(f"Admin {kode} mengajukan tautan {url}")
        review = self.wait_button(self.kominfo, "semua OPD", before)
        self.press(self.kominfo, review.message_id, "semua OPD")
        # Setujui asks for the neutrality confirmation on the same message (edited in place).
        tick = self.wait_button(self.kominfo, "Ya, netral", before)
        self.press(self.kominfo, tick.message_id, "Ya, netral")
        self.say(f"Diskominfo menyetujui unggahan {kode} untuk semua OPD; siaran dimulai.")
        post = SimPost(kode, url, caption)
        post.task = self.bars.add_task(f"Siaran {kode}", total=len(self.watched))
        self.posts.append(post)
        # The next admin submits while this one is still being sent, as on a busy morning.
        self.wait(lambda: post.delivered >= min(len(self.watched), 1), "siaran pertama")

    def taps(self) -> None:
        assert self.bars is not None
        task = self.bars.add_task("Like/Share", total=None)
        everyone = len(self.watched) * len(self.posts)

        def progress() -> None:
            if self.bars:
                done_taps = min(len(self.queries) - self.refused, self.planned_taps)
                self.bars.update(task, completed=done_taps, total=self.planned_taps)

        def done() -> bool:
            delivered = sum(p.delivered for p in self.posts)
            waiting = any(w.late for w in self.watched.values())
            return delivered >= everyone and not waiting and not self.due and self.answered()

        self.wait(done, "siaran dan ketukan", progress)
        self.say(
            f"{self.reminders} pengingat terkirim; ASN yang terlambat menekan tombolnya setelah "
            f"diingatkan, sebagian tidak pernah."
        )

    def answered(self) -> bool:
        """Every tap answered, or (answered too late, after a backlog) taken off the queue."""
        with self.world.lock:
            return not self.open_taps and not self.tg.bot.updates

    def dashboard_link(self) -> str:
        """Diskominfo asks the bot for a sign-in link, as staff do."""
        before = len(self.world.messages(self.kominfo))
        self.world.say(self.kominfo, "/dashboard")
        self.wait(lambda: len(self.world.messages(self.kominfo)) > before, "tautan dasbor")
        text = self.world.messages(self.kominfo)[before].text
        found = re.search(r"https?://\S+", text)
        return found.group(0) if found else ""

    # ----- the people ---------------------------------------------------------------------
    def tick(self) -> None:
        """Look at what Gaung sent since the last tick and let the people answer it."""
        now = time.monotonic()
        with self.world.lock:
            for uid, w in self.watched.items():
                history = self.world.chats.get(uid, ())
                for message in history[w.seen :]:
                    if message.from_bot:
                        self._on_message(w, message, now)
                w.seen = len(history)
                if not w.registered and w.acted_at and now - w.acted_at > self._patience(w):
                    self.retried += 1  # no (good) answer: the person tries once more
                    self._register(w, now)
                if w.late:
                    self._late_fallback(w, now)
            for uid in self.admins.values():
                history = self.world.chats.get(uid, ())
                for message in history[self.admin_seen.get(uid, 0) :]:
                    if message.from_bot and _has_button(message, "Setujui"):
                        self.press(uid, message.message_id, "Setujui")
                self.admin_seen[uid] = len(history)
            for (uid, message_id, label), query_id in list(self.pressed.items()):
                self._press_again(uid, message_id, label, query_id, now)
            while self.due and self.due[0][0] <= now:
                _, _, uid, message_id, label = heapq.heappop(self.due)
                query_id = self.world.press_label(uid, message_id, label)
                self.queries.append(query_id)
                self.open_taps[query_id] = (uid, message_id, label)
            self._refused_taps(now)

    def press(self, uid: int, message_id: int, label: str) -> None:
        """An admin presses a button, and presses it again if Gaung never answered it."""
        query_id = self.world.press_label(uid, message_id, label)
        self.pressed[(uid, message_id, label)] = query_id

    def _press_again(
        self, uid: int, message_id: int, label: str, query_id: str, now: float
    ) -> None:
        query = self.tg.bot.queries[query_id]
        message = self.world.chats[uid][message_id - 1]
        if not _has_button(message, label):
            del self.pressed[(uid, message_id, label)]  # done: the buttons were replaced
        elif not query.answered and self._expired(query_id, now):
            self.press(uid, message_id, label)

    def _expired(self, query_id: str, now: float) -> bool:
        query = self.tg.bot.queries[query_id]
        return now - query.created > self.world.limits.callback_timeout

    def _on_message(self, w: Watched, message: Message, now: float) -> None:
        index = next((i for i, p in enumerate(self.posts) if p.url in message.text), None)
        if index is None or not _has_button(message, "Like"):
            w.replies += 1
            text = message.text.lower()
            if "terdaftar" in text or "menyetujui" in text:
                w.registered = True
            elif "coba lagi" in text:  # Gaung had trouble and asks to try again: they do
                w.acted_at = now - NO_ANSWER + TRY_AGAIN * self.pace
            return
        if index in w.posts:  # the same post again: the reminder
            self.reminders += 1
            late = w.late.pop(index, None)
            if late is not None:
                self._schedule(w, message.message_id, late, now)
            return
        post = self.posts[index]
        w.posts[index] = message.message_id
        w.arrived[index] = now
        post.delivered += 1
        kode = w.person.row.opd_kode
        self.truth.add(kode, "delivered")
        if self.bars is not None and post.task is not None:
            self.bars.update(post.task, completed=post.delivered)
        choice = plan(w.habit, self.rng, pace=self.pace)
        if choice.when == When.NEVER:
            return
        self.truth.add(kode, "liked", choice.like)
        self.truth.add(kode, "shared", choice.share)
        self.truth.add(kode, "participated")
        self.planned_taps += choice.like + choice.share
        if choice.when == When.PROMPT:
            self._schedule(w, message.message_id, choice, now)
        else:
            w.late[index] = choice

    def _refused_taps(self, now: float) -> None:
        """A tap Gaung refuses ("tidak berlaku") is pressed again a moment later, as a person
        would. Gaung refuses a tap on a delivery it has not yet recorded as sent; on a busy
        machine the message can reach the chat, and be tapped, before that record."""
        queries = self.tg.bot.queries
        for query_id, (uid, message_id, label) in list(self.open_taps.items()):
            query = queries[query_id]
            if not query.answered:
                if self._expired(query_id, now):  # Gaung answered too late (a backlog)
                    del self.open_taps[query_id]
                    self.unanswered += 1
                continue
            del self.open_taps[query_id]
            if "tidak berlaku" in str((query.answer or {}).get("text", "")):
                self.refused += 1
                self._n += 1
                when = now + TRY_AGAIN * self.pace
                heapq.heappush(self.due, (when, self._n, uid, message_id, label))

    def _patience(self, w: Watched) -> float:
        """How long a person waits for Gaung before trying again: a NIP request waits for a
        person (the admin), so longer."""
        return NIP_PATIENCE if w.person.how == How.NIP and w.replies else NO_ANSWER

    def _late_fallback(self, w: Watched, now: float) -> None:
        """Gaung may hold a reminder back (quiet hours); a late ASN taps in the end anyway."""
        for index, late in list(w.late.items()):
            if now - w.arrived[index] > (REMINDER_AFTER + LATE_FALLBACK) * self.pace:
                del w.late[index]
                self.late_without_reminder += 1
                self._schedule(w, w.posts[index], late, now)

    def _schedule(self, w: Watched, message_id: int, choice: Plan, now: float) -> None:
        labels = (["Like"] if choice.like else []) + (["Share"] if choice.share else [])
        for offset, label in enumerate(labels):
            self._n += 1
            when = now + choice.delay + offset * 0.5 * self.pace
            heapq.heappush(self.due, (when, self._n, w.user_id, message_id, label))

    # ----- waiting ------------------------------------------------------------------------
    def wait(
        self, done: Callable[[], bool], what: str, progress: Callable[[], object] | None = None
    ) -> None:
        limit = 120 + len(self.watched) * max(1, self.o.posts) / 20 * self.pace
        deadline = time.monotonic() + limit
        while True:
            self.tick()
            if progress is not None:
                progress()
            if done():
                return
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"{what} tidak selesai dalam {limit:.0f} s; lihat {self.folder / 'serve.log'}"
                )
            # A bigger world is looked at less often, leaving the emulator its share of the CPU.
            time.sleep(min(0.2, 0.05 + len(self.watched) / 50_000))

    def wait_button(self, uid: int, label: str, after: int) -> Message:
        found: list[Message] = []

        def arrived() -> bool:
            found[:] = [m for m in self.world.messages(uid)[after:] if _has_button(m, label)]
            return bool(found)

        self.wait(arrived, f"tombol {label!r}")
        return found[0]

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.console,
            transient=False,
        )

    # ----- the end ------------------------------------------------------------------------
    def result(self, base_url: str, link: str) -> dict[str, Any]:
        from zoneinfo import ZoneInfo

        from api.schemas import ParticipationReport
        from db.reporting.participation import participation
        from db.reporting.window import resolve_window

        tz = ZoneInfo("Asia/Jakarta")
        engine = make_engine(self.database_url)
        try:
            with session_scope(engine, readonly=True) as session:
                found = participation(session, resolve_window(None, None, tz))
                report = ParticipationReport.of(found, tz).model_dump()
        finally:
            engine.dispose()
        table = self.truth.table()
        fields = ("asn_roster", "asn_registered", "delivered", "liked", "shared", "participated")
        got = {row["kode"]: {f: row[f] for f in fields} for row in report["opd"]}
        empty = dict.fromkeys(fields, 0)
        mismatched = sorted(
            kode for kode in set(got) | set(table) if got.get(kode, empty) != table.get(kode, empty)
        )
        return {
            "folder": str(self.folder),
            "database_url": self.database_url,
            "url": base_url,
            "dashboard": f"{base_url}/dashboard",
            "sign_in": link,
            "api_key": self.api_key,
            "participation": report,
            "truth": {"opd": table, "total": self.truth.total()},
            "matches": not mismatched,
            "mismatched": mismatched,
            "story": {
                "asn": self.o.asn,
                "registered": len(self.watched),
                "by_nip": sum(1 for w in self.watched.values() if w.person.how == How.NIP),
                "posts": len(self.posts),
                "reminders": self.reminders,
                "late_without_reminder": self.late_without_reminder,
                "taps": len(self.queries),
                "taps_refused_then_pressed_again": self.refused,
                "taps_answered_late": self.unanswered,
                "registrations_retried": self.retried,
                "seconds": round(time.monotonic() - self.began, 1),
            },
        }

    def show(self, result: dict[str, Any]) -> None:
        from api.demo.render import show_result

        show_result(self.console, result)

    def wait_for_ctrl_c(self) -> None:
        self.console.print("Demo tetap berjalan; tekan Ctrl+C untuk berhenti.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            self.console.print("Demo dihentikan.")


def _has_button(message: Message, label: str) -> bool:
    return any(label in b.get("text", "") and "callback_data" in b for b in message.buttons())


def _token(rng: random.Random) -> str:
    return f"{rng.randint(10**9, 10**10 - 1)}:DEMO-{secrets.token_urlsafe(24)}"
