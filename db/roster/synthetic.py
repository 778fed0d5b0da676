"""A simulated roster of Kabupaten Mojokerto: 8,000 ASN that look like a real BKPSDM export.

``gaung demo`` and the benchmarks need a roster that exercises what real ones do — NIPs whose
dates must add up, names with academic titles and duplicates, offices of very different sizes,
phone numbers from every operator — without a single real person's data. The same seed always
gives the same roster, so benchmark runs and bug reports can be compared.
"""

from __future__ import annotations

import bisect
import calendar
import csv
import itertools
import random
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlmodel import Session

from db.roster.file import RawRow
from db.roster.importer import ImportReport, import_rows
from db.roster.opd import ensure_opd

__all__ = [
    "COLUMNS",
    "FEMALE_NAME_PARTS",
    "MALE_NAME_PARTS",
    "NAME_PREFIX_TITLES",
    "OpdRow",
    "RosterRow",
    "generate_roster",
    "load_opd_list",
    "write_roster_csv",
    "write_roster_xlsx",
]

COLUMNS = ("nip", "nama", "opd_kode", "opd_nama", "jabatan", "telepon")


@dataclass(frozen=True)
class OpdRow:
    kode: str
    nama: str
    jenis: str


@dataclass(frozen=True)
class RosterRow:
    nip: str
    nama: str
    opd_kode: str
    opd_nama: str
    jabatan: str
    telepon: str  # E.164, +62…


def load_opd_list() -> list[OpdRow]:
    """Read the 58 OPD shipped inside the package, so an installed ``gaung`` needs no checkout."""
    text = (files("db") / "data" / "opd_mojokerto.csv").read_text(encoding="utf-8")
    reader = csv.DictReader(text.splitlines())
    return [
        OpdRow(kode=r["opd_kode"].strip(), nama=r["opd_nama"].strip(), jenis=r["jenis"].strip())
        for r in reader
        if r.get("opd_kode", "").strip()
    ]


# --------------------------------------------------------------------------------------------
# Weighted choice

T = TypeVar("T")


