"""``/api/v1/opd/{kode}/asn``: the people behind an OPD's rate, for its admin to follow up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PrincipalDep, SessionDep, SettingsDep, check_opd_access
from api.routes.participation import EndQ, StartQ
from api.schemas import API_PROBLEMS, OpdAsnPage, OpdName
from db.reporting.followup import opd_asn
from db.reporting.window import resolve_window
from db.roster.opd import opd_by_kode

router = APIRouter(prefix="/api/v1/opd", tags=["opd"], responses=API_PROBLEMS)


@router.get(
    "/{kode}/asn",
    summary="ASN OPD yang (tidak) berpartisipasi",
    description=(
        "ASN aktif OPD ini menurut roster, urut nama, dengan jumlah postingan yang diterima "
        "(`delivered`, diukur) dan yang di-like atau di-share (`participated`, dilaporkan "
        "sendiri) untuk postingan yang disetujui dalam rentang. `participated=false` (bawaan): "
        "yang belum sekali pun berpartisipasi, termasuk yang belum terdaftar "
        "(`registered: false`; `registration` menyebut sebabnya: `belum_terdaftar`, "
        "`tidak_terjangkau`, `berhenti`)."
    ),
)
def get_opd_asn(
    kode: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    participated: Annotated[
        bool, Query(description="true: yang berpartisipasi; false: yang belum")
    ] = False,
    start: StartQ = None,
    end: EndQ = None,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Halaman, mulai 1")] = 1,
    per_page: Annotated[int, Query(ge=1, le=500, description="Baris per halaman")] = 50,
) -> OpdAsnPage:
    found = opd_by_kode(session, kode)
    check_opd_access(principal, found.id)
    assert found.id is not None
    window = resolve_window(start, end, settings.tz)
    result = opd_asn(
        session,
        found.id,
        window,
        participated=participated,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    return OpdAsnPage.of(
        OpdName(kode=found.kode, nama=found.nama),
        window,
        settings.tz,
        participated=participated,
        page=page,
        per_page=per_page,
        result=result,
    )
