"""The HTTP API's response bodies, as Pydantic models.

``db/`` answers with plain dataclasses (``Participation``, ``Trend``, ``AsnPage``, ``Post``…);
this module is the one place that turns them into the JSON the contract promises. Routes
declare these models as their return type, so FastAPI validates every answer against the
schema it publishes at ``/openapi.json`` and the examples there come from the models' own
fields, not from hand-written dicts that drift. ``gaung report --format json`` prints the same
model, so the CLI and the API cannot disagree.

Times are ISO 8601 strings in the configured zone (WIB), to the second, as the contract shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from db.delivery.outbox import Progress
from db.models import Post
from db.reporting.activity import Activity, OpdActivity, WeekActivity
from db.reporting.followup import AsnPage, AsnRow, Registration
from db.reporting.participation import LABELS, Counts, OpdRow, Participation
from db.reporting.trend import Bucket, Trend
from db.reporting.window import Window, local_iso

WIB = "Waktu ISO 8601 dalam zona setempat (WIB), presisi detik"


def _when(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return local_iso(moment, tz) if moment else None


def _rate(value: float) -> float:
    return round(value, 3)


# A ratio as the contract shows it: three decimals, however the model was built.
Rate = Annotated[float, AfterValidator(_rate)]


class Model(BaseModel):
    # Answers are built here and never changed; extra keys would be a bug in this module.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(Model):
    """Every refusal and error: one Indonesian sentence, as the contract says."""

    detail: str = Field(examples=["kunci OPD hanya boleh melihat OPD-nya sendiri"])


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route answers, all as ``Problem``."""
    said = {
        400: "Badan permintaan rusak",
        401: "Kunci API tidak ada, tidak dikenal atau sudah dicabut",
        403: "Kunci ini tidak boleh melakukan atau melihat ini",
        404: "Tidak ditemukan",
        409: "Bertentangan dengan keadaan sekarang (mis. sudah disetujui)",
        413: "Badan permintaan terlalu besar",
        422: "Parameter atau badan permintaan tidak valid",
        503: "Basis data sementara tidak terjangkau; coba lagi",
    }
    return {code: {"model": Problem, "description": said[code]} for code in codes}


# What every /api/v1 route may answer besides its own success.
API_PROBLEMS = problems(400, 401, 403, 404, 413, 422, 503)


class DeliveryCounts(Model):
    """Delivery counts: ``delivered`` is measured; ``liked`` and ``shared`` are self-reported."""

    delivered: int = Field(ge=0, description="Diterima saluran (diukur)", examples=[15010])
    liked: int = Field(ge=0, description="Dilaporkan like oleh ASN (mandiri)", examples=[12001])
    shared: int = Field(ge=0, description="Dilaporkan share oleh ASN (mandiri)", examples=[9000])
    participated: int = Field(ge=0, description="Like atau share", examples=[12500])
    participation_rate: Rate = Field(
        ge=0, le=1, description="participated / delivered (0 bila belum ada)", examples=[0.833]
    )

    @classmethod
    def of(cls, counts: Counts) -> DeliveryCounts:
        return cls.model_validate(counts, from_attributes=True)


class ParticipationCounts(Model):
    """One row of the participation table (or its total): the contract's fields, in order."""

    asn_roster: int = Field(ge=0, description="ASN aktif di roster", examples=[812])
    asn_registered: int = Field(
        ge=0, description="Terdaftar, terjangkau dan tidak berhenti", examples=[790]
    )
    registration_rate: Rate = Field(ge=0, le=1, examples=[0.973])
    delivered: int = Field(ge=0, description="Diterima saluran (diukur)", examples=[15010])
    liked: int = Field(ge=0, description="Dilaporkan like oleh ASN (mandiri)", examples=[12001])
    shared: int = Field(ge=0, description="Dilaporkan share oleh ASN (mandiri)", examples=[9000])
    participated: int = Field(ge=0, description="Like atau share", examples=[12500])
    participation_rate: Rate = Field(ge=0, le=1, examples=[0.833])
    opened: int = Field(
        ge=0,
        description="Membuka tautan postingan lewat tombol Gaung (diukur; batas bawah)",
        examples=[11000],
    )
    shared_with_evidence: int = Field(
        default=0,
        ge=0,
        description="Share yang disertai tautan unggahan ulang ASN (dikonfirmasi sendiri; "
        "Gaung hanya memeriksa tautannya ke platform yang dikenal)",
        examples=[1200],
    )

    @classmethod
    def of(cls, counts: Counts) -> ParticipationCounts:
        return cls.model_validate(counts, from_attributes=True)