class _Pick(Generic[T]):
    """Cumulative weights computed once: ``rng.choices`` would redo them on every row."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, weighted: Iterable[tuple[float, T]]) -> None:
        pairs = list(weighted)
        if not pairs:
            raise ValueError("empty choice")
        self._items = [item for _, item in pairs]
        self._cum = list(itertools.accumulate(w for w, _ in pairs))
        self._total = self._cum[-1]

    def __call__(self, rng: random.Random) -> T:
        return self._items[bisect.bisect_right(self._cum, rng.random() * self._total)]


def _even(items: Iterable[T]) -> _Pick[T]:
    return _Pick((1.0, item) for item in items)


def _words(text: str) -> list[str]:
    return text.split()


# --------------------------------------------------------------------------------------------
# Names. Every name carries at least one part that tells its sex, and no part is shared between
# the two lists, so a test can check the name against the NIP's sex digit. Unisex parts (Dwi,
# Tri, Nur, …) only ever appear next to a sexed one, as they do in real names.

_TABLES = tomllib.loads((files("db") / "data" / "roster_names.toml").read_text(encoding="utf-8"))
_MALE, _FEMALE = _TABLES["male"], _TABLES["female"]
_MALE_CLASSIC, _MALE_LAST = _words(_MALE["classic"]), _words(_MALE["last"])
_MALE_SINGLE = _words(_MALE["single"])
_MALE_MODERN, _MALE_MODERN_LAST = _words(_MALE["modern"]), _words(_MALE["modern_last"])
_MALE_MUSLIM_PREFIX, _MALE_MUSLIM = _words(_MALE["muslim_prefix"]), _words(_MALE["muslim"])
_ABDUL, _ABDUL_NAMES = _MALE["abdul"], _words(_MALE["abdul_names"])
_FEMALE_CLASSIC, _FEMALE_LAST = _words(_FEMALE["classic"]), _words(_FEMALE["last"])
_FEMALE_SINGLE = _words(_FEMALE["single"])
_FEMALE_MODERN, _FEMALE_MODERN_LAST = _words(_FEMALE["modern"]), _words(_FEMALE["modern_last"])
_FEMALE_MUSLIM = _words(_FEMALE["muslim"])
_SITI, _SRI = _FEMALE["siti"], _FEMALE["sri"]

MALE_NAME_PARTS: frozenset[str] = frozenset(
    _MALE_CLASSIC
    + _MALE_LAST
    + _MALE_SINGLE
    + _MALE_MODERN
    + _MALE_MODERN_LAST
    + _MALE_MUSLIM_PREFIX
    + _MALE_MUSLIM
    + _ABDUL_NAMES
    + [_ABDUL]
)
FEMALE_NAME_PARTS: frozenset[str] = frozenset(
    _FEMALE_CLASSIC
    + _FEMALE_LAST
    + _FEMALE_SINGLE
    + _FEMALE_MODERN
    + _FEMALE_MODERN_LAST
    + _FEMALE_MUSLIM
    + [_SITI, _SRI]
)
# Written before the name (``dr. H. Moch. Yusuf, M.Kes.``); everything after the first comma
# is an academic degree.
NAME_PREFIX_TITLES: frozenset[str] = frozenset({"dr.", "drg.", "drh.", "Ns.", "apt.", "H.", "Hj."})

_M_CLASSIC, _M_LAST, _M_SINGLE = _even(_MALE_CLASSIC), _even(_MALE_LAST), _even(_MALE_SINGLE)
_M_MODERN, _M_MODERN_LAST = _even(_MALE_MODERN), _even(_MALE_MODERN_LAST)
_M_MUSLIM_PREFIX, _M_MUSLIM = _even(_MALE_MUSLIM_PREFIX), _even(_MALE_MUSLIM)
_M_ABDUL = _even(_ABDUL_NAMES)
_F_CLASSIC, _F_LAST, _F_SINGLE = _even(_FEMALE_CLASSIC), _even(_FEMALE_LAST), _even(_FEMALE_SINGLE)
_F_MODERN, _F_MODERN_LAST = _even(_FEMALE_MODERN), _even(_FEMALE_MODERN_LAST)
_F_MUSLIM = _even(_FEMALE_MUSLIM)
# Birth-order and light names given to boys and girls alike: in neither list above.
_U_PREFIX = _Pick([(4, "Dwi"), (3, "Tri"), (1, "Catur"), (3, "Nur"), (2, "Eka")])


def _distinct(rng: random.Random, pick: _Pick[str], *taken: str) -> str:
    """Avoid ``Agus Agus``; give up after a few tries rather than loop on a tiny list."""
    for _ in range(4):
        part = pick(rng)
        if part not in taken:
            return part
    return part


def _modern_name(
    rng: random.Random,
    r: float,
    cuts: tuple[float, float, float],
    first: _Pick[str],
    last: _Pick[str],
    devout: Callable[[random.Random], str],
) -> str:
    """A younger ASN's name: two parts, three, a devout prefix, or a birth-order prefix."""
    if r < cuts[0]:
        return f"{first(rng)} {last(rng)}"
    if r < cuts[1]:
        given = first(rng)
        return f"{given} {_distinct(rng, first, given)} {last(rng)}"
    if r < cuts[2]:
        return f"{devout(rng)} {first(rng)} {last(rng)}"
    return f"{_U_PREFIX(rng)} {first(rng)} {last(rng)}"


def _classic_tail(rng: random.Random, r: float, first: _Pick[str], last: _Pick[str]) -> str:
    """The last two shares of an older name: a birth-order prefix, or three parts."""
    if r < 0.82:
        return f"{_U_PREFIX(rng)} {last(rng)}"
    given = first(rng)
    return f"{given} {_distinct(rng, first, given)} {last(rng)}"


def _male_name(rng: random.Random, modern: bool) -> str:
    r = rng.random()
    if modern:
        return _modern_name(rng, r, (0.50, 0.75, 0.93), _M_MODERN, _M_MODERN_LAST, _M_MUSLIM_PREFIX)
    if r < 0.03:
        return _M_SINGLE(rng)
    if r < 0.48:
        return f"{_M_CLASSIC(rng)} {_M_LAST(rng)}"
    if r < 0.64:
        name = f"{_M_MUSLIM_PREFIX(rng)} {_M_MUSLIM(rng)}"
        return f"{name} {_M_LAST(rng)}" if rng.random() < 0.5 else name
    if r < 0.70:
        name = f"{_ABDUL} {_M_ABDUL(rng)}"
        return f"{name} {_M_LAST(rng)}" if rng.random() < 0.5 else name
    return _classic_tail(rng, r, _M_CLASSIC, _M_LAST)


