from __future__ import annotations

import csv
import hashlib
import io
import time
from collections import Counter
from datetime import date
from importlib.resources import files
from pathlib import Path

import phonenumbers
import pytest
from openpyxl import load_workbook

from db.roster.nip import normalize_nip
from db.roster.phones import normalize_phone
from db.roster.synthetic import (
    COLUMNS,
    FEMALE_NAME_PARTS,
    MALE_NAME_PARTS,
    NAME_PREFIX_TITLES,
    OpdRow,
    RosterRow,
    generate_roster,
    load_opd_list,
    write_roster_csv,
    write_roster_xlsx,
)

TODAY = date(2026, 11, 22)
# The package's copy of the shared data's opd-mojokerto.csv (its SHA-256 then): a change to the
# list must be a deliberate one, made here too.
PACKAGED_OPD_CSV = files("db") / "data" / "opd_mojokerto.csv"
SHARED_OPD_SHA256 = "d22635862cd295fbc0c97a7559f5a92c8fc0eb5af21e02b688ea8e7b8ef87e15"


@pytest.fixture(scope="module")
def roster() -> list[RosterRow]:
    return generate_roster(today=TODAY)


def _name_words(nama: str) -> list[str]:
    """The words of the name proper: without the degrees after the comma or the titles before."""
    return [w for w in nama.split(",", 1)[0].split() if w not in NAME_PREFIX_TITLES]


def test_opd_list_is_the_58_offices_of_the_regency() -> None:
    opds = load_opd_list()
    assert len(opds) == 58
    assert len({o.kode for o in opds}) == 58
    assert all(o.kode and o.nama and o.jenis for o in opds)
    kinds = Counter(o.jenis for o in opds)
    assert kinds["kecamatan"] == 18
    assert kinds["rsud"] == 2


def test_packaged_opd_list_is_the_shared_data_read_whole() -> None:
    """The packaged file, not a checkout's ../shared: every clean clone runs this."""
    raw = PACKAGED_OPD_CSV.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SHARED_OPD_SHA256
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert len(rows) == 58
    assert load_opd_list() == [OpdRow(r["opd_kode"], r["opd_nama"], r["jenis"]) for r in rows]


def test_default_size_and_determinism(roster: list[RosterRow]) -> None:
    assert len(roster) == 8000
    assert generate_roster(today=TODAY) == roster
    assert generate_roster(seed=7, today=TODAY) != roster


def test_same_roster_whatever_day_it_is_generated(roster: list[RosterRow]) -> None:
    assert generate_roster(today=date(2031, 5, 1)) == roster


@pytest.mark.parametrize("n", [0, 1, 57, 58, 290, 1234])
def test_exact_count_for_any_size(n: int) -> None:
    rows = generate_roster(n, seed=n, today=TODAY)
    assert len(rows) == n
    assert len({r.nip for r in rows}) == n
    if n >= 58:
        assert len({r.opd_kode for r in rows}) == 58


def test_fast_enough_for_the_demo() -> None:
    # CPU seconds of this process, not the wall clock: other processes on a loaded machine
    # stretch the latter, never the former.
    began = time.process_time()
    generate_roster(today=TODAY)
    assert time.process_time() - began < 2.0  # typically ~0.3 s


def test_nips_are_unique_and_valid(roster: list[RosterRow]) -> None:
    assert len({r.nip for r in roster}) == len(roster)
    for row in roster:
        assert normalize_nip(row.nip, today=TODAY) == row.nip
        born = date(int(row.nip[0:4]), int(row.nip[4:6]), int(row.nip[6:8]))
        assert 1966 <= born.year <= 2001
        start_year, start_month = int(row.nip[8:12]), int(row.nip[12:14])
        assert (start_year, start_month) <= (TODAY.year, TODAY.month)
        turned_19 = (born.year + 19, born.month)
        assert (start_year, start_month) > turned_19, row.nip
        assert row.nip[14] in "12"
        assert 1 <= int(row.nip[15:]) <= 999


