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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Generic, NamedTuple, TypeVar

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


def _male_name(rng: random.Random, modern: bool) -> str:
    r = rng.random()
    if modern:
        if r < 0.50:
            return f"{_M_MODERN(rng)} {_M_MODERN_LAST(rng)}"
        if r < 0.75:
            first = _M_MODERN(rng)
            return f"{first} {_distinct(rng, _M_MODERN, first)} {_M_MODERN_LAST(rng)}"
        if r < 0.93:
            return f"{_M_MUSLIM_PREFIX(rng)} {_M_MODERN(rng)} {_M_MODERN_LAST(rng)}"
        return f"{_U_PREFIX(rng)} {_M_MODERN(rng)} {_M_MODERN_LAST(rng)}"
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
    if r < 0.82:
        return f"{_U_PREFIX(rng)} {_M_LAST(rng)}"
    first = _M_CLASSIC(rng)
    return f"{first} {_distinct(rng, _M_CLASSIC, first)} {_M_LAST(rng)}"


def _female_name(rng: random.Random, modern: bool) -> str:
    r = rng.random()
    if modern:
        if r < 0.50:
            return f"{_F_MODERN(rng)} {_F_MODERN_LAST(rng)}"
        if r < 0.78:
            first = _F_MODERN(rng)
            return f"{first} {_distinct(rng, _F_MODERN, first)} {_F_MODERN_LAST(rng)}"
        if r < 0.90:
            return f"{_SITI} {_F_MODERN(rng)} {_F_MODERN_LAST(rng)}"
        return f"{_U_PREFIX(rng)} {_F_MODERN(rng)} {_F_MODERN_LAST(rng)}"
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
    if r < 0.82:
        return f"{_U_PREFIX(rng)} {_F_LAST(rng)}"
    first = _F_CLASSIC(rng)
    return f"{first} {_distinct(rng, _F_CLASSIC, first)} {_F_LAST(rng)}"


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


def _r(
    weight: float, title: str, ladder: str = "", female: float = 0.45, degree: str = "umum"
) -> tuple[float, _Role]:
    return weight, _Role(title, ladder, female, degree)


def _dinas(
    *bidang: str, head: str = "Kepala Dinas", sek: str = "Sekretaris Dinas"
) -> tuple[str, ...]:
    return (
        head,
        sek,
        *(f"Kepala Bidang {b}" for b in bidang),
        "Kepala Subbagian Umum dan Kepegawaian",
        "Kepala Subbagian Perencanaan dan Keuangan",
    )


def _badan(*bidang: str, head: str = "Kepala Badan") -> tuple[str, ...]:
    return _dinas(*bidang, head=head, sek="Sekretaris Badan")


_COMMON = _Pick(
    [
        _r(20, "Pengadministrasi Umum", degree="pelaksana"),
        _r(10, "Pengadministrasi Perkantoran", female=0.5, degree="pelaksana"),
        _r(8, "Staf Pelaksana", female=0.4, degree="pelaksana"),
        _r(7, "Pengolah Data dan Informasi", female=0.5),
        _r(6, "Penata Layanan Operasional"),
        _r(4, "Pengelola Layanan Operasional", female=0.4, degree="pelaksana"),
        _r(4, "Operator Layanan Operasional", female=0.35, degree="pelaksana"),
        _r(6, "Analis Kebijakan", "ahli", degree="pemerintahan"),
        _r(3, "Perencana", "ahli", degree="perencana"),
        _r(4, "Pranata Komputer", "ahli", female=0.3, degree="komputer"),
        _r(2, "Pranata Komputer", "terampil", female=0.3, degree="komputer_d3"),
        _r(3, "Arsiparis", "terampil", female=0.55),
        _r(3, "Analis Sumber Daya Manusia Aparatur", "ahli", female=0.55, degree="pemerintahan"),
        _r(3, "Bendahara", female=0.65, degree="keuangan"),
        _r(3, "Pengelola Keuangan", female=0.6, degree="keuangan"),
        _r(2, "Analis Keuangan Pusat dan Daerah", "ahli", female=0.55, degree="keuangan"),
        _r(2, "Pengelola Barang Milik Daerah", female=0.4),
        _r(2, "Pranata Hubungan Masyarakat", "ahli", female=0.5, degree="komunikasi"),
        _r(2, "Pengemudi", female=0.0, degree="none"),
        _r(2, "Pramu Bakti", female=0.3, degree="none"),
    ]
)

