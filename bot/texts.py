"""Every text a person reads in chat, in one catalogue per language.

Only Bahasa Indonesia exists today; another language is a second dict with the same keys.
"""

from __future__ import annotations

from typing import Any

ID: dict[str, str] = {
    "post.header": "📣 Unggahan baru dari {opd}",
    "post.reminder_header": "⏰ Pengingat: unggahan dari {opd} belum Anda tandai",
    "post.body": "{header}\n\n{caption}{url}\n\nBuka tautan, beri like dan bagikan dari akun Anda "
    "sendiri, lalu tandai di bawah ini.",
    "button.like": "👍 Sudah Like",
    "button.share": "🔁 Sudah Share",
    "button.liked": "✅ Sudah Like",
    "button.shared": "✅ Sudah Share",
    "button.open": "🔗 Buka postingan",
    "platform.instagram": "Instagram",
    "platform.facebook": "Facebook",
    "platform.tiktok": "TikTok",
    "platform.x": "X",
    "platform.youtube": "YouTube",
    "platform.web": "situs berita",
}

CATALOGUES: dict[str, dict[str, str]] = {"id": ID}


def t(key: str, lang: str = "id", **values: Any) -> str:
    text = CATALOGUES.get(lang, ID).get(key) or ID[key]
    return text.format(**values) if values else text
