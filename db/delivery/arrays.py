"""Rows passed to PostgreSQL as one array per column, for statements run on every batch.

A batch as a VALUES list, an expanded ``IN`` list or an executemany makes either a new SQL
text for each batch size (psycopg converts each text anew, the server plans it anew) or one
statement per row. ``unnest`` over arrays keeps one text for any batch: under a burst of
WhatsApp status webhooks the inbox writer's thread spent a sixth of its CPU converting texts
(issue 13).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import TableValuedAlias, bindparam, func
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine


def unnested(columns: Mapping[str, TypeEngine[Any]], *, suffix: str = "") -> TableValuedAlias:
    """``unnest(:<name><suffix>, …) AS (<name>, …)``: each column an array parameter of its
    element type, bound as a Python list (or tuple) under ``<name><suffix>``."""
    return (
        func.unnest(
            *(bindparam(f"{n}{suffix}", type_=postgresql.ARRAY(t)) for n, t in columns.items())
        )
        .table_valued(*columns)
        .render_derived()
    )
