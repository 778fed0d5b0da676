"""``docs/privacy.md`` says, in Indonesian and in English, everything issue 12 asks of it, and
what it names still exists: a command, setting or table renamed in the code fails here until
the notice follows. No database: the notice is read as text, the names from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import SQLModel
from typer.testing import CliRunner

from api.cli import app as gaung
from db.accounts.consent import CONSENT_VERSION
from db.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
NOTICE = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
INDONESIAN, _, ENGLISH = NOTICE.partition("\n## English\n")
_, _, INDONESIAN = INDONESIAN.partition("\n## Bahasa Indonesia\n")
LANGUAGES = {"id": INDONESIAN, "en": ENGLISH}

# What the issue lists, as each language words it: its sections, then the words they must carry.
SECTIONS = {
    "id": [
        "Apa yang disimpan, di mana, untuk apa",
        "Dasar pemrosesan",
        "Siapa melihat apa",
        "Hak ASN: akses, penghapusan, berhenti",
        "Masa simpan",
        "Jika terjadi kebocoran",
        "DPIA",
    ],
    "en": [
        "What is stored, where, and why",
        "Legal basis",
        "Who sees what",
        "The ASN's rights: access, erasure, stopping",
        "Retention",
        "Breach procedure",
        "DPIA",
    ],
}
# Per section (in order: stored, basis, who sees, rights, retention, breach, DPIA), what it
# must carry in both languages, then what only each language's wording has.
BOTH_SAY: list[list[str]] = [
    ["WhatsApp", "Telegram"],
    ["`/start`", "CONSENT_VERSION", "`/berhenti`", "`/hapus`"],
    ["GET /api/v1/opd/{kode}/asn", "`/hapus`"],
    ["`/hapus`", "`gaung asn erase NIP`", "`gaung asn export NIP`", "JSON", "3 × 24"],
    ["`GAUNG_RETENTION_MONTHS`", "`gaung worker`", "WhatsApp"],
    ["3 × 24"],
    ["DPIA", "Telegram/Meta"],
]
MUST_SAY = {
    "id": [[], ["Peraturan Bupati", "Persetujuan", "Pasal 20"], [], [], [], ["Pasal 46"], []],
    "en": [[], ["Perbup", "Consent", "UU 27/2022", "Article 20"], [], [], [], ["Article 46"], []],
}
# Every table holding personal data or built from it, named where the notice says what it keeps.
PERSONAL_TABLES = [
    "asn",
    "chat_identity",
    "consent",
    "delivery",
    "confirmation",
    "registration_request",
    "processed_update",
    "audit_log",
    "chat_allowance",
    "chat_pace",
    "post_opd_stat",
    "opd_day_stat",
]


def sections(text: str) -> list[tuple[str, str]]:
    """(title, body) of each ``### N. title`` section, in order."""
    parts = re.split(r"^### \d+\. (.+)$", text, flags=re.MULTILINE)[1:]
    return list(zip(parts[::2], parts[1::2], strict=True))


@pytest.mark.parametrize("lang", ["id", "en"])
def test_each_language_has_every_section_and_says_what_the_issue_lists(lang: str) -> None:
    text = LANGUAGES[lang]
    found = sections(text)
    assert len(found) == len(SECTIONS[lang]), [title for title, _ in found]
    for n, (title, body) in enumerate(found):
        assert SECTIONS[lang][n] in title, (title, SECTIONS[lang][n])
        for words in BOTH_SAY[n] + MUST_SAY[lang][n]:
            assert words in title + body, f"{lang}, section {n + 1} ({title}): {words!r} missing"
    for name in PERSONAL_TABLES:
        assert f"`{name}" in text, f"{lang}: table {name} not named"


def test_the_default_period_is_the_one_the_notice_states() -> None:
    default = Settings.model_fields["retention_months"].default
    assert f"`GAUNG_RETENTION_MONTHS` (bawaan {default})" in INDONESIAN
    assert f"`GAUNG_RETENTION_MONTHS` (default {default})" in ENGLISH
    assert CONSENT_VERSION  # the name the notice points to is there to be read


def test_every_setting_table_and_column_named_exists() -> None:
    settings = {f"GAUNG_{name.upper()}" for name in Settings.model_fields}
    assert sorted(set(re.findall(r"GAUNG_[A-Z_]+", NOTICE)) - settings) == []
    tables = SQLModel.metadata.tables
    assert all(name in tables for name in PERSONAL_TABLES)
    for table, column, every in re.findall(r"`([a-z_]+)\.([a-z_]+)(\*?)", NOTICE):
        assert table in tables, table
        names = tables[table].c.keys()
        found = (
            [n for n in names if n.startswith(column)] if every else [column] * (column in names)
        )
        assert found, f"{table}.{column}{every}"


def test_every_gaung_command_named_exists() -> None:
    named = {
        tuple(word for word in span.split()[1:] if re.fullmatch(r"[a-z]+", word))
        for span in re.findall(r"`(gaung [^`]+)`", NOTICE)
    }
    assert ("asn", "erase") in named and ("asn", "export") in named
    for words in sorted(named):
        answer = CliRunner().invoke(gaung, [*words, "--help"])
        assert answer.exit_code == 0, (words, answer.output)


def test_the_signing_key_rotation_is_documented_in_both_languages() -> None:
    """The notice relies on it (a breach: change the keys); operations.md says how."""
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for how in ("`GAUNG_SECRET_KEY` menandatangani", "Untuk menggantinya", "To rotate it"):
        assert how in operations
