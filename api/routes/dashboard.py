"""The dashboard: server-rendered pages for Diskominfo staff and OPD admins, in Indonesian.

Sign-in is with an API key (typed once into a form) or with the bot's single-use link, which
the sign-in page exchanges by a POST (a link preview's GET spends nothing); both end in a
session kept in the database (``db.accounts.signing``), whose cookie is checked on every
request together with the key or admin it names, so signing out, revoking the key or
deactivating the admin ends it at once. Without ``GAUNG_SECRET_KEY`` nobody can sign in.
The page reads the same domain functions as the API, and its
charts are drawn by the Chart.js shipped in ``api/static`` (deployments may have no internet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep
from api.routes.participation import EXPORTS, attachment, export
from api.whatsapp_cost import post_billing
from db.accounts.apikeys import authenticate
from db.accounts.signing import (
    SESSION_TTL,
    end_session,
    exchange_link,
    session_subject,
    start_session,
)
from db.errors import Forbidden, GaungError, Invalid, NotFound
from db.models import Opd, Role
from db.reporting.activity import Activity, activity
from db.reporting.activity import to_csv as activity_csv
from db.reporting.dashboard import (
    API_KEY,
    Viewer,
    local_month,
    posts_approved,
    recent_posts,
    subject_of,
    viewer_for,
)
from db.reporting.followup import funnel
from db.reporting.participation import participation
from db.reporting.trend import Interval, trend
from db.reporting.window import Window
from db.roster.opd import all_opd, opd_by_kode
from db.settings import Settings
from db.types import utcnow

MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
STATUS_LABELS = {
    "submitted": "diajukan",
    "approved": "disetujui",
    "sending": "sedang dikirim",
    "sent": "selesai dikirim",
    "rejected": "ditolak",
    "cancelled": "dibatalkan",
}


def angka(value: int) -> str:
    """Indonesian digit grouping: 8.000, not 8,000."""
    return f"{value:,}".replace(",", ".")


def persen(rate: float) -> str:
    """Indonesian decimal comma: 83,3%."""
    return f"{rate * 100:.1f}".replace(".", ",") + "%"


def tanggal(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def waktu(moment: datetime, tz: ZoneInfo) -> str:
    """Local time with the zone's own abbreviation (WIB for Asia/Jakarta)."""
    local = moment.astimezone(tz)
    return f"{tanggal(local.date())} {local:%H.%M} {local.tzname()}"


HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(angka=angka, persen=persen, tanggal=tanggal, waktu=waktu)

COOKIE = "gaung_sesi"
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366  # beyond this the trend's weekly points crowd the chart
DAILY_TREND_DAYS = 62  # up to two months a point per day stays readable
FUNNEL_FIELDS = ("roster", "registered", "received", "participated")
SIGN_IN = "/dashboard/masuk"
SIGN_IN_LINK = "/dashboard/masuk/tautan"
HOME = "/dashboard"

router = APIRouter(include_in_schema=False)
router.mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")

# Pages show who took part: never cached by a shared proxy, never framed, and the sign-in
# link's token never leaks in a Referer to another site. ``same-origin``, not ``no-referrer``:
# under ``no-referrer`` a browser sends ``Origin: null`` with the page's own form POSTs, which
# the Origin check (``api.guards``) must refuse.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


NO_KEY = (
    "Dasbor belum bisa dipakai: GAUNG_SECRET_KEY belum diatur di server. Hubungi pengelola Gaung."
)
BAD_KEY = "Kunci API tidak dikenal atau sudah dicabut."
BAD_LINK = (
    "Tautan masuk tidak sah, sudah dipakai, atau sudah kedaluwarsa (berlaku sekali, 15 menit). "
    "Minta tautan baru dengan perintah /dashboard di bot, atau masuk dengan kunci API."
)


def current_viewer(request: Request, session: SessionDep, settings: SettingsDep) -> Viewer | None:
    token = request.cookies.get(COOKIE)
    key = settings.signing_key
    if not token or key is None:
        return None
    subject = session_subject(session, key, token, now=utcnow())
    return viewer_for(session, subject) if subject else None


ViewerDep = Annotated[Viewer | None, Depends(current_viewer)]


def _render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=SECURITY_HEADERS
    )


def _signed_in(
    request: Request, session: Session, settings: Settings, key: bytes, subject: str
) -> RedirectResponse:
    response = RedirectResponse(HOME, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        COOKIE,
        start_session(session, key, subject=subject, now=utcnow()),
        max_age=int(SESSION_TTL.total_seconds()),
        path=HOME,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" or (settings.public_url or "").startswith("https://"),
    )
    return response


def _sign_in(
    request: Request,
    session: Session,
    settings: Settings,
    subject: Callable[[bytes], str | None],
    refused: str,
) -> Response:
    """Both ways in: nobody can sign in without ``GAUNG_SECRET_KEY`` (503); ``subject`` names
    whom the link or key stands for, None refuses it (401 with ``refused``)."""
    key = settings.signing_key
    if key is None:
        return _render(request, "masuk.html", {"error": NO_KEY, "token": None}, 503)
    who = subject(key)
    if who is None:
        return _render(request, "masuk.html", {"error": refused, "token": None}, 401)
    return _signed_in(request, session, settings, key, who)


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse(SIGN_IN, status_code=303, headers=SECURITY_HEADERS)


