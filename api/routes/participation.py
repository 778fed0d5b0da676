"""``/api/v1/participation`` and its CSV/XLSX exports: the contract's table, one source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session

from api.deps import PrincipalDep, SessionDep, SettingsDep, check_opd_access
from api.schemas import API_PROBLEMS, ParticipationReport
from api.whatsapp_cost import participation_billing
from db.accounts.apikeys import Principal
from db.errors import Invalid, NotFound
from db.reporting.exports import to_csv, to_xlsx
from db.reporting.participation import Participation, participation
from db.reporting.window import Window, resolve_window
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
OpdQ = Annotated[
    str | None,
    Query(
        description="Kode OPD, mis. DINKES; kunci OPD: hanya OPD-nya sendiri", examples=["DINKES"]
    ),
]
StatusQ = Annotated[
    str | None,
    Query(description="Hanya ASN berstatus PNS atau PPPK (menurut roster)", examples=["PPPK"]),
]


@dataclass(frozen=True)
class ReportQuery:
    """The range and OPD every report route takes (participation, its exports, the trend,
    the activity), as given: resolved in the route's own thread, by ``window`` and
    ``opd_scope``."""

    start: str | None
    end: str | None
    opd: str | None

    def window(self, settings: Settings) -> Window:
        return resolve_window(self.start, self.end, settings.tz)


# ``async``: it only collects parameters, so FastAPI runs it on the event loop, not in a
# worker thread of its own (each hop to a thread is a wait on a busy machine).
async def report_query(start: StartQ = None, end: EndQ = None, opd: OpdQ = None) -> ReportQuery:
    return ReportQuery(start, end, opd)


ReportQueryDep = Annotated[ReportQuery, Depends(report_query)]


def build_report(
    session: Session,
    settings: Settings,
    principal: Principal,
    query: ReportQuery,
    status: str | None = None,
) -> Participation:
    opd_ids = opd_scope(session, principal, query.opd)
    return participation(session, query.window(settings), opd_ids=opd_ids, status=status)


def opd_scope(session: Session, principal: Principal, opd: str | None) -> list[int] | None:
    """The OPDs a report covers: the asked ``opd`` (an unknown code is bad input, 400), else
    the key's own OPD, else all (None); Forbidden when the key may not see the asked one."""
    opd_id = principal.opd_id
    if opd:
        try:
            opd_id = opd_by_kode(session, opd).id
        except NotFound as exc:
            raise Invalid(exc.message) from None
    check_opd_access(principal, opd_id)
    return [opd_id] if opd_id is not None else None


@router.get("/participation", summary="Partisipasi per OPD", response_model=ParticipationReport)
def get_participation(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    query: ReportQueryDep,
    status: StatusQ = None,
) -> Response:
    """The answer is validated as ``ParticipationReport`` is built and written as JSON right
    here. Returned as a model, FastAPI would validate it a second time, and in a worker thread
    of its own: one more wait for a thread per request on a busy machine (issue 11). The
    schema published at ``/openapi.json`` is still the model's (``response_model``)."""
    report = build_report(session, settings, principal, query, status)
    answer = ParticipationReport.of(
        report, settings.tz, participation_billing(session, report, settings)
    )
    return Response(answer.model_dump_json(), media_type="application/json")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The download formats, by file extension: media type and how the report is written.
EXPORTS: dict[str, tuple[str, Callable[[Participation, ZoneInfo], str | bytes]]] = {
    "csv": ("text/csv; charset=utf-8", lambda report, _tz: to_csv(report)),
    "xlsx": (XLSX, to_xlsx),
}


def attachment(
    body: str | bytes, media_type: str, filename: str, headers: dict[str, str] | None = None
) -> Response:
    """A file to download as ``filename``: every export of the API and the dashboard."""
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media_type, headers=(headers or {}) | disposition)


def export(
    report: Participation, tz: ZoneInfo, ext: str, name: str, headers: dict[str, str] | None = None
) -> Response:
    """``report`` as an attachment ``name.ext``; the API and the dashboard both answer so."""
    media_type, write = EXPORTS[ext]
    return attachment(write(report, tz), media_type, f"{name}.{ext}", headers)


def _export_route(ext: str) -> Callable[..., Response]:
    def get_export(
        session: SessionDep,
        settings: SettingsDep,
        principal: PrincipalDep,
        query: ReportQueryDep,
    ) -> Response:
        report = build_report(session, settings, principal, query)
        return export(report, settings.tz, ext, _name(report, settings))

    return get_export


for _ext, (_media_type, _) in EXPORTS.items():
    router.add_api_route(
        f"/participation.{_ext}",
        _export_route(_ext),
        methods=["GET"],
        name=f"get_participation_{_ext}",
        summary=f"Partisipasi per OPD ({_ext.upper()})",
        response_class=Response,
        responses={200: {"content": {_media_type.split(";")[0]: {}}}},
    )


def _name(report: Participation, settings: Settings) -> str:
    assert report.window is not None
    start = report.window.start.astimezone(settings.tz)
    end = report.window.end.astimezone(settings.tz)
    return f"partisipasi-{start:%Y%m%d}-{end:%Y%m%d}"