def test_nips_are_valid_for_an_earlier_today() -> None:
    today = date(2015, 3, 10)
    rows = generate_roster(2000, today=today)
    for row in rows:
        assert normalize_nip(row.nip, today=today) == row.nip
        assert (int(row.nip[8:12]), int(row.nip[12:14])) <= (2015, 3)
        assert int(row.nip[0:4]) <= 2015 - 20


def test_phones_are_unique_valid_indonesian_mobiles(roster: list[RosterRow]) -> None:
    assert len({r.telepon for r in roster}) == len(roster)
    prefixes = {
        *("811", "812", "813", "821", "822", "823", "851", "852", "853"),  # Telkomsel
        *("814", "815", "816", "855", "856", "857", "858"),  # Indosat
        *("817", "818", "819", "859", "877", "878"),  # XL
        *("895", "896", "897", "898", "899"),  # Tri
        *(f"88{d}" for d in range(1, 10)),  # Smartfren
    }
    for row in roster:
        assert normalize_phone(row.telepon) == row.telepon
        number = phonenumbers.parse(row.telepon)
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
        national = row.telepon.removeprefix("+62")
        assert national[:3] in prefixes
        assert 10 <= len(national) <= 12
    operators = Counter(r.telepon[3:5] for r in roster)
    assert len(operators) >= 4  # 81, 82, 85, 87, 88, 89


def test_every_opd_is_staffed_in_plausible_proportions(roster: list[RosterRow]) -> None:
    opds = {o.kode: o for o in load_opd_list()}
    sizes = Counter(r.opd_kode for r in roster)
    assert set(sizes) == set(opds)
    assert min(sizes.values()) >= 5
    assert sizes.most_common(1)[0][0] == "DISDIK"
    assert sizes["DISDIK"] > 0.3 * len(roster)
    assert sizes["DINKES"] > 400 and sizes["RSUD-SOEKANDAR"] > 400
    kecamatan = [sizes[k] for k, o in opds.items() if o.jenis == "kecamatan"]
    bagian = [sizes[k] for k, o in opds.items() if o.jenis == "bagian"]
    assert max(kecamatan + bagian) < min(sizes["DINKES"], sizes["RSUD-BASOENI"], 100)
    for row in roster:
        assert row.opd_nama == opds[row.opd_kode].nama


def test_positions_fit_the_office(roster: list[RosterRow]) -> None:
    by_opd: dict[str, list[RosterRow]] = {}
    for row in roster:
        by_opd.setdefault(row.opd_kode, []).append(row)
    for kode, rows in by_opd.items():
        if kode.startswith("KEC-"):
            titles = [r.jabatan for r in rows]
            assert titles.count("Camat") == 1
            assert "Sekretaris Kecamatan" in titles
            assert "Kasi Pemerintahan" in titles
    disdik = Counter(r.jabatan for r in by_opd["DISDIK"])
    assert sum(v for k, v in disdik.items() if k.startswith("Guru Ahli")) > 0.7 * len(
        by_opd["DISDIK"]
    )
    assert disdik["Guru Ahli Pertama"] > 0
    rsud = Counter(r.jabatan for r in by_opd["RSUD-SOEKANDAR"])
    assert rsud["Direktur"] == 1
    assert rsud["Perawat Terampil"] > 0 and rsud["Dokter Ahli Pertama"] > 0
    everywhere = Counter(r.jabatan for r in roster)
    for title in ("Pengadministrasi Umum", "Analis Kebijakan Ahli Pertama", "Staf Pelaksana"):
        assert everywhere[title] > 0
    assert any(t.startswith("Kepala Bidang ") for t in everywhere)
    assert any(t.startswith("Pranata Komputer ") for t in everywhere)


def test_titles_fit_the_position(roster: list[RosterRow]) -> None:
    for row in roster:
        if row.jabatan.startswith("Dokter Ahli"):
            assert row.nama.startswith("dr. "), row
        if row.jabatan.startswith("Dokter Gigi"):
            assert row.nama.startswith("drg. "), row
        if row.jabatan.startswith("Guru Ahli"):
            assert ", S." in row.nama or ", M." in row.nama, row
        if row.jabatan.startswith("Apoteker"):
            assert row.nama.startswith("apt. "), row
    assert any(", S.Pd." in r.nama for r in roster)
    assert any(r.nama.startswith("Ns. ") for r in roster)
    assert any(", S.Kep." in r.nama for r in roster)
    assert any(", S.Sos." in r.nama for r in roster)
    assert any(", S.T." in r.nama for r in roster)
    assert any("M.Si." in r.nama for r in roster)
    assert any(", " not in r.nama for r in roster)  # plenty of staff have no degree