_KECAMATAN_NAMES = _words(_TABLES["places"]["kecamatan"])

_PENDIDIKAN = _Profile(
    weight=3300,
    heads=_dinas(
        "Pembinaan Sekolah Dasar",
        "Pembinaan Sekolah Menengah Pertama",
        "Pembinaan PAUD dan Pendidikan Nonformal",
        "Pembinaan Ketenagaan",
    ),
    specialist=0.93,
    roles=_Pick(
        [
            _r(86, "Guru", "ahli", female=0.68, degree="guru"),
            _r(3, "Kepala Sekolah", female=0.45, degree="guru_s2"),
            _r(2, "Pengawas Sekolah", "ahli", female=0.4, degree="guru_s2"),
            _r(1, "Penilik", "ahli", female=0.5, degree="guru"),
            _r(1, "Pamong Belajar", "ahli", female=0.5, degree="guru"),
            _r(4, "Tenaga Administrasi Sekolah", female=0.5, degree="pelaksana"),
            _r(3, "Pustakawan", "terampil", female=0.7, degree="pustaka"),
        ]
    ),
    lead_degree="pendidikan_lead",
    head_female=0.4,
)
_KESEHATAN = _Profile(
    weight=950,
    heads=_dinas(
        "Kesehatan Masyarakat",
        "Pencegahan dan Pengendalian Penyakit",
        "Pelayanan Kesehatan",
        "Sumber Daya Kesehatan",
    )
    + tuple(f"Kepala UPT Puskesmas {k}" for k in _KECAMATAN_NAMES),
    specialist=0.85,
    roles=_Pick(
        [
            _r(6, "Dokter", "ahli", female=0.6, degree="dokter"),
            _r(2, "Dokter Gigi", "ahli", female=0.7, degree="drg"),
            _r(14, "Perawat", "terampil", female=0.7, degree="perawat_d3"),
            _r(12, "Perawat", "ahli", female=0.7, degree="ners"),
            _r(14, "Bidan", "terampil", female=1.0, degree="bidan_d3"),
            _r(6, "Bidan", "ahli", female=1.0, degree="bidan"),
            _r(2, "Apoteker", "ahli", female=0.75, degree="apoteker"),
            _r(3, "Asisten Apoteker", "terampil", female=0.75, degree="farmasi"),
            _r(3, "Sanitarian", "terampil", female=0.5, degree="sanitasi"),
            _r(3, "Nutrisionis", "terampil", female=0.85, degree="gizi"),
            _r(3, "Pranata Laboratorium Kesehatan", "terampil", female=0.7, degree="kes_d3"),
            _r(1, "Epidemiolog Kesehatan", "ahli", female=0.55, degree="kesmas"),
            _r(2, "Penyuluh Kesehatan Masyarakat", "ahli", female=0.6, degree="kesmas"),
            _r(2, "Administrator Kesehatan", "ahli", female=0.55, degree="kesmas"),
            _r(2, "Perekam Medis", "terampil", female=0.6, degree="kes_d3"),
        ]
    ),
    lead_degree="kesehatan_lead",
    head_female=0.5,
)
_RSUD = _Profile(
    weight=475,
    heads=(
        "Direktur",
        "Wakil Direktur Pelayanan",
        "Wakil Direktur Umum dan Keuangan",
        "Kepala Bidang Pelayanan Medik",
        "Kepala Bidang Keperawatan",
        "Kepala Bidang Penunjang Medik",
        "Kepala Bagian Umum dan Kepegawaian",
        "Kepala Bagian Keuangan",
        "Kepala Bagian Perencanaan dan Evaluasi",
    ),
    specialist=0.88,
    roles=_Pick(
        [
            _r(6, "Dokter", "ahli", female=0.55, degree="dokter"),
            _r(4, "Dokter", "ahli", female=0.45, degree="spesialis"),
            _r(1, "Dokter Gigi", "ahli", female=0.7, degree="drg"),
            _r(30, "Perawat", "terampil", female=0.7, degree="perawat_d3"),
            _r(20, "Perawat", "ahli", female=0.7, degree="ners"),
            _r(6, "Bidan", "terampil", female=1.0, degree="bidan_d3"),
            _r(2, "Bidan", "ahli", female=1.0, degree="bidan"),
            _r(2, "Apoteker", "ahli", female=0.75, degree="apoteker"),
            _r(3, "Asisten Apoteker", "terampil", female=0.75, degree="farmasi"),
            _r(3, "Pranata Laboratorium Kesehatan", "terampil", female=0.7, degree="kes_d3"),
            _r(2, "Radiografer", "terampil", female=0.4, degree="kes_d3"),
            _r(1, "Fisioterapis", "terampil", female=0.6, degree="kes_d3"),
            _r(3, "Perekam Medis", "terampil", female=0.6, degree="kes_d3"),
            _r(2, "Nutrisionis", "terampil", female=0.85, degree="gizi"),
            _r(1, "Teknisi Elektromedis", "terampil", female=0.2, degree="kes_d3"),
            _r(1, "Penata Anestesi", "ahli", female=0.4, degree="kes_d3"),
            _r(1, "Sanitarian", "terampil", female=0.5, degree="sanitasi"),
        ]
    ),
    lead_degree="kesehatan_lead",
    head_female=0.45,
)
_KECAMATAN = _Profile(
    weight=26,
    heads=(
        "Camat",
        "Sekretaris Kecamatan",
        "Kasi Pemerintahan",
        "Kasi Ketenteraman dan Ketertiban Umum",
        "Kasi Pemberdayaan Masyarakat dan Desa",
        "Kasi Kesejahteraan Sosial",
        "Kasi Pelayanan Umum",
        "Kasubag Umum dan Kepegawaian",
        "Kasubag Perencanaan dan Keuangan",
    ),
    specialist=0.35,
    roles=_Pick(
        [
            _r(8, "Pengadministrasi Pemerintahan", degree="pelaksana"),
            _r(6, "Pengelola Data Kependudukan", degree="pelaksana"),
            _r(5, "Pengelola Pelayanan Administrasi Terpadu Kecamatan", degree="umum"),
            _r(4, "Pengelola Ketenteraman dan Ketertiban", female=0.15, degree="pelaksana"),
            _r(6, "Staf Pelaksana", female=0.4, degree="pelaksana"),
        ]
    ),
    lead_degree="camat",
    head_female=0.25,
)
_BAGIAN = _Profile(
    weight=25,
    heads=("Kepala Bagian",),
    specialist=0.4,
    roles=_Pick([_r(6, "Analis Kebijakan", "ahli", degree="pemerintahan")]),
)


