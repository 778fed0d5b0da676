"""``/api/v1/participation/trend``: the participation rate per WIB day or ISO week."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PrincipalDep, SessionDep, SettingsDep
from api.routes.participation import ReportQueryDep, opd_scope
from api.schemas import API_PROBLEMS, TrendReport
from db.reporting.trend import parse_interval, trend

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
    query: ReportQueryDep,
    interval: Annotated[
        str,
        Query(
            description="day (per hari WIB) atau week (per minggu ISO, mulai Senin)",
            json_schema_extra={"enum": ["day", "week"]},
        ),
    ] = "day",
) -> TrendReport:
    period = parse_interval(interval)
    window = query.window(settings)
    opd_ids = opd_scope(session, principal, query.opd)
    result = trend(session, window, period, settings.tz, opd_ids=opd_ids)
    return TrendReport.of(result, settings.tz)