def test_name_lists_do_not_overlap() -> None:
    assert not MALE_NAME_PARTS & FEMALE_NAME_PARTS
    assert len(MALE_NAME_PARTS) + len(FEMALE_NAME_PARTS) >= 400


def test_name_sex_matches_the_nip(roster: list[RosterRow]) -> None:
    for row in roster:
        sex = row.nip[14]
        words = _name_words(row.nama)
        own, other = (
            (MALE_NAME_PARTS, FEMALE_NAME_PARTS)
            if sex == "1"
            else (FEMALE_NAME_PARTS, MALE_NAME_PARTS)
        )
        assert any(w in own for w in words), row
        assert not any(w in other for w in words), row
        # Markers that need no list: the hajj titles and the best-known given names.
        if "Hj." in row.nama.split():
            assert sex == "2", row
        if "H." in row.nama.split():
            assert sex == "1", row
        if words[0] in ("Siti", "Sri") or row.jabatan.startswith("Bidan"):
            assert sex == "2", row
        if words[0] in ("Moch.", "Muhammad", "Achmad", "Bambang", "Agus", "Abdul"):
            assert sex == "1", row
    sexes = Counter(r.nip[14] for r in roster)
    assert 0.35 < sexes["2"] / len(roster) < 0.7


def test_names_are_varied_but_may_repeat(roster: list[RosterRow]) -> None:
    names = Counter(r.nama for r in roster)
    assert len(names) > 0.95 * len(roster)
    bare = Counter(" ".join(_name_words(r.nama)) for r in roster)
    assert bare.most_common(1)[0][1] >= 2
    assert all(len(r.nama) <= 200 and len(r.jabatan) <= 200 for r in roster)


def test_custom_opd_list_is_used() -> None:
    opds = [
        OpdRow("DINDIK", "Dinas Pendidikan", "dinas"),
        OpdRow("KEC-A", "Kecamatan A", "kecamatan"),
        OpdRow("X", "Kantor Baru", "kantor"),
    ]
    rows = generate_roster(100, opds=opds, today=TODAY)
    sizes = Counter(r.opd_kode for r in rows)
    assert sum(sizes.values()) == 100
    assert set(sizes) == {"DINDIK", "KEC-A", "X"}
    assert sizes["DINDIK"] > sizes["KEC-A"]
    with pytest.raises(ValueError):
        generate_roster(10, opds=[], today=TODAY)


def test_csv_round_trip(tmp_path: Path, roster: list[RosterRow]) -> None:
    path = tmp_path / "roster.csv"
    write_roster_csv(roster, path)
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        assert tuple(next(reader)) == COLUMNS
        back = [RosterRow(*row) for row in reader]
    assert back == roster


def test_xlsx_round_trip_keeps_nip_and_phone_as_text(
    tmp_path: Path, roster: list[RosterRow]
) -> None:
    path = tmp_path / "roster.xlsx"
    began = time.process_time()  # CPU seconds: a loaded machine does not stretch them
    write_roster_xlsx(roster, path)
    assert time.process_time() - began < 10.0
    workbook = load_workbook(path, read_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows()
        assert tuple(c.value for c in next(rows)) == COLUMNS
        back: list[RosterRow] = []
        for cells in rows:
            nip, telepon = cells[0], cells[5]
            assert isinstance(nip.value, str) and len(nip.value) == 18 and nip.value.isdigit()
            assert nip.data_type == "s" and nip.number_format == "@"
            assert isinstance(telepon.value, str) and telepon.value.startswith("+628")
            assert telepon.number_format == "@"
            back.append(RosterRow(*(str(c.value) for c in cells)))
    finally:
        workbook.close()
    assert back == roster