def _female_name(rng: random.Random, modern: bool) -> str:
    r = rng.random()
    if modern:
        return _modern_name(rng, r, (0.50, 0.78, 0.90), _F_MODERN, _F_MODERN_LAST, lambda _: _SITI)
    if r < 0.03:
        return _F_SINGLE(rng)
    if r < 0.45:
        return f"{_F_CLASSIC(rng)} {_F_LAST(rng)}"
    if r < 0.55:
        middle = f"{_F_CLASSIC(rng)} " if rng.random() < 0.35 else ""
        return f"{_SRI} {middle}{_F_LAST(rng)}"
    if r < 0.70:
        middle = "Nur " if rng.random() < 0.4 else ""
        name = f"{_SITI} {middle}{_F_MUSLIM(rng) if rng.random() < 0.6 else _F_LAST(rng)}"
        return f"{name} {_F_LAST(rng)}" if rng.random() < 0.35 else name
    return _classic_tail(rng, r, _F_CLASSIC, _F_LAST)


# --------------------------------------------------------------------------------------------
# Academic titles: (weight, written before the name, written after it).

_Degree = _Pick[tuple[str, str]]


def _degrees(*options: tuple[float, str, str]) -> _Degree:
    return _Pick((w, (pre, post)) for w, pre, post in options)


_DEGREES: dict[str, _Degree] = {
    kind: _degrees(*(tuple(option) for option in options))
    for kind, options in _TABLES["degrees"].items()
}


# --------------------------------------------------------------------------------------------
# Offices and positions


class _Role(NamedTuple):
    title: str
    ladder: str  # "ahli", "terampil" or "" for a position without functional levels
    female: float  # share of women who hold it
    degree: str


@dataclass(frozen=True)
class _Profile:
    weight: float  # relative headcount
    heads: tuple[str, ...]  # one person each, the most senior first
    specialist: float  # share of staff drawn from ``roles`` rather than the common pool
    roles: _Pick[_Role]
    lead_degree: str = "pimpinan"
    head_female: float = 0.3


def _roles(rows: list[list[Any]]) -> _Pick[_Role]:
    return _Pick(
        (float(w), _Role(title, ladder, float(female), degree))
        for w, title, ladder, female, degree in rows
    )


def _load_profile(data: dict[str, Any]) -> _Profile:
    return _Profile(
        weight=float(data["weight"]),
        heads=tuple(data["heads"]),
        specialist=float(data["specialist"]),
        roles=_roles(data["roles"]),
        lead_degree=data["lead_degree"],
        head_female=float(data["head_female"]),
    )


_OFFICES = tomllib.loads((files("db") / "data" / "roster_offices.toml").read_text(encoding="utf-8"))
_COMMON = _roles(_OFFICES["common"]["roles"])
_PROFILES = {name: _load_profile(data) for name, data in _OFFICES["profiles"].items()}
# Matched in order against the lower-cased name, within the kind of office.
_BY_NAME: tuple[tuple[str, str, _Profile], ...] = tuple(
    (
        office["kind"],
        office["keyword"],
        _PROFILES[office["profile"]] if "profile" in office else _load_profile(office),
    )
    for office in _OFFICES["office"]
)
_DEFAULT = _PROFILES["default"]
# The two hospitals are not alike: Soekandar in Mojosari is the referral hospital.
_WEIGHT_BY_KODE: dict[str, float] = dict(_OFFICES["weight_by_kode"])
_MIN_PER_OPD = 5


def _profile(opd: OpdRow) -> _Profile:
    jenis, nama = opd.jenis.strip().lower(), opd.nama.lower()
    if "rumah sakit" in nama or nama.startswith("rsud"):
        jenis = "rsud"
    for kind, keyword, profile in _BY_NAME:
        if kind == jenis and keyword in nama:
            return profile
    for _kind, keyword, profile in _BY_NAME:  # an unknown kind: trust the name alone
        if keyword and keyword in nama:
            return profile
    return _DEFAULT


def _sizes(n: int, opds: Sequence[OpdRow], weights: Sequence[float]) -> list[int]:
    """Largest-remainder apportionment, so the sizes add up to exactly ``n`` without randomness."""
    floor = _MIN_PER_OPD if n >= _MIN_PER_OPD * len(opds) else n // len(opds)
    rest = n - floor * len(opds)
    total = sum(weights)
    quotas = [rest * w / total for w in weights]
    sizes = [floor + int(q) for q in quotas]
    short = n - sum(sizes)
    by_remainder = sorted(range(len(opds)), key=lambda i: (-(quotas[i] - int(quotas[i])), i))
    for i in by_remainder[:short]:
        sizes[i] += 1
    return sizes


# --------------------------------------------------------------------------------------------
# NIP and phone