class OpdName(Model):
    kode: str = Field(examples=["DINKES"])
    nama: str = Field(examples=["Dinas Kesehatan"])


# Pydantic lays out inherited fields from the last base to the first: the OPD's name comes
# first, then its counts, as the contract shows a row.
class OpdParticipation(ParticipationCounts, OpdName):
    """One OPD's row of the participation table."""

    @classmethod
    def of_row(cls, row: OpdRow) -> OpdParticipation:
        return cls.model_validate(_row_fields(row))


def _row_fields(row: OpdRow) -> dict[str, Any]:
    """An OPD's row as the fields of ``OpdParticipation``, to be validated once."""
    return {"kode": row.kode, "nama": row.nama, **row.counts.as_dict()}


class ParticipationReport(Model):
    """``GET /api/v1/participation``: per OPD for posts approved in ``[start, end)``."""

    start: str | None = Field(description=WIB, examples=["2026-11-01T00:00:00+07:00"])
    end: str | None = Field(description=WIB, examples=["2026-12-01T00:00:00+07:00"])
    opd: list[OpdParticipation]
    total: ParticipationCounts = Field(description="Jumlah atas semua OPD (bukan rata-rata rasio)")
    labels: dict[str, str] = Field(
        description="Apa arti tiap angka: diukur oleh saluran/Gaung, atau dikonfirmasi sendiri "
        "oleh ASN",
        examples=[LABELS],
    )
    whatsapp: WhatsAppBilling | None = Field(
        default=None,
        description="Biaya WhatsApp dalam cakupan laporan: perkiraan dan yang ditagih Meta",
    )

    @classmethod
    def of(
        cls, report: Participation, tz: ZoneInfo, whatsapp: dict[str, object] | None = None
    ) -> ParticipationReport:
        # One validation of plain values for the whole answer (issue 11: a model per row,
        # each dumped and validated again, cost more CPU than the month's counters).
        return cls.model_validate(
            {
                "start": _when(report.window.start, tz) if report.window else None,
                "end": _when(report.window.end, tz) if report.window else None,
                "opd": [_row_fields(r) for r in report.rows],
                "total": report.total.as_dict(),
                "labels": LABELS,
                "whatsapp": whatsapp or None,
            }
        )


class Span(Protocol):
    label: str
    start: datetime
    end: datetime


class BucketSpan(Model):
    label: str = Field(description="Tanggal WIB atau minggu ISO", examples=["2026-W45"])
    start: str = Field(description=WIB, examples=["2026-11-02T00:00:00+07:00"])
    end: str = Field(description=WIB, examples=["2026-11-09T00:00:00+07:00"])

    @staticmethod
    def fields_of(span: Span, tz: ZoneInfo) -> dict[str, str]:
        """A day's or week's label and its bounds in the zone, for the models built on it."""
        return {
            "label": span.label,
            "start": local_iso(span.start, tz),
            "end": local_iso(span.end, tz),
        }


class TrendBucket(DeliveryCounts, BucketSpan):
    """One day or week: its span first, then its counts."""

    @classmethod
    def of_bucket(cls, bucket: Bucket, tz: ZoneInfo) -> TrendBucket:
        counts = DeliveryCounts.of(bucket.counts).model_dump()
        return cls(**BucketSpan.fields_of(bucket, tz), **counts)


class TrendReport(Model):
    """``GET /api/v1/participation/trend``: the same counts per WIB day or ISO week."""

    start: str = Field(description=WIB, examples=["2026-11-02T00:00:00+07:00"])
    end: str = Field(description=WIB, examples=["2026-11-16T00:00:00+07:00"])
    interval: str = Field(examples=["week"], json_schema_extra={"enum": ["day", "week"]})
    buckets: list[TrendBucket]
    total: DeliveryCounts

    @classmethod
    def of(cls, result: Trend, tz: ZoneInfo) -> TrendReport:
        return cls(
            start=local_iso(result.window.start, tz),
            end=local_iso(result.window.end, tz),
            interval=result.interval.value,
            buckets=[TrendBucket.of_bucket(b, tz) for b in result.buckets],
            total=DeliveryCounts.of(result.total),
        )


