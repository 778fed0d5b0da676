"""``/api/v1/posts``: submit, list, inspect, and (Diskominfo) approve, reject or cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from api.deps import DiskominfoDep, PrincipalDep, SessionDep, SettingsDep, check_opd_access
from api.schemas import (
    API_PROBLEMS,
    ApprovalOut,
    GuardWarningOut,
    PostApproved,
    PostDetail,
    PostGuards,
    PostList,
    PostOut,
    PostParticipation,
    SendingProgress,
    WhatsAppCost,
    problems,
)
from api.whatsapp_cost import whatsapp_cost
from db.errors import Invalid
from db.models import Opd, Platform, PostStatus
from db.posts.clarification import mark_clarification
from db.posts.guards import WAITING, GuardRules, approvals_of, approve, post_warnings
from db.posts.lifecycle import cancel_post, get_post, reject_post, submit_post
from db.posts.queries import PostFilter, list_posts, post_figures
from db.reporting.window import local_iso, resolve_window
from db.roster.opd import opd_by_kode
from db.types import utcnow

# Post ids are 32-bit integers in the database (PostgreSQL INTEGER): a larger number names no
# post, and would fail the query itself (a 500) rather than find nothing.
MAX_ID = 2**31 - 1
PostId = Annotated[int, Path(ge=1, le=MAX_ID, description="Id postingan")]

router = APIRouter(
    prefix="/api/v1/posts", tags=["postingan"], responses=API_PROBLEMS | problems(409)
)


class PostIn(BaseModel):
    url: str = Field(examples=["https://www.instagram.com/p/C0ntoh/"], max_length=2048)
    caption: str | None = Field(default=None, examples=["Posyandu serentak di 18 kecamatan"])
    opd: str | None = Field(
        default=None, description="Kode OPD; kunci OPD: OPD-nya sendiri", examples=["DINKES"]
    )


class ApproveIn(BaseModel):
    targets: list[str] | None = Field(
        default=None, description="Kode OPD tujuan; kosong = semua OPD", examples=[["DINKES"]]
    )
    send_at: datetime | None = Field(default=None, description="Jadwal kirim (ISO, dengan zona)")
    neutral: bool | None = Field(
        default=None,
        description="Wajib true: Diskominfo memastikan unggahan tidak memuat calon, partai "
        "politik, atau kampanye (netralitas ASN). Dicatat atas nama kunci API ini.",
        examples=[True],
    )


class RejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500, examples=["Tautan bukan akun resmi OPD"])


def _kode(session: SessionDep, opd_id: int) -> str:
    opd = session.get(Opd, opd_id)
    return opd.kode if opd else "?"


@router.get("", summary="Daftar postingan")
def list_(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    opd: Annotated[str | None, Query(description="Kode OPD")] = None,
    status: Annotated[PostStatus | None, Query()] = None,
    platform: Annotated[Platform | None, Query()] = None,
    start: Annotated[str | None, Query(description="Diajukan sejak (tanggal WIB / ISO)")] = None,
    end: Annotated[str | None, Query(description="Diajukan sebelum (eksklusif)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> PostList:
    opd_ids: list[int] | None = None
    if opd:
        found = opd_by_kode(session, opd)
        check_opd_access(principal, found.id)
        opd_ids = [found.id] if found.id is not None else []
    elif principal.opd_id is not None:
        opd_ids = [principal.opd_id]
    window = resolve_window(start, end, settings.tz) if (start or end) else None
    filters = PostFilter(
        opd_ids=opd_ids,
        status=status.value if status else None,
        platform=platform.value if platform else None,
        start=window.start if window and start else None,
        end=window.end if window and end else None,
    )
    total, rows = list_posts(session, filters, limit=limit, offset=offset)
    return PostList(
        total=total,
        limit=limit,
        offset=offset,
        items=[PostOut.of(post, kode, settings.tz) for post, kode in rows],
    )


@router.post("", status_code=201, summary="Ajukan postingan")
def submit(
    body: PostIn, session: SessionDep, settings: SettingsDep, principal: PrincipalDep
) -> PostOut:
    kode = body.opd
    if principal.opd_id is not None:
        own = session.get(Opd, principal.opd_id)
        assert own is not None
        if kode and kode.strip().upper() != own.kode:
            check_opd_access(principal, None)
        kode = own.kode
    if not kode:
        raise Invalid("opd wajib diisi untuk kunci Diskominfo")
    post = submit_post(
        session,
        opd_kode=kode,
        url=body.url,
        caption=body.caption,
        actor=f"apikey:{principal.key_id}",
    )
    return PostOut.of(post, kode.strip().upper(), settings.tz)


@router.get("/{post_id}", summary="Rincian postingan: partisipasi per OPD dan kemajuan kirim")
def detail(
    post_id: PostId, session: SessionDep, settings: SettingsDep, principal: PrincipalDep
) -> PostDetail:
    """An OPD key reads only its own OPD's posts, and of those only its own OPD's figures:
    the rows, the total and the sending progress are over its own ASN."""
    post = get_post(session, post_id)
    check_opd_access(principal, post.opd_id)
    own = [principal.opd_id] if principal.opd_id is not None else None
    figures = post_figures(session, post, opd_ids=own, now=utcnow())
    return PostDetail(
        **PostOut.fields_of(post, _kode(session, post.opd_id), settings.tz),
        targets=figures.targets,
        progress=SendingProgress.of(figures.progress),
        participation=PostParticipation.of(figures.participation),
        whatsapp=WhatsAppCost.model_validate(whatsapp_cost(session, post, settings)),
        guards=_guards(session, post_id, settings),
    )


def _guards(session: SessionDep, post_id: int, settings: SettingsDep) -> PostGuards:
    rules = GuardRules.of(settings)
    post = get_post(session, post_id)
    approvals = approvals_of(session, post_id)
    needed = rules.needed(utcnow())
    waiting = post.status == PostStatus.SUBMITTED and 0 < len(approvals) < needed
    return PostGuards(
        warnings=[GuardWarningOut(**w.as_dict()) for w in post_warnings(session, post, rules)],
        approvals=[
            ApprovalOut(
                approver=a.approver,
                approved_at=local_iso(a.approved_at, settings.tz),
                warnings=a.warnings,
            )
            for a in approvals
        ],
        approvals_needed=needed,
        waiting=WAITING if waiting else None,
    )


@router.post(
    "/{post_id}/approve",
    summary="Setujui dan antrekan siaran (Diskominfo), dengan konfirmasi netralitas",
    responses={202: {"model": PostApproved, "description": "Menunggu persetujuan kedua"}},
)
def approve_(
    post_id: PostId,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: DiskominfoDep,
    body: ApproveIn | None = None,
) -> PostApproved:
    """The body must carry ``"neutral": true`` (else 422). In the campaign period a post needs
    two different approvers: the first answers 202 with ``waiting``, the second (another key
    or a chat admin) queues it; the same key twice is a 409. Each API key counts as one
    approver (``apikey:<id>``), so give each Diskominfo officer their own key."""
    body = body or ApproveIn()
    done = approve(
        session,
        post_id,
        approver=f"apikey:{principal.key_id}",
        neutral=body.neutral is True,
        rules=GuardRules.of(settings),
        targets=body.targets,
        send_at=body.send_at,
        preferred_channel=settings.preferred_channel,
    )
    if done.waiting:
        response.status_code = 202
    post = done.post
    return PostApproved(
        **PostOut.fields_of(post, _kode(session, post.opd_id), settings.tz),
        queued=done.queued or 0,
        approvals=done.approvals,
        approvals_needed=done.needed,
        waiting=WAITING if done.waiting else None,
        warnings=[GuardWarningOut(**w.as_dict()) for w in done.warnings],
    )


@router.post("/{post_id}/reject", summary="Tolak postingan (Diskominfo)")
def reject(
    post_id: PostId,
    body: RejectIn,
    session: SessionDep,
    settings: SettingsDep,
    principal: DiskominfoDep,
) -> PostOut:
    post = reject_post(session, post_id, reason=body.reason, actor=f"apikey:{principal.key_id}")
    return PostOut.of(post, _kode(session, post.opd_id), settings.tz)


@router.post("/{post_id}/cancel", summary="Batalkan postingan (Diskominfo)")
def cancel(
    post_id: PostId, session: SessionDep, settings: SettingsDep, principal: DiskominfoDep
) -> PostOut:
    post = cancel_post(session, post_id, actor=f"apikey:{principal.key_id}")
    return PostOut.of(post, _kode(session, post.opd_id), settings.tz)


@router.post(
    "/{post_id}/clarification",
    summary="Tandai sebagai klarifikasi: kirim didahulukan, pengingat lebih cepat (Diskominfo)",
)
def clarification(
    post_id: PostId, session: SessionDep, settings: SettingsDep, principal: DiskominfoDep
) -> PostOut:
    """Only a post approved or being sent; marking it again changes nothing (200)."""
    post, _ = mark_clarification(session, post_id, actor=f"apikey:{principal.key_id}")
    return PostOut.of(post, _kode(session, post.opd_id), settings.tz)