# Recruitment rarely keeps a person waiting past their late thirties; TMT clusters at the
# start of the year and at the usual CPNS appointment months.
_TMT_MONTH = _Pick(
    [
        (24, 1),
        (6, 2),
        (16, 3),
        (12, 4),
        (5, 5),
        (4, 6),
        (4, 7),
        (5, 8),
        (4, 9),
        (5, 10),
        (5, 11),
        (10, 12),
    ]
)
_FIRST_BIRTH_YEAR, _LAST_BIRTH_YEAR = 1966, 2001
_MIN_SERVICE_AGE = 19
# Dates are drawn against this horizon (or ``today`` if earlier), not against ``today`` itself,
# so that the same seed gives the same roster whatever day it is generated.
_HORIZON = date(2026, 1, 1)

_OPERATORS: _Pick[_Pick[str]] = _Pick(
    [
        (
            48,
            _Pick(
                [
                    (30, "812"),
                    (18, "813"),
                    (6, "811"),
                    (14, "821"),
                    (10, "822"),
                    (8, "823"),
                    (8, "852"),
                    (6, "853"),
                    (4, "851"),
                ]
            ),
        ),  # Telkomsel
        (
            22,
            _Pick(
                [
                    (30, "856"),
                    (28, "857"),
                    (12, "858"),
                    (10, "815"),
                    (8, "816"),
                    (4, "814"),
                    (8, "855"),
                ]
            ),
        ),  # Indosat
        (
            15,
            _Pick([(14, "817"), (12, "818"), (12, "819"), (10, "859"), (26, "877"), (26, "878")]),
        ),  # XL
        (10, _even(["895", "896", "897", "898", "899"])),  # Tri
        (
            5,
            _Pick(
                [
                    (10, "881"),
                    (10, "882"),
                    (8, "883"),
                    (4, "884"),
                    (4, "885"),
                    (4, "886"),
                    (6, "887"),
                    (6, "888"),
                    (6, "889"),
                ]
            ),
        ),  # Smartfren
    ]
)
_SUBSCRIBER_DIGITS = _Pick([(10, 7), (75, 8), (15, 9)])  # national number of 10, 11 or 12


def _birth_date(rng: random.Random, senior: bool, last_year: int) -> date:
    if senior:
        year = int(rng.triangular(_FIRST_BIRTH_YEAR, min(1985, last_year + 1), 1971))
    else:
        year = int(rng.triangular(_FIRST_BIRTH_YEAR, last_year + 1, 1981))
    year = min(max(year, _FIRST_BIRTH_YEAR), last_year)
    month = rng.randint(1, 12)
    return date(year, month, rng.randint(1, calendar.monthrange(year, month)[1]))


def _service_start(rng: random.Random, born: date, horizon: date) -> tuple[int, int]:
    """TMT as (year, month): after the 19th birthday and not after the horizon."""
    earliest = (born.year + _MIN_SERVICE_AGE) * 12 + born.month  # the month after turning 19
    latest = horizon.year * 12 + horizon.month - 1
    age = int(rng.triangular(_MIN_SERVICE_AGE, 38, 25))
    month = born.year * 12 + age * 12 + _TMT_MONTH(rng) - 1
    if month < earliest:
        month = min(earliest + (earliest - month), latest)
    elif month > latest:
        month = earliest + (month - earliest) % (latest - earliest + 1)
    return month // 12, month % 12 + 1


def _level(rng: random.Random, ladder: str, years: int) -> str:
    years += rng.randint(-3, 3)
    if ladder == "ahli":
        if years < 10:
            return "Ahli Pertama"
        return "Ahli Muda" if years < 21 else "Ahli Madya"
    if years < 8:
        return "Terampil"
    return "Mahir" if years < 19 else "Penyelia"


def _full_name(rng: random.Random, sex: int, born: date, degree: _Degree, *, hajj: float) -> str:
    # Parents of the 1990s favoured new, Arabic- and Sanskrit-flavoured names over the
    # single Javanese names of the 1960s.
    modern = rng.random() < 0.05 + 0.85 * (max(0, born.year - 1966) / 35) ** 2
    name = _male_name(rng, modern) if sex == 1 else _female_name(rng, modern)
    prefix, suffix = degree(rng)
    if rng.random() < hajj:
        name = ("H. " if sex == 1 else "Hj. ") + name
    if prefix:
        name = f"{prefix} {name}"
    return f"{name}, {suffix}" if suffix else name