class AsnFollowUp(Model):
    nip: str = Field(examples=["198503122010011004"])
    nama: str = Field(examples=["Budi Santoso"])
    jabatan: str | None = Field(examples=["Perawat"])
    registered: bool = Field(examples=[True])
    registration: Registration = Field(examples=[Registration.REGISTERED])
    delivered: int = Field(ge=0, description="Postingan diterima (diukur)", examples=[31])
    participated: int = Field(
        ge=0, description="Postingan yang di-like atau di-share (mandiri)", examples=[0]
    )

    @classmethod
    def of(cls, row: AsnRow) -> AsnFollowUp:
        return cls(
            nip=row.nip,
            nama=row.nama,
            jabatan=row.jabatan,
            registered=row.registration is Registration.REGISTERED,
            registration=row.registration,
            delivered=row.delivered,
            participated=row.participated,
        )


class OpdAsnPage(Model):
    """``GET /api/v1/opd/{kode}/asn``: one page of the OPD's ASN, by name."""

    opd: OpdName
    start: str = Field(description=WIB, examples=["2026-11-01T00:00:00+07:00"])
    end: str = Field(description=WIB, examples=["2026-12-01T00:00:00+07:00"])
    participated: bool = Field(examples=[False])
    total: int = Field(ge=0, examples=[2])
    page: int = Field(ge=1, examples=[1])
    per_page: int = Field(ge=1, examples=[50])
    pages: int = Field(ge=0, examples=[1])
    items: list[AsnFollowUp]

    @classmethod
    def of(
        cls,
        opd: OpdName,
        window: Window,
        tz: ZoneInfo,
        *,
        participated: bool,
        page: int,
        per_page: int,
        result: AsnPage,
    ) -> OpdAsnPage:
        return cls(
            opd=opd,
            start=local_iso(window.start, tz),
            end=local_iso(window.end, tz),
            participated=participated,
            total=result.total,
            page=page,
            per_page=per_page,
            pages=-(-result.total // per_page),
            items=[AsnFollowUp.of(row) for row in result.rows],
        )


class PostOut(Model):
    """A post as submitted and reviewed."""

    id: int = Field(examples=[42])
    opd: str = Field(description="Kode OPD penerbit", examples=["DINKES"])
    url: str = Field(examples=["https://www.instagram.com/p/C0ntoh/"])
    platform: str = Field(examples=["instagram"])
    caption: str | None = Field(examples=["Posyandu serentak di 18 kecamatan"])
    status: str = Field(examples=["sent"])
    submitted_at: str | None = Field(description=WIB, examples=["2026-11-10T08:00:00+07:00"])
    approved_at: str | None = Field(description=WIB, examples=["2026-11-10T09:30:00+07:00"])
    send_at: str | None = Field(description=WIB, examples=[None])
    sent_at: str | None = Field(description=WIB, examples=["2026-11-10T09:41:12+07:00"])
    reason: str | None = Field(description="Alasan penolakan", examples=[None])
    target_all: bool = Field(examples=[True])
    clarification_at: str | None = Field(
        default=None,
        description="Ditandai klarifikasi oleh Diskominfo (kirim didahulukan); " + WIB,
        examples=[None],
    )

    @staticmethod
    def fields_of(post: Post, opd_kode: str, tz: ZoneInfo) -> dict[str, Any]:
        assert post.id is not None
        return {
            "id": post.id,
            "opd": opd_kode,
            "url": post.url,
            "platform": post.platform,
            "caption": post.caption,
            "status": post.status,
            "submitted_at": _when(post.submitted_at, tz),
            "approved_at": _when(post.approved_at, tz),
            "send_at": _when(post.send_at, tz),
            "sent_at": _when(post.sent_at, tz),
            "reason": post.reason,
            "target_all": post.target_all,
            "clarification_at": _when(post.clarification_at, tz),
        }

    @classmethod
    def of(cls, post: Post, opd_kode: str, tz: ZoneInfo) -> PostOut:
        return cls(**cls.fields_of(post, opd_kode, tz))


class GuardWarningOut(Model):
    """A neutrality guard's warning, shown to the approver (never blocks submission)."""

    kind: str = Field(
        description="keyword | account_off_list | account_unknown", examples=["keyword"]
    )
    detail: str = Field(description="Kata yang ditemukan, atau akunnya", examples=["pilkada"])
    message: str = Field(examples=["memuat kata terkait politik/kampanye: pilkada"])


class ApprovalOut(Model):
    """One approver's neutrality confirmation: the post carries no candidate, party or
    campaign content."""

    approver: str = Field(
        description="admin:<id> (obrolan), apikey:<id> (API) atau cli:<login> (CLI)",
        examples=["apikey:3"],
    )
    approved_at: str = Field(description=WIB, examples=["2026-11-10T09:30:00+07:00"])
    warnings: list[str] = Field(description="Peringatan yang ditampilkan saat itu", examples=[[]])


class PostGuards(Model):
    """Neutrality guards of a post: its warnings now, and the approvals given so far."""

    warnings: list[GuardWarningOut]
    approvals: list[ApprovalOut]
    approvals_needed: int = Field(
        ge=1, description="2 dalam masa kampanye (dua penyetuju berbeda)", examples=[1]
    )
    waiting: str | None = Field(
        description='"menunggu persetujuan kedua": disetujui satu penyetuju, perlu satu lagi',
        examples=[None],
    )


class PostApproved(PostOut):
    queued: int = Field(ge=0, description="Pengiriman yang diantrekan", examples=[7950])
    approvals: int = Field(ge=1, description="Persetujuan yang sudah diberikan", examples=[1])
    approvals_needed: int = Field(ge=1, description="2 dalam masa kampanye", examples=[1])
    waiting: str | None = Field(
        description='"menunggu persetujuan kedua" bila belum diantrekan', examples=[None]
    )
    warnings: list[GuardWarningOut]


class PostList(Model):
    total: int = Field(ge=0, examples=[1])
    limit: int = Field(ge=1, examples=[50])
    offset: int = Field(ge=0, examples=[0])
    items: list[PostOut]


class SendingProgress(Model):
    """How far the post's sending is, over the deliveries the caller may see."""

    total: int = Field(ge=0, examples=[8000])
    sent: int = Field(ge=0, examples=[7950])
    failed: int = Field(ge=0, examples=[30])
    pending: int = Field(ge=0, description="Menunggu atau sedang dikirim", examples=[20])
    deferred: int = Field(
        ge=0, description="Menunggu batas saluran, belum jatuh tempo", examples=[0]
    )
    failures: dict[str, int] = Field(
        description="Jumlah gagal per alasan", examples=[{"blocked": 30}]
    )

    @classmethod
    def of(cls, state: Progress) -> SendingProgress:
        return cls.model_validate(state, from_attributes=True)


class PostParticipation(Model):
    opd: list[OpdParticipation] = Field(
        description="OPD yang menerima postingan ini (kunci OPD: hanya OPD-nya sendiri)"
    )
    total: ParticipationCounts = Field(description="Jumlah atas OPD yang tercantum")

    @classmethod
    def of(cls, report: Participation) -> PostParticipation:
        return cls(
            opd=[OpdParticipation.of_row(r) for r in report.rows],
            total=ParticipationCounts.of(report.total),
        )


class WhatsAppCost(Model):
    """What a post costs on WhatsApp: before approval, the templates it would need (people
    outside their 24-hour window) and their estimate; after, the templates sent or due and what
    Meta billed by status webhook. Prices are settings (``GAUNG_WHATSAPP_PRICE_*``)."""

    template_messages: int = Field(ge=0, examples=[1200])
    estimated_cost: float = Field(ge=0, examples=[49.32])
    template_messages_own_opd: int | None = Field(default=None, ge=0, examples=[140])
    estimated_cost_own_opd: float | None = Field(default=None, ge=0, examples=[5.75])
    category: str = Field(examples=["marketing"])
    currency: str = Field(examples=["USD"])
    billed_messages: int = Field(ge=0, examples=[0])
    billed_by_category: dict[str, int] = Field(examples=[{}])
    billed_cost: float = Field(ge=0, examples=[0.0])
    billed_source: str = Field(
        default="", description="Asal angka billed_*: data tagihan Meta (status pricing)"
    )


class WhatsAppBilling(Model):
    """WhatsApp's cost over a participation report's scope: templates sent (not failed) and
    their estimate, beside what Meta billed (``billed_*``: the status webhooks' ``pricing``,
    counted per category and priced with ``GAUNG_WHATSAPP_PRICE_*``). Over every ASN of the
    report's OPDs, whatever the ``status`` filter."""

    template_messages: int = Field(ge=0, examples=[1200])
    estimated_cost: float = Field(ge=0, examples=[49.32])
    category: str = Field(examples=["marketing"])
    currency: str = Field(examples=["USD"])
    billed_messages: int = Field(ge=0, examples=[1180])
    billed_by_category: dict[str, int] = Field(examples=[{"marketing": 1180}])
    billed_cost: float = Field(ge=0, examples=[48.5])
    billed_source: str = Field(description="Asal angka billed_*: data tagihan Meta")


class PostDetail(PostOut):
    """``GET /api/v1/posts/{id}``: the post, its participation per OPD and sending progress."""

    targets: list[str] | None = Field(
        description="Kode OPD tujuan; null = semua OPD", examples=[None]
    )
    progress: SendingProgress
    participation: PostParticipation
    whatsapp: WhatsAppCost
    guards: PostGuards


# --- OPD publishing activity (issue 15) ----------------------------------------------------


class ActivityWeek(BucketSpan):
    """One ISO week (WIB, from Monday) of one OPD, clipped to the window."""

    submitted_by_admin: int = Field(
        ge=0, description="Postingan yang diajukan admin (lewat chat, API atau CLI)", examples=[3]
    )
    submitted_by_feed: int = Field(
        ge=0, description="Postingan yang ditemukan dari sumber resmi OPD (feed)", examples=[2]
    )
    approved: int = Field(ge=0, description="Postingan yang disetujui Diskominfo", examples=[4])

    @classmethod
    def of(cls, week: WeekActivity, tz: ZoneInfo) -> ActivityWeek:
        return cls(
            **BucketSpan.fields_of(week, tz),
            submitted_by_admin=week.by_admin,
            submitted_by_feed=week.by_feed,
            approved=week.approved,
        )


class OpdActivityOut(OpdName):
    last_submitted_at: str | None = Field(
        description=f"Pengajuan terakhir sebelum `end`; {WIB}; null: belum pernah",
        examples=["2026-11-20T09:15:00+07:00"],
    )
    silent_days: int | None = Field(
        description="Hari penuh sejak pengajuan terakhir; null: belum pernah", examples=[11]
    )
    silent: bool = Field(description="Tidak ada pengajuan selama ambang hari atau lebih")
    submitted_by_admin: int = Field(ge=0, examples=[12])
    submitted_by_feed: int = Field(ge=0, examples=[5])
    approved: int = Field(ge=0, examples=[15])
    weeks: list[ActivityWeek]

    @classmethod
    def of(cls, row: OpdActivity, tz: ZoneInfo) -> OpdActivityOut:
        return cls(
            kode=row.kode,
            nama=row.nama,
            last_submitted_at=_when(row.last_submitted_at, tz),
            silent_days=row.silent_days,
            silent=row.silent,
            submitted_by_admin=row.by_admin,
            submitted_by_feed=row.by_feed,
            approved=row.approved,
            weeks=[ActivityWeek.of(w, tz) for w in row.weeks],
        )


class ActivityReport(Model):
    """``GET /api/v1/activity``: what each OPD put forward per ISO week, and who fell silent."""

    start: str = Field(description=WIB, examples=["2026-11-01T00:00:00+07:00"])
    end: str = Field(description=WIB, examples=["2026-12-01T00:00:00+07:00"])
    silent_threshold_days: int = Field(description="GAUNG_SILENT_DAYS", examples=[14])
    silent: list[str] = Field(
        description="Kode OPD yang diam, terlama dulu (yang belum pernah mengajukan paling awal)",
        examples=[["BAPPEDA"]],
    )
    opd: list[OpdActivityOut]

    @classmethod
    def of(cls, result: Activity, tz: ZoneInfo) -> ActivityReport:
        return cls(
            start=local_iso(result.window.start, tz),
            end=local_iso(result.window.end, tz),
            silent_threshold_days=result.threshold_days,
            silent=[o.kode for o in result.silent],
            opd=[OpdActivityOut.of(o, tz) for o in result.opd],
        )
