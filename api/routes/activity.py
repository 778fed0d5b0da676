"""``/api/v1/activity``: OPD publishing activity per ISO week, and the OPD that fell silent."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlmodel import Session

from api.deps import PrincipalDep, SessionDep, SettingsDep
from api.routes.participation import ReportQuery, ReportQueryDep, attachment, opd_scope
from api.schemas import API_PROBLEMS, ActivityReport
from db.accounts.apikeys import Principal
from db.reporting.activity import Activity, activity, to_csv
from db.settings import Settings
from db.types import utcnow

router = APIRouter(prefix="/api/v1", tags=["aktivitas OPD"], responses=API_PROBLEMS)

DESCRIPTION = (
    "Per OPD dan per minggu ISO (WIB, mulai Senin): postingan yang diajukan admin, yang "
    "ditemukan dari sumber resmi OPD (feed), dan yang disetujui Diskominfo, menurut waktu "
    "pengajuan dan waktu persetujuan dalam rentang. OPD *diam* bila tidak mengajukan postingan "
    "apa pun selama `GAUNG_SILENT_DAYS` hari (bawaan 14) sampai `end` (atau sekarang). Kunci "
    "Diskominfo melihat semua OPD; kunci OPD hanya OPD-nya sendiri."
)


def build_activity(
    session: Session, settings: Settings, principal: Principal, query: ReportQuery
) -> Activity:
    return activity(
        session,
        query.window(settings),
        settings.tz,
        threshold_days=settings.silent_days,
        now=utcnow(),
        opd_ids=opd_scope(session, principal, query.opd),
    )


@router.get("/activity", summary="Aktivitas unggahan OPD per minggu", description=DESCRIPTION)
def get_activity(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    query: ReportQueryDep,
) -> ActivityReport:
    result = build_activity(session, settings, principal, query)
    return ActivityReport.of(result, settings.tz)


@router.get(
    "/activity.csv",
    summary="Aktivitas unggahan OPD per minggu (CSV)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_activity_csv(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    query: ReportQueryDep,
) -> Response:
    result = build_activity(session, settings, principal, query)
    first = result.window.start.astimezone(settings.tz)
    last = result.window.end.astimezone(settings.tz)
    name = f"aktivitas-opd-{first:%Y%m%d}-{last:%Y%m%d}.csv"
    return attachment(to_csv(result, settings.tz), "text/csv; charset=utf-8", name)