@router.get(SIGN_IN)
def sign_in_page(
    request: Request,
    settings: SettingsDep,
    viewer: ViewerDep,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The bot's ``/dashboard`` link lands here: a button that exchanges it by a POST, so
    that fetching the URL (a chat app's link preview, a proxy) signs nobody in and spends
    nothing. Without a token: the key form."""
    if settings.signing_key is None:
        return _render(request, "masuk.html", {"error": NO_KEY, "token": None}, 503)
    if token is not None:
        return _render(request, "masuk.html", {"error": None, "token": token})
    if viewer is not None:
        return RedirectResponse(HOME, status_code=303)
    return _render(request, "masuk.html", {"error": None, "token": None})


@router.post(SIGN_IN_LINK)
def sign_in_with_link(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def subject(key: bytes) -> str | None:
        if not token.strip():
            return None
        found = exchange_link(session, key, token.strip(), now=utcnow())
        return found if found is not None and viewer_for(session, found) is not None else None

    return _sign_in(request, session, settings, subject, BAD_LINK)


@router.post(SIGN_IN)
def sign_in_with_key(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    kunci: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def subject(_: bytes) -> str | None:
        principal = authenticate(session, kunci.strip()) if kunci.strip() else None
        return subject_of(API_KEY, principal.key_id) if principal is not None else None

    return _sign_in(request, session, settings, subject, BAD_KEY)


@router.post("/dashboard/keluar")
def sign_out(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Ends the session in the database, not only in this browser: a copied cookie dies too."""
    token, key = request.cookies.get(COOKIE), settings.signing_key
    if token and key is not None:
        end_session(session, key, token, now=utcnow())
    response = _to_sign_in()
    response.delete_cookie(COOKIE, path=HOME, httponly=True, samesite="lax")
    return response


@dataclass(frozen=True)
class Scope:
    """What the viewer asked to see, checked: a window of whole WIB days and maybe one OPD."""

    window: Window
    first: date
    last: date  # inclusive: people pick "until the 30th", not "before the 1st"
    opd: Opd | None

    @property
    def opd_ids(self) -> list[int] | None:
        return [self.opd.id] if self.opd is not None and self.opd.id is not None else None

    def query(self) -> str:
        params = {"dari": self.first.isoformat(), "sampai": self.last.isoformat()}
        return urlencode(params | ({"opd": self.opd.kode} if self.opd else {}))


def _day(text: str, name: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"tanggal {name} {text!r} tidak dikenali: pakai format 2026-11-01") from None
    if not 2000 <= day.year <= 2100:
        raise Invalid(f"tanggal {name} {text!r} di luar rentang tahun 2000–2100")
    return day


@dataclass(frozen=True)
class Asked:
    """The period and OPD as the form sent them (``dari``, ``sampai``, ``opd``), unchecked."""

    dari: str | None
    sampai: str | None
    opd: str | None


def asked(
    dari: Annotated[str | None, Query(max_length=40)] = None,
    sampai: Annotated[str | None, Query(max_length=40)] = None,
    opd: Annotated[str | None, Query(max_length=32)] = None,
) -> Asked:
    """The query of the page and of every download."""
    return Asked(dari, sampai, opd)


AskedDep = Annotated[Asked, Depends(asked)]


def resolve_scope(
    session: Session, settings: Settings, viewer: Viewer, asked: Asked, *, now: datetime
) -> Scope:
    tz = settings.tz
    dari, sampai, opd = asked.dari, asked.sampai, asked.opd
    last = _day(sampai, "sampai") if sampai else now.astimezone(tz).date()
    first = _day(dari, "dari") if dari else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise Invalid("tanggal 'dari' harus sebelum atau sama dengan tanggal 'sampai'")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid("rentang paling panjang 3 tahun; perpendek rentang tanggal")
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    after = last + timedelta(days=1)
    end = datetime(after.year, after.month, after.day, tzinfo=tz)
    chosen: Opd | None = None
    if opd:
        try:
            chosen = opd_by_kode(session, opd)
        except NotFound as exc:
            raise Invalid(exc.message) from None
    if viewer.opd_id is not None:
        if chosen is not None and chosen.id != viewer.opd_id:
            raise Forbidden("admin OPD hanya boleh melihat OPD-nya sendiri")
        chosen = session.get(Opd, viewer.opd_id)
    return Scope(Window(start.astimezone(UTC), end.astimezone(UTC)), first, last, chosen)


@router.get(HOME)
def dashboard_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    query: AskedDep,
) -> Response:
    if viewer is None:
        return _to_sign_in()
    now = utcnow()
    base: dict[str, Any] = {
        "viewer": viewer,
        "opd_options": all_opd(session) if viewer.role == Role.DISKOMINFO else [],
        "form": {
            "dari": query.dari or "",
            "sampai": query.sampai or "",
            "opd": (query.opd or "").upper(),
        },
    }
    try:
        scope = resolve_scope(session, settings, viewer, query, now=now)
        data = _page_data(session, settings, scope, now=now)
    except GaungError as exc:
        return _render(request, "dashboard.html", base | {"error": exc.message}, exc.status_code)
    form = {"dari": scope.first.isoformat(), "sampai": scope.last.isoformat()}
    form["opd"] = scope.opd.kode if scope.opd else ""
    return _render(request, "dashboard.html", base | data | {"form": form, "error": None})


def _page_data(
    session: Session, settings: Settings, scope: Scope, *, now: datetime
) -> dict[str, Any]:
    tz = settings.tz
    report = participation(session, scope.window, opd_ids=scope.opd_ids)
    days = (scope.last - scope.first).days + 1
    interval = Interval.DAY if days <= DAILY_TREND_DAYS else Interval.WEEK
    over_time = trend(session, scope.window, interval, tz, opd_ids=scope.opd_ids)
    ranked = sorted(
        report.rows,
        key=lambda r: (r.counts.delivered == 0, -r.counts.participation_rate, r.kode),
    )
    posts = recent_posts(session, scope.window, opd_ids=scope.opd_ids)
    people = funnel(session, report)
    published = activity(
        session,
        scope.window,
        tz,
        threshold_days=settings.silent_days,
        now=now,
        opd_ids=scope.opd_ids,
    )
    total_people = [sum(getattr(r, f) for r in people) for f in FUNNEL_FIELDS]
    chart = {
        "peringkat": [
            {"kode": r.kode, "nama": r.nama, "rate": r.counts.participation_rate}
            for r in ranked
            if r.counts.delivered
        ],
        "total": report.total.participation_rate if report.total.delivered else None,
        "tren": {
            "labels": [b.label for b in over_time.buckets],
            "rates": [
                b.counts.participation_rate if b.counts.delivered else None
                for b in over_time.buckets
            ],
            "delivered": [b.counts.delivered for b in over_time.buckets],
        },
        "corong": total_people,
        "aktivitas": _activity_chart(published),
    }
    return {
        "scope": scope,
        "report": report,
        "ranked": ranked,
        "funnel": people,
        "funnel_total": dict(zip(FUNNEL_FIELDS, total_people, strict=True)),
        "interval": interval,
        "posts_this_month": posts_approved(session, local_month(now, tz), opd_ids=scope.opd_ids),
        "posts": posts,
        # WhatsApp's cost per post: the estimate beside what Meta billed (status ``pricing``).
        "wa_cost": post_billing(session, [p.id for p in posts.rows], settings),
        "status_labels": STATUS_LABELS,
        "chart": chart,
        "query": scope.query(),
        "tz": tz,
        "activity": published,
    }


def _activity_chart(published: Activity) -> dict[str, list[Any]]:
    """Per ISO week, over the OPD shown: submitted by admins, found in feeds, approved."""
    labels = [w.label for w in published.opd[0].weeks] if published.opd else []
    sums = {"admin": [0] * len(labels), "feed": [0] * len(labels), "disetujui": [0] * len(labels)}
    for row in published.opd:
        for i, week in enumerate(row.weeks):
            sums["admin"][i] += week.by_admin
            sums["feed"][i] += week.by_feed
            sums["disetujui"][i] += week.approved
    return {"labels": labels, **sums}


def download_scope(
    session: SessionDep, settings: SettingsDep, viewer: ViewerDep, query: AskedDep
) -> Scope | None:
    """A download's checked period and OPD, or None when nobody is signed in (the route then
    sends the browser to sign in). A bad period is a 4xx from the app's one error handler."""
    if viewer is None:
        return None
    return resolve_scope(session, settings, viewer, query, now=utcnow())


DownloadScopeDep = Annotated[Scope | None, Depends(download_scope)]


def _download_route(ext: str) -> Callable[..., Response]:
    def download(session: SessionDep, settings: SettingsDep, scope: DownloadScopeDep) -> Response:
        if scope is None:
            return _to_sign_in()
        report = participation(session, scope.window, opd_ids=scope.opd_ids)
        name = f"partisipasi-{scope.first:%Y%m%d}-{scope.last:%Y%m%d}"
        return export(report, settings.tz, ext, name, SECURITY_HEADERS)

    return download


for _ext in EXPORTS:
    router.add_api_route(
        f"/dashboard/unduh.{_ext}", _download_route(_ext), methods=["GET"], name=f"download_{_ext}"
    )


@router.get("/dashboard/aktivitas.csv")
def download_activity_csv(
    session: SessionDep, settings: SettingsDep, scope: DownloadScopeDep
) -> Response:
    """OPD publishing activity per ISO week, the same rows as ``/api/v1/activity.csv``."""
    if scope is None:
        return _to_sign_in()
    published = activity(
        session,
        scope.window,
        settings.tz,
        threshold_days=settings.silent_days,
        now=utcnow(),
        opd_ids=scope.opd_ids,
    )
    name = f"aktivitas-opd-{scope.first:%Y%m%d}-{scope.last:%Y%m%d}.csv"
    return attachment(
        activity_csv(published, settings.tz), "text/csv; charset=utf-8", name, SECURITY_HEADERS
    )
