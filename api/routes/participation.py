"""``/api/v1/participation`` and its CSV/XLSX exports: the contract's table, one source."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlmodel import Session

from api.deps import PrincipalDep, SessionDep, SettingsDep, check_opd_access
from api.schemas import API_PROBLEMS, ParticipationReport
from api.whatsapp_cost import participation_billing
from db.accounts.apikeys import Principal
from db.errors import Invalid, NotFound
from db.reporting.exports import to_csv, to_xlsx
from db.reporting.participation import Participation, participation
from db.reporting.window import resolve_window
from db.roster.opd import opd_by_kode
from db.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["partisipasi"], responses=API_PROBLEMS)

StartQ = Annotated[
    str | None,
    Query(
        description="Tanggal WIB (2026-11-01) atau waktu ISO; bawaan 30 hari lalu",
        examples=["2026-11-01"],
    ),
]
EndQ = Annotated[
    str | None,
    Query(
        description="Eksklusif; tanggal WIB atau waktu ISO; bawaan sekarang",
        examples=["2026-12-01"],
    ),
]
OpdQ = Annotated[str | None, Query(description="Kode OPD, mis. DINKES", examples=["DINKES"])]
StatusQ = Annotated[
    str | None,
    Query(description="Hanya ASN berstatus PNS atau PPPK (menurut roster)", examples=["PPPK"]),
]


def build_report(
    session: Session,
    settings: Settings,
    principal: Principal,
    start: str | None,
    end: str | None,
    opd: str | None,
    status: str | None = None,
) -> Participation:
    window = resolve_window(start, end, settings.tz)
    opd_ids: list[int] | None = None
    if opd:
        try:
            found = opd_by_kode(session, opd)
        except NotFound as exc:
            raise Invalid(exc.message) from None
        assert found.id is not None
        opd_ids = [found.id]
    elif principal.opd_id is not None:
        opd_ids = [principal.opd_id]
    check_opd_access(principal, opd_ids[0] if opd_ids else None)
    return participation(session, window, opd_ids=opd_ids, status=status)


@router.get("/participation", summary="Partisipasi per OPD")
def get_participation(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    start: StartQ = None,
    end: EndQ = None,
    opd: OpdQ = None,
    status: StatusQ = None,
) -> ParticipationReport:
    report = build_report(session, settings, principal, start, end, opd, status)
    return ParticipationReport.of(
        report, settings.tz, participation_billing(session, report, settings)
    )


@router.get(
    "/participation.csv",
    summary="Partisipasi per OPD (CSV)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_participation_csv(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    start: StartQ = None,
    end: EndQ = None,
    opd: OpdQ = None,
) -> Response:
    report = build_report(session, settings, principal, start, end, opd)
    return _download(to_csv(report), "text/csv; charset=utf-8", report, settings, "csv")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/participation.xlsx",
    summary="Partisipasi per OPD (XLSX)",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def get_participation_xlsx(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    start: StartQ = None,
    end: EndQ = None,
    opd: OpdQ = None,
) -> Response:
    report = build_report(session, settings, principal, start, end, opd)
    return _download(to_xlsx(report, settings.tz), XLSX, report, settings, "xlsx")


def _download(
    body: str | bytes, media_type: str, report: Participation, settings: Settings, ext: str
) -> Response:
    name = f"{_name(report, settings)}.{ext}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=media_type, headers=headers)


def _name(report: Participation, settings: Settings) -> str:
    assert report.window is not None
    start = report.window.start.astimezone(settings.tz)
    end = report.window.end.astimezone(settings.tz)
    return f"partisipasi-{start:%Y%m%d}-{end:%Y%m%d}"
