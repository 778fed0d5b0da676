"""``/api/v1/participation/trend``: the participation rate per WIB day or ISO week."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PrincipalDep, SessionDep, SettingsDep, check_opd_access
from api.routes.participation import EndQ, OpdQ, StartQ
from api.schemas import API_PROBLEMS, TrendReport
from db.errors import Invalid, NotFound
from db.reporting.trend import parse_interval, trend
from db.reporting.window import resolve_window
from db.roster.opd import opd_by_kode

router = APIRouter(prefix="/api/v1", tags=["partisipasi"], responses=API_PROBLEMS)


@router.get(
    "/participation/trend",
    summary="Tren partisipasi per hari atau per minggu",
    description=(
        "Jumlah per periode (hari WIB, atau minggu ISO mulai Senin) untuk postingan yang "
        "disetujui dalam periode itu, dengan definisi yang sama seperti tabel partisipasi: "
        "jumlah semua periode sama dengan baris `total` `/api/v1/participation` untuk rentang "
        "yang sama. Periode pertama dan terakhir dipotong pada `start` dan `end`."
    ),
)
def get_trend(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    start: StartQ = None,
    end: EndQ = None,
    interval: Annotated[
        str,
        Query(
            description="day (per hari WIB) atau week (per minggu ISO, mulai Senin)",
            json_schema_extra={"enum": ["day", "week"]},
        ),
    ] = "day",
    opd: OpdQ = None,
) -> TrendReport:
    period = parse_interval(interval)
    window = resolve_window(start, end, settings.tz)
    opd_id = principal.opd_id
    if opd:
        try:
            opd_id = opd_by_kode(session, opd).id
        except NotFound as exc:
            raise Invalid(exc.message) from None
    check_opd_access(principal, opd_id)
    opd_ids = [opd_id] if opd_id is not None else None
    result = trend(session, window, period, settings.tz, opd_ids=opd_ids)
    return TrendReport.of(result, settings.tz)
