"""The consent version names one text: changing the words needs a new version."""

from __future__ import annotations

import hashlib

from bot.texts import ID
from db.accounts.consent import CONSENT_VERSION

# Each version and the SHA-256 of the ``start.consent`` text it names. A new text: add a line
# here and bump ``db.accounts.consent.CONSENT_VERSION``, so that every registration records
# which words the person agreed to.
VERSIONS = {
    "2026-12-01": "7c7a6723a24bcaf1840eebe95e19d739e70bfadbe7cf86a6c226dee7a452c610",
    # The retention period as the deployment sets it ({bulan}), no longer a written-in 12.
    "2026-12-02": "6ab2dfd600864c12397c062842c2333990d7af68675897ab2b56d81748289020",
}


def test_the_consent_text_is_the_one_its_version_names() -> None:
    digest = hashlib.sha256(ID["start.consent"].encode()).hexdigest()
    assert VERSIONS.get(CONSENT_VERSION) == digest, (
        "start.consent changed: give it a new CONSENT_VERSION and pin its digest here"
    )
