"""Every text a person reads in chat, in one catalogue per language.

Only Bahasa Indonesia exists today; another language is a second dict with the same keys.

Chat texts are written in one light markup that every channel can render: plain text whose
only tag is ``<b>…</b>`` and whose values are HTML-escaped (``th``). Telegram takes it as is
(HTML parse mode); WhatsApp turns ``<b>`` into ``*`` (``as_whatsapp``); a toast takes it bare
(``as_plain``). Broadcast posts are plain text (``t``). Where a text names the chat network it
says ``{kanal}``, and the conversation fills in the person's channel.
"""

from __future__ import annotations

import html
import re
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
    # --- posts found in an OPD's own sources (feeds) ---
    "feed.waiting": "🆕 Unggahan baru dari sumber resmi {opd} menunggu persetujuan Diskominfo "
    "(postingan #{id}):\n{caption}{url}\n\nBelum dikirim ke ASN sampai disetujui.",
    # --- registration and consent (UU PDP No. 27/2022) ---
    "start.greeting": "Selamat datang di <b>Gaung</b>, kanal Diskominfo Kabupaten Mojokerto untuk "
    "mengajak ASN menggaungkan unggahan resmi perangkat daerah.",
    "start.consent": "Yang kami simpan: NIP, nama, OPD, jabatan dan nomor HP Anda dari data "
    "kepegawaian, ID akun {kanal} Anda, serta tombol yang Anda tekan (sudah like / sudah "
    "share). Tujuannya hanya mengirim tautan unggahan resmi OPD dan menghitung partisipasi per "
    "OPD. Gaung tidak pernah menyukai atau membagikan atas nama Anda, dan data ini tidak "
    "dipakai untuk penilaian kinerja atau tunjangan. Rincian pengiriman disimpan selama Anda "
    "ASN aktif di Kabupaten Mojokerto dan dihapus {bulan} bulan setelah Anda keluar dari daftar "
    "ASN. Hak Anda (UU PDP No. 27/2022): melihat data Anda (/status), berhenti menerima pesan "
    "(/berhenti), dan menghapus data Anda (/hapus); salinan lengkap data Anda bisa diminta "
    "lewat Diskominfo.",
    "start.how": "Untuk mendaftar, tekan tombol <b>Bagikan nomor saya</b> di bawah. Jika nomor "
    "Anda tidak tercatat, ketik NIP Anda (18 digit) untuk diperiksa admin OPD Anda.",
    "start.how_agree": "Untuk mendaftar dengan nomor ini, tekan <b>Setuju</b>. Jika nomor Anda "
    "tidak tercatat, ketik NIP Anda (18 digit) untuk diperiksa admin OPD Anda.",
    "button.agree": "✅ Setuju",
    "start.registered": "Anda sudah terdaftar sebagai {nama} ({opd}).",
    "start.resumed": "Selamat datang kembali, {nama}. Anda akan menerima unggahan lagi.",
    "button.share_contact": "📱 Bagikan nomor saya",
    "reg.registered": "✅ Terdaftar: {nama}, {opd}. Anda akan menerima unggahan resmi OPD di "
    "sini. Ketik /bantuan untuk panduan.",
    "reg.already": "Anda sudah terdaftar sebagai {nama} ({opd}).",
    "reg.not_own_contact": "Itu kontak orang lain. Untuk mendaftar, bagikan nomor Anda "
    "sendiri dengan tombol <b>Bagikan nomor saya</b>.",
    "reg.not_in_roster": "Nomor {detail} tidak ada di daftar ASN Gaung. Ketik NIP Anda (18 "
    "digit) agar admin OPD memeriksanya, atau minta admin kepegawaian OPD Anda memperbarui "
    "nomor HP di data ASN.",
    "reg.nip_not_in_roster": "NIP {detail} tidak ada di daftar ASN Gaung. Periksa kembali NIP "
    "Anda atau hubungi admin kepegawaian OPD Anda.",
    "reg.inactive": "Data ASN Anda ({nama}) tercatat tidak aktif, jadi belum bisa didaftarkan. "
    "Hubungi admin kepegawaian OPD Anda.",
    "reg.other_account": "ASN {nama} sudah terdaftar dengan akun {kanal} lain. Jika itu bukan "
    "Anda atau Anda berganti akun, hubungi admin OPD Anda.",
    "reg.account_taken": "Akun {kanal} ini sudah terdaftar untuk ASN lain. Hubungi admin "
    "OPD Anda bila ini keliru.",
    "reg.invalid": "Data tidak valid: {detail}.",
    "reg.requested": "Permintaan pendaftaran untuk {nama} ({opd}) sudah dikirim ke admin OPD "
    "Anda. Anda akan diberi tahu setelah diperiksa.",
    "reg.requested_no_admin": "Permintaan pendaftaran untuk {nama} ({opd}) sudah dicatat, "
    "tetapi admin OPD Anda belum terhubung ke Gaung. Mohon hubungi admin media sosial OPD "
    "Anda atau Diskominfo.",
    "reg.nip_received": "Terima kasih. Bila NIP itu tercatat di daftar ASN dan belum terdaftar, "
    "admin OPD-nya akan memeriksa permintaan Anda, dan Anda akan diberi tahu bila disetujui. Bila "
    "tidak ada kabar, hubungi admin kepegawaian OPD Anda.",
    "reg.nip_limit": "Anda sudah {max} kali mengetik NIP hari ini. Coba lagi besok, atau hubungi "
    "admin kepegawaian OPD Anda.",
    "chat.slow_down": "Pesan Anda datang terlalu cepat. Mohon tunggu sebentar, lalu coba lagi.",
    "admin.no_requests": "Tidak ada permintaan pendaftaran yang menunggu.",
    "admin.requests": "{count} permintaan pendaftaran menunggu; {shown} yang terlama:",
    "admin.requester": "akun {kanal} {kanal_id}",
    "reg.pending": "Permintaan pendaftaran Anda untuk {nama} masih menunggu admin OPD.",
    "reg.approved": "✅ Admin OPD menyetujui pendaftaran Anda: {nama}, {opd}.",
    "reg.rejected": "Admin OPD tidak menyetujui pendaftaran untuk NIP ini. Hubungi admin OPD "
    "Anda bila ini keliru.",
    "admin.reg_request": "Permintaan pendaftaran lewat NIP:\n{nama}\nNIP {nip}\n{jabatan}\n"
    "Akun {kanal}: {who}",
    "button.approve": "✅ Setujui",
    "button.reject": "❌ Tolak",
    "admin.reg_approved": "✅ Disetujui: {nama}",
    "admin.reg_rejected": "❌ Ditolak: {nama}",
    "admin.decided_already": "Permintaan ini sudah diputuskan.",
    # --- confirmations ---
    "tap.recorded_like": "Terima kasih! Like tercatat.",
    "tap.recorded_share": "Terima kasih! Share tercatat. Bila mau, kirim tautan repost Anda "
    "di chat ini sebagai bukti (tidak wajib).",
    "tap.already": "Sudah tercatat sebelumnya.",
    "tap.pending": "Sedang dicatat…",
    "tap.refused": "Tombol ini tidak berlaku.",
    "tap.cancelled": "Unggahan ini sudah dibatalkan.",
    # --- commands ---
    "status.unregistered": "Anda belum terdaftar. Ketik /start untuk mendaftar.",
    "status.body": "<b>{nama}</b>\nNIP {nip}\n{opd}\nStatus: {state}\n\n30 hari terakhir: "
    "{delivered} unggahan diterima, {liked} like dan {shared} share Anda laporkan.",
    "status.active": "menerima unggahan",
    "status.stopped": "berhenti menerima (ketik /start untuk melanjutkan)",
    "help": "<b>Gaung</b> mengirim tautan unggahan resmi OPD. Buka tautan, beri like atau "
    "bagikan dari akun Anda sendiri, lalu tekan <b>Sudah Like</b> / <b>Sudah Share</b>."
    "\n\n/status — data dan partisipasi Anda\n/berhenti — berhenti menerima pesan"
    "\n/hapus — hapus data Anda\n/bantuan — pesan ini",
    "help.admin": "\n\nAdmin: kirim tautan unggahan OPD untuk diajukan; /permintaan — "
    "pendaftaran lewat NIP yang menunggu; /laporan — ringkasan "
    "partisipasi; /dashboard — tautan masuk dasbor.",
    "stop.done": "Anda tidak akan menerima unggahan lagi. Ketik /start kapan saja untuk "
    "melanjutkan.",
    "stop.unregistered": "Anda belum terdaftar, jadi tidak ada pesan yang dikirim ke Anda.",
    "erase.confirm": "Hapus data Anda dari Gaung? Akun {kanal} Anda dan riwayat unggahan "
    "serta tombol yang Anda tekan akan dilepas dari nama Anda; jumlah partisipasi OPD tetap "
    "dihitung tanpa nama. NIP, nama, OPD dan nomor HP dari data kepegawaian tetap ada di "
    "sana, jadi Anda bisa mendaftar lagi kapan saja dengan membagikan nomor Anda.",
    "button.erase_yes": "Ya, hapus",
    "button.erase_no": "Batal",
    "erase.done": "Data Anda sudah dihapus. Terima kasih telah ikut menggaungkan.",
    "erase.nothing": "Tidak ada data akun ini di Gaung.",
    "erase.kept": "Data Anda tidak dihapus.",
    "unknown": "Maaf, pesan itu tidak saya pahami. Ketik /bantuan untuk panduan.",
    "error": "Maaf, terjadi gangguan. Silakan coba lagi sebentar lagi.",
    # --- admins: submissions ---
    "submit.not_admin": "Hanya admin OPD yang bisa mengajukan unggahan. Bila Anda admin media "
    "sosial OPD, minta Diskominfo mendaftarkan akun {kanal} Anda.",
    "submit.bad_url": "Tautan ditolak: {detail}.",
    "submit.ask_caption": "Tautan {platform} diterima. Kirim keterangan singkat untuk ASN "
    "(maks. {max} karakter), atau tekan <b>Lewati</b>.",
    "button.skip": "Lewati",
    "submit.caption_too_long": "Keterangan terlalu panjang ({length} karakter, maks. {max}). "
    "Kirim yang lebih singkat.",
    "submit.preview": "Pratinjau unggahan {opd}:\n\n{caption}{url}\n\nAjukan ke Diskominfo?",
    "button.submit": "📤 Ajukan",
    "button.cancel": "Batal",
    "submit.done": "Unggahan #{id} diajukan. Anda akan diberi tahu setelah Diskominfo "
    "memeriksanya.",
    "submit.cancelled": "Pengajuan dibatalkan.",
    "submit.duplicate": "Tautan ini sudah diajukan ({detail}).",
    "review.new": "Unggahan baru #{id} dari {opd} ({platform}):\n\n{caption}{url}",
    "review.cost": "WhatsApp: {all} pesan templat bila untuk semua OPD (perkiraan {currency} "
    "{cost_all}), {own} bila hanya OPD ini ({currency} {cost_own}); kategori {category}, "
    "dihitung dari ASN yang jendela 24 jamnya tertutup.",
    "button.approve_all": "✅ Setujui (semua OPD)",
    "button.approve_own": "✅ Setujui (hanya {opd})",
    "review.ask_reason": "Tulis alasan penolakan unggahan #{id}:",
    "review.approved": "✅ Unggahan #{id} disetujui; {queued} pesan masuk antrean.",
    "review.rejected": "❌ Unggahan #{id} ditolak: {reason}",
    "review.conflict": "Unggahan #{id}: {detail}",
    "submitter.approved": "✅ Unggahan #{id} Anda disetujui Diskominfo dan sedang dikirim ke "
    "{queued} ASN.",
    "submitter.rejected": "❌ Unggahan #{id} Anda ditolak Diskominfo. Alasan: {reason}",
    # --- neutrality guards at approval (issue 15) ---
    "guard.header": "⚠️ Periksa sebelum menyetujui:",
    "guard.keyword": "memuat kata terkait politik/kampanye: {detail}",
    "guard.account_off_list": "akun {detail} tidak ada di daftar akun resmi",
    "guard.account_unknown": "akun tidak dapat dipastikan dari tautan {detail}",
    "review.confirm": "Konfirmasi netralitas unggahan #{id} ({scope}):\nDengan menyetujui, Anda "
    "memastikan unggahan ini tidak memuat calon, partai politik, atau kampanye (netralitas "
    "ASN: UU ASN, SE MenPANRB 137/2018). Persetujuan Anda dicatat.",
    "review.scope_all": "semua OPD",
    "review.scope_own": "hanya {opd}",
    "review.campaign": "Masa kampanye: unggahan perlu disetujui dua admin Diskominfo yang "
    "berbeda ({done} dari 2 sudah).",
    "button.neutral": "✅ Ya, netral",
    "button.back": "Kembali",
    "review.first": "☑️ Persetujuan pertama unggahan #{id} tercatat. Masa kampanye: unggahan "
    "menunggu persetujuan kedua dari admin Diskominfo lain.",
    "review.waiting": "⏳ Unggahan #{id} menunggu persetujuan kedua (masa kampanye).",
    "review.same_admin": "Unggahan #{id} sudah Anda setujui. Masa kampanye memerlukan "
    "persetujuan kedua dari admin Diskominfo lain.",
    "report.body": "<b>Partisipasi 30 hari terakhir</b>{scope}\nTerdaftar: {registered}/{roster} "
    "({reg_rate})\nTerkirim: {delivered} · like {liked} · share {shared} (dilaporkan "
    "sendiri)\nPartisipasi: {participation_rate}",
    "report.top": "\n\nOPD teratas:\n{lines}",
    "report.not_admin": "Perintah ini khusus admin.",
    "dashboard.link": "Tautan masuk dasbor (berlaku 15 menit, jangan dibagikan):\n{url}",
    "dashboard.no_url": "Dasbor belum bisa dibuka: GAUNG_PUBLIC_URL belum diatur.",
    # --- clarification first (issue 15) ---
    "clarify.usage": "Tulis /klarifikasi diikuti nomor unggahan yang sudah disetujui, "
    "misalnya: /klarifikasi 42",
    "clarify.not_diskominfo": "Perintah ini khusus admin Diskominfo.",
    "clarify.done": "📢 Unggahan #{id} ditandai sebagai <b>klarifikasi</b>: kiriman yang masih "
    "antre didahulukan, pengingatnya datang lebih cepat, dan rekap jangkauannya dikirim ke admin "
    "Diskominfo satu jam setelah disetujui.",
    "clarify.already": "Unggahan #{id} sudah ditandai sebagai klarifikasi.",
    "clarify.refused": "Unggahan #{id} tidak bisa dijadikan klarifikasi: {detail}",
    "clarify.recap": "📊 <b>Rekap klarifikasi #{id}</b> dari {opd}, {since} setelah disetujui:\n"
    "Terkirim {delivered} · dibuka {opened} (diukur)\nLike {liked} · share {shared} "
    "(dikonfirmasi sendiri; {evidence} dengan tautan bukti)\nPartisipasi {rate} di {opds} OPD"
    "\n{url}",
    "help.diskominfo": "\n/klarifikasi NOMOR — jadikan unggahan yang disetujui klarifikasi "
    "(kirim didahulukan).",
    # --- share evidence (issue 15) ---
    "evidence.saved": "Terima kasih! Tautan {platform} Anda tersimpan sebagai bukti share.",
    "evidence.bad": "Tautan bukti tidak disimpan: {detail}. Kirim tautan unggahan ulang (repost) "
    "di akun Anda sendiri di Instagram, Facebook, TikTok, X atau YouTube. Bukti tidak wajib.",
    "evidence.gone": "Share tersebut tidak ditemukan lagi, jadi tautannya tidak disimpan.",
    "evidence.no_pictures": "Terima kasih, tetapi Gaung tidak menyimpan tangkapan layar. "
    "Kirim tautannya saja (tidak wajib).",
    # --- command menu ---
    "cmd.start": "Mulai dan daftar",
    "cmd.status": "Data dan partisipasi saya",
    "cmd.bantuan": "Panduan",
    "cmd.berhenti": "Berhenti menerima pesan",
    "cmd.hapus": "Hapus data saya",
    # --- chat networks, for {kanal} ---
    # --- WhatsApp (no edits, no URL buttons beside reply buttons, at most 3 of them) ---
    "wa.more_choices": "Pilihan lainnya:",
    # A notice sent as the notice template (the admin's 24-hour window is closed): no buttons.
    "wa.notice_choices": "(Pilihan: {choices}. Balas pesan ini lalu ketik <b>permintaan</b> "
    "untuk permintaan NIP, atau tindak lanjuti lewat dasbor Gaung.)",
    "kanal.telegram": "Telegram",
    "kanal.whatsapp": "WhatsApp",
    # --- daily recap and silence nudges (issue 15): OPD-level only, no person named ---
    "recap.title": "📊 <b>Rekap harian Gaung</b>, {tanggal}, pukul {jam} WIB",
    "recap.day_head": "<b>Hari ini</b> ({n} OPD menerima kiriman):",
    "recap.week_head": "<b>7 hari terakhir</b> ({n} OPD; perubahan dari 7 hari sebelumnya):",
    "recap.row": "{rank}. {kode} {rate}",
    "recap.row_change": "{rank}. {kode} {rate} ({change})",
    "recap.row_none": "– {kode}: belum ada kiriman",
    "recap.total": "Semua OPD: {rate} dari {delivered} kiriman",
    "recap.total_change": "Semua OPD: {rate} dari {delivered} kiriman ({change})",
    "recap.empty": "Belum ada kiriman.",
    "recap.silent": "<b>Tanpa unggahan ≥{days} hari</b> ({n}): {list}",
    "recap.silent_none": "Semua OPD mengirim unggahan dalam {days} hari terakhir.",
    "recap.more": "+{n} lainnya",
    "recap.footer": "Partisipasi = kiriman yang ditandai Like/Share (dikonfirmasi sendiri) dibagi "
    "kiriman yang diterima. Peringkat per OPD, bukan per orang; tabel lengkap di dasbor.",
    "recap.opd_title": "📊 <b>Rekap harian Gaung</b> untuk {opd}, {tanggal}",
    "recap.opd_day": "Hari ini: partisipasi {rate}, peringkat {rank} dari {n} OPD.",
    "recap.opd_day_none": "Hari ini: belum ada kiriman yang diterima ASN {kode}.",
    "recap.opd_week": "7 hari terakhir: partisipasi {rate} ({change} dari 7 hari sebelumnya), "
    "peringkat {rank} dari {n} OPD.",
    "recap.opd_week_none": "7 hari terakhir: belum ada kiriman yang diterima ASN {kode}.",
    "recap.opd_followup": "{missing} dari {received} ASN yang menerima kiriman 7 hari terakhir "
    "belum menandai Like atau Share; {unregistered} dari {roster} ASN di roster belum terdaftar.",
    "recap.opd_footer": "Daftar nama untuk tindak lanjut ada di dasbor, hanya untuk admin OPD "
    "ini. Angka ini untuk ajakan, bukan penilaian kinerja.",
    "recap.no_change": "tanpa pembanding",
    "recap.points": "{sign}{value} poin",
    "recap.nudge": "👋 Sudah {days} hari {opd} belum mengirim unggahan ke Gaung. Jika ada "
    "kegiatan yang sudah diunggah di akun resmi OPD, kirim tautannya ke sini agar ASN bisa ikut "
    "menggaungkannya. Terima kasih!",
    "recap.nudge_never": "👋 {opd} belum pernah mengirim unggahan ke Gaung. Jika ada kegiatan "
    "yang sudah diunggah di akun resmi OPD, kirim tautannya ke sini agar ASN bisa ikut "
    "menggaungkannya. Terima kasih!",
}

CATALOGUES: dict[str, dict[str, str]] = {"id": ID}


def t(key: str, lang: str = "id", **values: Any) -> str:
    """Plain text (broadcast posts are sent without a parse mode)."""
    text = CATALOGUES.get(lang, ID).get(key) or ID[key]
    return text.format(**values) if values else text


class Markup(str):
    """Chat text in the catalogue's light markup: values escaped, ``<b>`` the only tag."""


def th(key: str, lang: str = "id", **values: Any) -> Markup:
    """A chat text in light markup: every value is escaped unless it is ``Markup`` already."""
    safe = {
        k: v if isinstance(v, Markup) else html.escape(str(v), quote=False)
        for k, v in values.items()
    }
    return Markup(t(key, lang, **safe))


_BOLD = re.compile(r"</?b>")
_TAG = re.compile(r"<[^>]*>")


def as_html(text: Markup) -> str:
    """For Telegram's HTML parse mode."""
    return str(text)


def as_whatsapp(text: Markup) -> str:
    """For WhatsApp, which knows ``*bold*`` and no entities."""
    return html.unescape(_BOLD.sub("*", text))


def as_plain(text: Markup) -> str:
    """Without any markup: a button's toast, a log line."""
    return html.unescape(_TAG.sub("", text))