def _bagian(*roles: tuple[float, _Role]) -> _Profile:
    return _Profile(weight=25, heads=("Kepala Bagian",), specialist=0.45, roles=_Pick(roles))


# Matched in order against the lower-cased name, within the kind of office.
_BY_NAME: tuple[tuple[str, str, _Profile], ...] = (
    ("dinas", "pendidikan", _PENDIDIKAN),
    ("dinas", "kesehatan", _KESEHATAN),
    (
        "dinas",
        "polisi pamong praja",
        _Profile(
            weight=120,
            heads=_dinas(
                "Penegakan Peraturan Daerah",
                "Ketenteraman dan Ketertiban Umum",
                "Perlindungan Masyarakat",
                head="Kepala Satuan Polisi Pamong Praja",
                sek="Sekretaris Satuan",
            ),
            specialist=0.7,
            roles=_Pick(
                [
                    _r(40, "Polisi Pamong Praja", "terampil", female=0.15, degree="pelaksana"),
                    _r(10, "Polisi Pamong Praja", "ahli", female=0.2, degree="pemerintahan"),
                    _r(4, "Penyidik Pegawai Negeri Sipil", female=0.15, degree="hukum"),
                ]
            ),
            head_female=0.1,
        ),
    ),
    (
        "dinas",
        "pemadam kebakaran",
        _Profile(
            weight=80,
            heads=_dinas("Pemadaman dan Penyelamatan", "Pencegahan dan Sarana Prasarana"),
            specialist=0.75,
            roles=_Pick(
                [
                    _r(35, "Pemadam Kebakaran", "terampil", female=0.03, degree="none"),
                    _r(6, "Analis Kebakaran", "ahli", female=0.2, degree="teknik"),
                    _r(4, "Inspektur Kebakaran", "terampil", female=0.1, degree="teknik_d3"),
                ]
            ),
            head_female=0.05,
        ),
    ),
    (
        "dinas",
        "pertanian",
        _Profile(
            weight=130,
            heads=_dinas(
                "Tanaman Pangan",
                "Hortikultura dan Perkebunan",
                "Peternakan dan Kesehatan Hewan",
                "Penyuluhan",
            ),
            specialist=0.6,
            roles=_Pick(
                [
                    _r(20, "Penyuluh Pertanian", "ahli", female=0.35, degree="pertanian"),
                    _r(12, "Penyuluh Pertanian", "terampil", female=0.3, degree="pertanian_d3"),
                    _r(
                        4,
                        "Pengendali Organisme Pengganggu Tumbuhan",
                        "terampil",
                        female=0.3,
                        degree="pertanian_d3",
                    ),
                    _r(3, "Medik Veteriner", "ahli", female=0.5, degree="vet"),
                    _r(3, "Paramedik Veteriner", "terampil", female=0.3, degree="pertanian_d3"),
                    _r(1, "Pengawas Bibit Ternak", "ahli", female=0.3, degree="pertanian"),
                ]
            ),
        ),
    ),
    (
        "dinas",
        "ketahanan pangan",
        _Profile(
            weight=70,
            heads=_dinas(
                "Ketersediaan dan Distribusi Pangan",
                "Konsumsi dan Keamanan Pangan",
                "Perikanan",
            ),
            specialist=0.45,
            roles=_Pick(
                [
                    _r(8, "Analis Ketahanan Pangan", "ahli", degree="pertanian"),
                    _r(6, "Penyuluh Perikanan", "ahli", female=0.3, degree="pertanian"),
                    _r(3, "Pengawas Mutu Hasil Pertanian", "ahli", degree="pertanian"),
                ]
            ),
        ),
    ),
    (
        "dinas",
        "pekerjaan umum",
        _Profile(
            weight=140,
            heads=_dinas(
                "Bina Marga", "Sumber Daya Air", "Cipta Karya", "Penataan Ruang", "Bina Konstruksi"
            ),
            specialist=0.5,
            roles=_Pick(
                [
                    _r(8, "Teknik Jalan dan Jembatan", "ahli", female=0.2, degree="teknik"),
                    _r(6, "Teknik Jalan dan Jembatan", "terampil", female=0.1, degree="teknik_d3"),
                    _r(5, "Teknik Pengairan", "ahli", female=0.2, degree="teknik"),
                    _r(4, "Teknik Pengairan", "terampil", female=0.1, degree="teknik_d3"),
                    _r(3, "Penata Ruang", "ahli", female=0.4, degree="teknik"),
                    _r(
                        3, "Teknik Tata Bangunan dan Perumahan", "ahli", female=0.3, degree="teknik"
                    ),
                    _r(2, "Pembina Jasa Konstruksi", "ahli", female=0.3, degree="teknik"),
                ]
            ),
            head_female=0.15,
        ),
    ),
    (
        "dinas",
        "perumahan",
        _Profile(
            weight=55,
            heads=_dinas("Perumahan", "Kawasan Permukiman", "Pertanahan"),
            specialist=0.35,
            roles=_Pick(
                [
                    _r(
                        6, "Teknik Tata Bangunan dan Perumahan", "ahli", female=0.3, degree="teknik"
                    ),
                    _r(
                        3,
                        "Teknik Tata Bangunan dan Perumahan",
                        "terampil",
                        female=0.2,
                        degree="teknik_d3",
                    ),
                    _r(2, "Analis Pertanahan", "ahli", degree="hukum"),
                ]
            ),
        ),
    ),
    (
        "dinas",
        "keluarga berencana",
        _Profile(
            weight=70,
            heads=_dinas(
                "Pengendalian Penduduk dan Keluarga Berencana",
                "Pemberdayaan Perempuan",
                "Perlindungan Anak",
            ),
            specialist=0.4,
            roles=_Pick(
                [
                    _r(8, "Penyuluh Keluarga Berencana", "ahli", female=0.6, degree="sosial"),
                    _r(
                        4, "Penyuluh Keluarga Berencana", "terampil", female=0.6, degree="pelaksana"
                    ),
                    _r(2, "Pekerja Sosial", "ahli", female=0.65, degree="sosial"),
                    _r(1, "Psikolog Klinis", "ahli", female=0.75, degree="sosial"),
                ]
            ),
            head_female=0.55,
        ),
    ),
    (
        "dinas",
        "sosial",
        _Profile(
            weight=60,
            heads=_dinas(
                "Rehabilitasi Sosial",
                "Perlindungan dan Jaminan Sosial",
                "Pemberdayaan Sosial dan Penanganan Fakir Miskin",
            ),
            specialist=0.4,
            roles=_Pick(
                [
                    _r(6, "Pekerja Sosial", "ahli", female=0.6, degree="sosial"),
                    _r(4, "Pekerja Sosial", "terampil", female=0.55, degree="pelaksana"),
                    _r(3, "Penyuluh Sosial", "ahli", female=0.5, degree="sosial"),
                ]
            ),
        ),
    ),
    (
        "dinas",
        "lingkungan hidup",
        _Profile(
            weight=90,
            heads=_dinas(
                "Tata Lingkungan",
                "Pengendalian Pencemaran dan Kerusakan Lingkungan",
                "Pengelolaan Sampah dan Limbah B3",
                "Pertamanan",
            ),
            specialist=0.35,
            roles=_Pick(
                [
                    _r(6, "Pengendali Dampak Lingkungan", "ahli", degree="teknik"),
                    _r(3, "Pengawas Lingkungan Hidup", "ahli", degree="teknik"),
                    _r(5, "Petugas Kebersihan", female=0.2, degree="none"),
                ]
            ),
        ),
    ),
    (
        "dinas",
        "kependudukan",
        _Profile(
            weight=70,
            heads=_dinas(
                "Pelayanan Pendaftaran Penduduk",
                "Pelayanan Pencatatan Sipil",
                "Pengelolaan Informasi Administrasi Kependudukan",
                "Pemanfaatan Data dan Inovasi Pelayanan",
            ),
            specialist=0.5,
            roles=_Pick(
                [
                    _r(6, "Administrator Database Kependudukan", "ahli", degree="komputer"),
                    _r(10, "Pengadministrasi Kependudukan", female=0.55, degree="pelaksana"),
                    _r(8, "Pengelola Data Kependudukan", female=0.5, degree="pelaksana"),
                ]
            ),
        ),
    ),
    (
        "dinas",
        "pemberdayaan masyarakat",
        _Profile(
            weight=45,
            heads=_dinas(
                "Pemerintahan Desa", "Pemberdayaan Masyarakat Desa", "Pengembangan Ekonomi Desa"
            ),
            specialist=0.35,
            roles=_Pick([_r(8, "Penggerak Swadaya Masyarakat", "ahli", degree="pemerintahan")]),
        ),
    ),
    (
        "dinas",
        "perhubungan",
        _Profile(
            weight=90,
            heads=(
                *_dinas("Lalu Lintas", "Angkutan", "Sarana dan Prasarana"),
                "Kepala UPT Pengujian Kendaraan Bermotor",
            ),
            specialist=0.5,
            roles=_Pick(
                [
                    _r(8, "Penguji Kendaraan Bermotor", "terampil", female=0.1, degree="teknik_d3"),
                    _r(2, "Penguji Kendaraan Bermotor", "ahli", female=0.15, degree="teknik"),
                    _r(8, "Petugas Pengatur Lalu Lintas", female=0.1, degree="none"),
                ]
            ),
            head_female=0.1,
        ),
    ),
    (
        "dinas",
        "informatika",
        _Profile(
            weight=55,
            heads=_dinas(
                "Informasi dan Komunikasi Publik",
                "Aplikasi Informatika",
                "Persandian dan Statistik",
                "Infrastruktur Teknologi Informasi dan Komunikasi",
            ),
            specialist=0.5,
            roles=_Pick(
                [
                    _r(6, "Pranata Komputer", "ahli", female=0.35, degree="komputer"),
                    _r(6, "Pranata Hubungan Masyarakat", "ahli", female=0.5, degree="komunikasi"),
                    _r(3, "Statistisi", "ahli", female=0.55, degree="perencana"),
                    _r(2, "Sandiman", "ahli", female=0.3, degree="komputer"),
                    _r(2, "Manggala Informatika", "ahli", female=0.35, degree="komputer"),
                ]
            ),
        ),
    ),
    (
        "dinas",
        "koperasi",
        _Profile(
            weight=40,
            heads=_dinas("Koperasi", "Usaha Mikro"),
            specialist=0.3,
            roles=_Pick(
                [
                    _r(5, "Pengawas Koperasi", "ahli", degree="keuangan"),
                    _r(3, "Penyuluh Koperasi", "terampil", degree="pelaksana"),
                ]
            ),
        ),
    ),
    (
        "dinas",
        "penanaman modal",
        _Profile(
            weight=50,
            heads=_dinas("Penanaman Modal", "Pelayanan Perizinan", "Pengaduan dan Pengawasan"),
            specialist=0.4,
            roles=_Pick(
                [
                    _r(6, "Penata Perizinan", "ahli", female=0.5, degree="hukum"),
                    _r(3, "Penata Perizinan", "terampil", female=0.5, degree="pelaksana"),
                    _r(2, "Analis Pengaduan Masyarakat", female=0.5, degree="pemerintahan"),
                ]
            ),
        ),
    ),
    (
        "dinas",
        "olahraga",
        _Profile(
            weight=55,
            heads=_dinas("Kepemudaan dan Olahraga", "Kebudayaan", "Pariwisata"),
            specialist=0.3,
            roles=_Pick(
                [
                    _r(4, "Pamong Budaya", "ahli", degree="pemerintahan"),
                    _r(3, "Adyatama Kepariwisataan dan Ekonomi Kreatif", "ahli"),
                    _r(3, "Pengelola Cagar Budaya", female=0.35, degree="pelaksana"),
                ]
            ),
        ),
    ),
    (
        "dinas",
        "perpustakaan",
        _Profile(
            weight=45,
            heads=_dinas("Perpustakaan", "Kearsipan"),
            specialist=0.55,
            roles=_Pick(
                [
                    _r(5, "Pustakawan", "ahli", female=0.65, degree="pustaka"),
                    _r(6, "Pustakawan", "terampil", female=0.65, degree="pustaka"),
                    _r(4, "Arsiparis", "ahli", female=0.55, degree="pustaka"),
                    _r(4, "Arsiparis", "terampil", female=0.55, degree="pelaksana"),
                ]
            ),
            head_female=0.45,
        ),
    ),
    (
        "dinas",
        "perindustrian",
        _Profile(
            weight=55,
            heads=_dinas("Perindustrian", "Perdagangan", "Pengelolaan Pasar", "Metrologi Legal"),
            specialist=0.4,
            roles=_Pick(
                [
                    _r(2, "Penera", "ahli", female=0.25, degree="teknik"),
                    _r(3, "Penera", "terampil", female=0.2, degree="teknik_d3"),
                    _r(3, "Pengawas Perdagangan", "ahli", degree="keuangan"),
                    _r(2, "Penguji Mutu Barang", "ahli", degree="teknik"),
                    _r(6, "Pengelola Pasar", female=0.25, degree="pelaksana"),
                ]
            ),
        ),
    ),
    (
        "dinas",
        "tenaga kerja",
        _Profile(
            weight=40,
            heads=_dinas(
                "Pelatihan dan Produktivitas",
                "Penempatan dan Perluasan Kesempatan Kerja",
                "Hubungan Industrial",
            ),
            specialist=0.35,
            roles=_Pick(
                [
                    _r(4, "Pengantar Kerja", "ahli", degree="pemerintahan"),
                    _r(3, "Mediator Hubungan Industrial", "ahli", degree="hukum"),
                    _r(3, "Instruktur", "ahli", female=0.3, degree="teknik"),
                ]
            ),
        ),
    ),
    (
        "badan",
        "perencanaan",
        _Profile(
            weight=65,
            heads=_badan(
                "Perencanaan Pemerintahan dan Pembangunan Manusia",
                "Perencanaan Perekonomian dan Sumber Daya Alam",
                "Perencanaan Infrastruktur dan Kewilayahan",
                "Penelitian dan Pengembangan",
            ),
            specialist=0.5,
            roles=_Pick(
                [
                    _r(14, "Perencana", "ahli", degree="perencana"),
                    _r(3, "Peneliti", "ahli", degree="perencana"),
                    _r(2, "Statistisi", "ahli", female=0.55, degree="perencana"),
                ]
            ),
        ),
    ),
    (
        "badan",
        "keuangan",
        _Profile(
            weight=110,
            heads=_badan("Anggaran", "Perbendaharaan", "Akuntansi dan Pelaporan", "Aset"),
            specialist=0.5,
            roles=_Pick(
                [
                    _r(
                        10,
                        "Analis Keuangan Pusat dan Daerah",
                        "ahli",
                        female=0.55,
                        degree="keuangan",
                    ),
                    _r(8, "Pengelola Keuangan", female=0.6, degree="keuangan"),
                    _r(6, "Pengelola Barang Milik Daerah", female=0.4, degree="keuangan"),
                    _r(3, "Penata Laporan Keuangan", female=0.6, degree="keuangan"),
                ]
            ),
            head_female=0.4,
        ),
    ),
    (
        "badan",
        "pendapatan",
        _Profile(
            weight=90,
            heads=_badan(
                "Pendataan dan Penetapan",
                "Penagihan dan Pengendalian",
                "Pajak Bumi dan Bangunan dan BPHTB",
            ),
            specialist=0.5,
            roles=_Pick(
                [
                    _r(8, "Pemeriksa Pajak Daerah", "ahli", degree="keuangan"),
                    _r(8, "Pengelola Pajak dan Retribusi Daerah", female=0.5, degree="keuangan"),
                    _r(4, "Penilai Pajak Bumi dan Bangunan", "ahli", degree="keuangan"),
                ]
            ),
        ),
    ),
    (
        "badan",
        "kepegawaian",
        _Profile(
            weight=75,
            heads=_badan(
                "Pengadaan dan Informasi Kepegawaian",
                "Mutasi dan Promosi",
                "Pengembangan Kompetensi",
                "Penilaian Kinerja dan Penghargaan",
            ),
            specialist=0.55,
            roles=_Pick(
                [
                    _r(
                        12,
                        "Analis Sumber Daya Manusia Aparatur",
                        "ahli",
                        female=0.55,
                        degree="pemerintahan",
                    ),
                    _r(
                        8,
                        "Pranata Sumber Daya Manusia Aparatur",
                        "terampil",
                        female=0.55,
                        degree="pelaksana",
                    ),
                    _r(
                        2,
                        "Asesor Sumber Daya Manusia Aparatur",
                        "ahli",
                        female=0.5,
                        degree="sosial",
                    ),
                    _r(1, "Widyaiswara", "ahli", female=0.4, degree="pemerintahan"),
                ]
            ),
            head_female=0.4,
        ),
    ),
    (
        "badan",
        "bencana",
        _Profile(
            weight=50,
            heads=_badan(
                "Pencegahan dan Kesiapsiagaan",
                "Kedaruratan dan Logistik",
                "Rehabilitasi dan Rekonstruksi",
                head="Kepala Pelaksana",
            ),
            specialist=0.45,
            roles=_Pick(
                [
                    _r(8, "Penata Penanggulangan Bencana", "ahli", female=0.25, degree="teknik"),
                    _r(
                        8,
                        "Penata Penanggulangan Bencana",
                        "terampil",
                        female=0.15,
                        degree="pelaksana",
                    ),
                ]
            ),
            head_female=0.1,
        ),
    ),
    (
        "badan",
        "kesatuan bangsa",
        _Profile(
            weight=35,
            heads=_badan(
                "Ideologi dan Wawasan Kebangsaan",
                "Politik Dalam Negeri",
                "Ketahanan Ekonomi, Sosial dan Budaya",
                "Kewaspadaan Nasional dan Penanganan Konflik",
            ),
            specialist=0.2,
            roles=_Pick([_r(6, "Analis Kebijakan", "ahli", degree="pemerintahan")]),
        ),
    ),
    (
        "sekretariat",
        "dprd",
        _Profile(
            weight=60,
            heads=(
                "Sekretaris DPRD",
                "Kepala Bagian Umum dan Keuangan",
                "Kepala Bagian Persidangan dan Perundang-undangan",
                "Kepala Bagian Fasilitasi Penganggaran dan Pengawasan",
            ),
            specialist=0.3,
            roles=_Pick(
                [
                    _r(4, "Perancang Peraturan Perundang-undangan", "ahli", degree="hukum"),
                    _r(4, "Analis Kebijakan", "ahli", degree="pemerintahan"),
                    _r(2, "Pranata Hubungan Masyarakat", "ahli", degree="komunikasi"),
                    _r(3, "Pramu Bakti", female=0.3, degree="none"),
                ]
            ),
        ),
    ),
    (
        "sekretariat",
        "",
        _Profile(
            weight=70,
            heads=(
                "Sekretaris Daerah",
                "Asisten Pemerintahan dan Kesejahteraan Rakyat",
                "Asisten Perekonomian dan Pembangunan",
                "Asisten Administrasi Umum",
                "Staf Ahli Bupati Bidang Hukum, Politik dan Pemerintahan",
                "Staf Ahli Bupati Bidang Ekonomi dan Keuangan",
                "Staf Ahli Bupati Bidang Kemasyarakatan dan Sumber Daya Manusia",
            ),
            specialist=0.3,
            roles=_Pick(
                [
                    _r(8, "Analis Kebijakan", "ahli", degree="pemerintahan"),
                    _r(2, "Pranata Hubungan Masyarakat", "ahli", degree="komunikasi"),
                ]
            ),
            head_female=0.2,
        ),
    ),
    (
        "inspektorat",
        "",
        _Profile(
            weight=70,
            heads=(
                "Inspektur",
                "Sekretaris Inspektorat",
                "Inspektur Pembantu Wilayah I",
                "Inspektur Pembantu Wilayah II",
                "Inspektur Pembantu Wilayah III",
                "Inspektur Pembantu Wilayah IV",
                "Inspektur Pembantu Khusus",
            ),
            specialist=0.7,
            roles=_Pick(
                [
                    _r(14, "Auditor", "ahli", female=0.5, degree="keuangan"),
                    _r(3, "Auditor", "terampil", female=0.5, degree="keuangan"),
                    _r(
                        8,
                        "Pengawas Penyelenggaraan Urusan Pemerintahan di Daerah",
                        "ahli",
                        female=0.45,
                        degree="pemerintahan",
                    ),
                ]
            ),
        ),
    ),
    (
        "bagian",
        "hukum",
        _bagian(
            _r(5, "Perancang Peraturan Perundang-undangan", "ahli", degree="hukum"),
            _r(4, "Analis Hukum", "ahli", degree="hukum"),
        ),
    ),
    (
        "bagian",
        "protokol",
        _bagian(
            _r(6, "Pranata Hubungan Masyarakat", "ahli", degree="komunikasi"),
            _r(4, "Pranata Hubungan Masyarakat", "terampil", degree="pelaksana"),
            _r(3, "Pengelola Protokol", female=0.5, degree="pelaksana"),
            _r(2, "Pranata Komputer", "ahli", female=0.3, degree="komputer"),
        ),
    ),
    (
        "bagian",
        "organisasi",
        _bagian(
            _r(4, "Analis Jabatan", "ahli", degree="pemerintahan"),
            _r(3, "Analis Tata Laksana", "ahli", degree="pemerintahan"),
            _r(3, "Analis Kebijakan", "ahli", degree="pemerintahan"),
        ),
    ),
    (
        "bagian",
        "pengadaan",
        _bagian(_r(8, "Pengelola Pengadaan Barang/Jasa", "ahli", female=0.4, degree="teknik")),
    ),
    (
        "bagian",
        "umum",
        _bagian(
            _r(4, "Pengemudi", female=0.0, degree="none"),
            _r(4, "Pramu Bakti", female=0.3, degree="none"),
            _r(3, "Pengelola Rumah Tangga", degree="pelaksana"),
        ),
    ),
    ("kecamatan", "", _KECAMATAN),
    ("rsud", "", _RSUD),
    ("bagian", "", _BAGIAN),
)
_DEFAULT = _Profile(
    weight=50,
    heads=("Kepala", "Sekretaris"),
    specialist=0.3,
    roles=_Pick([_r(6, "Analis Kebijakan", "ahli", degree="pemerintahan")]),
)
# The two hospitals are not alike: Soekandar in Mojosari is the referral hospital.
_WEIGHT_BY_KODE = {"RSUD-SOEKANDAR": 620.0, "RSUD-BASOENI": 330.0}
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
