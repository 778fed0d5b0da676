"""The simulated regency: who registers and how, and what each ASN does with a post.

Everything here is decided up front from one seeded random generator, so the same arguments
give the same story, and the demo knows the truth its final table must show.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from db.roster.synthetic import RosterRow

# (OPD whose admin submits, link, caption): the platforms Gaung knows and a news page.
SAMPLE_POSTS = (
    (
        "DINKES",
        "https://www.instagram.com/p/DGaungPosyandu{n}/",
        "Posyandu serentak di 18 kecamatan pekan ini: ajak keluarga menimbang balita.",
    ),
    (
        "DISDIK",
        "https://www.facebook.com/dispendikmojokerto/posts/90210{n}",
        "Selamat kepada siswa Kabupaten Mojokerto, juara olimpiade sains tingkat provinsi.",
    ),
    (
        "DPUPR",
        "https://www.tiktok.com/@pupr.mojokerto/video/73310{n}",
        "Perbaikan jalan Mojosari–Pacet rampung lebih cepat dari jadwal.",
    ),
    (
        "DISPORABUDPAR",
        "https://www.youtube.com/watch?v=GaungMjk{n}",
        "Festival Majapahit di Trowulan: jadwal lengkap dan rute bus gratis.",
    ),
    (
        "DISPENDUKCAPIL",
        "https://mojokertokab.go.id/berita/{n}-jemput-bola-ktp-el",
        "Jemput bola perekaman KTP-el di sekolah-sekolah bulan ini.",
    ),
    (
        "DISKOMINFO",
        "https://x.com/kominfomjk/status/55120{n}",
        "Aduan warga kini cukup lewat satu nomor WhatsApp: catat dan bagikan.",
    ),
)


class How(StrEnum):
    CONTACT = "contact"  # shares their own contact; the number is in the roster
    NIP = "nip"  # their number changed: types the NIP, the OPD admin approves
    NEVER = "never"  # never opens the bot


class When(StrEnum):
    PROMPT = "prompt"  # taps soon after the post arrives
    LATE = "late"  # taps only after the reminder
    NEVER = "never"


@dataclass(frozen=True)
class Habit:
    """How one OPD's staff behave; OPDs differ, as they do in a real regency."""

    register: float  # share of the OPD's ASN who register at all
    by_nip: float  # of those, share whose number changed (register by NIP)
    prompt: float  # share of deliveries tapped soon after they arrive
    late: float  # share tapped only after the reminder
    share: float  # of taps, share that include Share
    like: float  # of taps, share that include Like (a tap has at least one of them)


@dataclass(frozen=True)
class Person:
    row: RosterRow
    how: How

    @property
    def first_name(self) -> str:
        return self.row.nama.split(",")[0]


@dataclass(frozen=True)
class Plan:
    """One person's answer to one post."""

    when: When
    delay: float  # seconds after the post (or the reminder) arrives
    like: bool
    share: bool


MAX_NIP_PER_OPD = 8
FIELDS = ("asn_roster", "asn_registered", "delivered", "liked", "shared", "participated")


@dataclass
class Truth:
    """What the simulation did, counted per OPD with the report's definitions."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, kode: str, name: str, amount: int = 1) -> None:
        self.counts[kode][name] += amount

    def table(self) -> dict[str, dict[str, int]]:
        return {k: {f: c[f] for f in FIELDS} for k, c in sorted(self.counts.items())}

    def total(self) -> dict[str, int]:
        return {f: sum(c[f] for c in self.counts.values()) for f in FIELDS}


def habits(kodes: Sequence[str], rng: random.Random) -> dict[str, Habit]:
    found = {}
    for kode in kodes:
        prompt = rng.uniform(0.3, 0.75)
        found[kode] = Habit(
            register=rng.uniform(0.55, 0.97),
            by_nip=rng.uniform(0.01, 0.05),
            prompt=prompt,
            late=rng.uniform(0.05, min(0.3, 0.95 - prompt)),
            share=rng.uniform(0.3, 0.7),
            like=rng.uniform(0.7, 0.95),
        )
    return found


def cast(roster: Sequence[RosterRow], habit: dict[str, Habit], rng: random.Random) -> list[Person]:
    """Who registers and how. NIP requests are capped per OPD: its admin's chat gets about one
    message a second from Telegram, and the story should not wait minutes on one admin."""
    people = []
    by_nip: Counter[str] = Counter()
    for row in roster:
        h = habit[row.opd_kode]
        if rng.random() >= h.register:
            how = How.NEVER
        elif rng.random() < h.by_nip and by_nip[row.opd_kode] < MAX_NIP_PER_OPD:
            how = How.NIP
            by_nip[row.opd_kode] += 1
        else:
            how = How.CONTACT
        people.append(Person(row, how))
    return people


def plan(habit: Habit, rng: random.Random, *, pace: float) -> Plan:
    """``pace`` scales every delay (``--speed`` divides it)."""
    roll = rng.random()
    when = (
        When.PROMPT
        if roll < habit.prompt
        else When.LATE
        if roll < habit.prompt + habit.late
        else When.NEVER
    )
    share = rng.random() < habit.share
    like = rng.random() < habit.like or not share
    delay = rng.uniform(0.3, 6.0) * pace if when == When.PROMPT else rng.uniform(0.2, 2.0) * pace
    return Plan(when, delay, like, share)