def generate_roster(
    n: int = 8000,
    *,
    seed: int = 2026,
    opds: Sequence[OpdRow] | None = None,
    today: date | None = None,
) -> list[RosterRow]:
    """A roster of ``n`` ASN spread over ``opds`` (the packaged 58 by default), heads first.

    Offices are sized by kind — teachers make Dinas Pendidikan the giant, health the runner-up,
    kecamatan and bagian small — and every office gets at least a handful of people. NIPs and
    phone numbers are unique and valid as of ``today``. Dates are drawn against a fixed horizon
    (January 2026, or ``today`` if earlier), so a benchmark rerun next year gets the same roster.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    offices = list(load_opd_list() if opds is None else opds)
    if n and not offices:
        raise ValueError("no OPD to place the roster in")
    today = today or date.today()
    horizon = min(today, _HORIZON)
    last_birth_year = min(_LAST_BIRTH_YEAR, horizon.year - _MIN_SERVICE_AGE - 1)
    if last_birth_year < _FIRST_BIRTH_YEAR:
        raise ValueError(f"no one born from {_FIRST_BIRTH_YEAR} can be in service by {today}")

    rng = random.Random(seed)
    profiles = [_profile(o) for o in offices]
    weights = [
        _WEIGHT_BY_KODE.get(o.kode, p.weight) for o, p in zip(offices, profiles, strict=True)
    ]
    sizes = _sizes(n, offices, weights) if n else [0] * len(offices)

    nips: set[str] = set()
    phones: set[str] = set()
    rows: list[RosterRow] = []
    for opd, profile, size in zip(offices, profiles, sizes, strict=True):
        for index in range(size):
            senior = index < len(profile.heads)
            if senior:
                role = _Role(profile.heads[index], "", profile.head_female, profile.lead_degree)
            elif rng.random() < profile.specialist:
                role = profile.roles(rng)
            else:
                role = _COMMON(rng)
            sex = 2 if rng.random() < role.female else 1
            born = _birth_date(rng, senior, last_birth_year)
            tmt_year, tmt_month = _service_start(rng, born, horizon)
            jabatan = role.title
            if role.ladder:
                years = horizon.year - tmt_year
                jabatan = f"{jabatan} {_level(rng, role.ladder, years)}"
            nama = _full_name(
                rng, sex, born, _DEGREES[role.degree], hajj=0.12 if born.year < 1980 else 0.02
            )

            # Real sequence numbers count people sharing birth date, TMT and sex: mostly small.
            stem = (
                f"{born.year:04d}{born.month:02d}{born.day:02d}{tmt_year:04d}{tmt_month:02d}{sex}"
            )
            seq = 1 + min(int(rng.expovariate(0.4)), 998)
            while f"{stem}{seq:03d}" in nips:
                seq = seq % 999 + 1
            nip = f"{stem}{seq:03d}"
            nips.add(nip)

            phone = ""
            while not phone or phone in phones:
                prefix = _OPERATORS(rng)(rng)
                digits = _SUBSCRIBER_DIGITS(rng)
                first = rng.randint(1, 9)
                phone = f"+62{prefix}{first}{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"
            phones.add(phone)

            rows.append(RosterRow(nip, nama, opd.kode, opd.nama, jabatan, phone))
    return rows


# --------------------------------------------------------------------------------------------
# Files


def _values(row: RosterRow) -> tuple[str, str, str, str, str, str]:
    return row.nip, row.nama, row.opd_kode, row.opd_nama, row.jabatan, row.telepon


def write_roster_csv(rows: Iterable[RosterRow], path: Path) -> None:
    """Plain UTF-8 comma-separated, the way ``gaung roster import`` documents its input."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows(_values(r) for r in rows)


def write_roster_xlsx(rows: Iterable[RosterRow], path: Path) -> None:
    """NIP and phone go in as text cells: as numbers Excel would round the NIP's last digits."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Roster")
    for letter, width in zip("ABCDEF", (21, 36, 16, 40, 40, 17), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.append(list(COLUMNS))
    for row in rows:
        nip = WriteOnlyCell(sheet, value=row.nip)
        nip.number_format = "@"
        phone = WriteOnlyCell(sheet, value=row.telepon)
        phone.number_format = "@"
        sheet.append([nip, row.nama, row.opd_kode, row.opd_nama, row.jabatan, phone])
    workbook.save(path)


def import_synthetic_roster(session: Session, n: int = 8000, *, seed: int = 2026) -> ImportReport:
    """The packaged OPD and ``n`` generated ASN, through the same import a roster file takes."""
    for opd in load_opd_list():
        ensure_opd(session, opd.kode, opd.nama, opd.jenis)
    rows = [
        RawRow(
            line,
            {
                "nip": r.nip,
                "nama": r.nama,
                "opd_kode": r.opd_kode,
                "opd_nama": r.opd_nama,
                "jabatan": r.jabatan,
                "telepon": r.telepon,
            },
        )
        for line, r in enumerate(generate_roster(n, seed=seed), start=2)
    ]
    return import_rows(session, rows)
