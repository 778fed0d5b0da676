"""Request dependencies: a database session per request and the calling API key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from db.apikeys import Principal, authenticate
from db.engine import session_scope
from db.errors import Forbidden
from db.models import Role
from db.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with session_scope(engine) as session:
        yield session


bearer = HTTPBearer(auto_error=False, description="Kunci API Gaung")


def get_principal(
    engine: Annotated[Engine, Depends(get_engine)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401,
            "kunci API diperlukan: Authorization: Bearer <kunci>",
            {"WWW-Authenticate": "Bearer"},
        )
    with session_scope(engine) as session:
        principal = authenticate(session, credentials.credentials)
    if principal is None:
        raise HTTPException(
            401, "kunci API tidak dikenal atau sudah dicabut", {"WWW-Authenticate": "Bearer"}
        )
    return principal


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_diskominfo(principal: PrincipalDep) -> Principal:
    if principal.role != Role.DISKOMINFO:
        raise Forbidden("hanya kunci Diskominfo yang boleh melakukan ini")
    return principal


DiskominfoDep = Annotated[Principal, Depends(require_diskominfo)]


def check_opd_access(principal: Principal, opd_id: int | None) -> None:
    if principal.opd_id is not None and opd_id != principal.opd_id:
        raise Forbidden("kunci OPD hanya boleh melihat OPD-nya sendiri")
