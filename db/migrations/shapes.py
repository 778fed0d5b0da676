"""The column, constraint and table shapes the migrations share, written once.

A migration lists what it creates or adds; the same list drives its downgrade, so the two
cannot drift. Constraint names follow the convention in ``db.models`` (SQLite's batch mode
needs them to alter a table), spelled out here rather than taken from the models: a migration
is frozen history and must emit the same DDL whatever the models become. Columns are
``NOT NULL`` unless ``nullable=True`` is said, as most of ours are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

import db.types

Constraint = Callable[[str], sa.Constraint]
"""A constraint, made once the table's name is known (its name follows from it)."""


@dataclass(frozen=True)
class Column:
    """A column's description; ``build`` makes a fresh ``sa.Column`` each time, since one
    belongs to a single table and a test runs every migration up, down and up again."""

    name: str
    type: Callable[[], Any]
    nullable: bool = False
    default: str | None = None
    """A constant server default, as SQL."""

    def build(self) -> sa.Column[Any]:
        default = None if self.default is None else sa.text(self.default)
        return sa.Column(self.name, self.type(), server_default=default, nullable=self.nullable)


def integer(name: str, *, nullable: bool = False, default: str | None = None) -> Column:
    return Column(name, sa.Integer, nullable, default)


def big_integer(name: str, *, nullable: bool = False) -> Column:
    """64-bit on PostgreSQL; SQLite's INTEGER is already 64-bit and only it autoincrements."""
    return Column(name, lambda: sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable)


def string(name: str, length: int | None = None, *, nullable: bool = False) -> Column:
    return Column(name, lambda: sa.String(length=length), nullable)


def boolean(name: str, *, nullable: bool = False) -> Column:
    return Column(name, sa.Boolean, nullable)


def real(name: str, *, nullable: bool = False) -> Column:
    return Column(name, sa.Float, nullable)


def day(name: str, *, nullable: bool = False) -> Column:
    return Column(name, sa.Date, nullable)


def moment(name: str, *, nullable: bool = False) -> Column:
    """A point in time, stored UTC (``db.types.UTCDateTime``)."""
    return Column(name, lambda: db.types.UTCDateTime(timezone=True), nullable)


def created_at() -> Column:
    return moment("created_at")


def counters(*names: str) -> list[Column]:
    """The participation counters of a rollup table (``post_opd_stat``, ``opd_day_stat``):
    plain integers, one column each."""
    return [integer(name) for name in names]


def primary_key(*columns: str) -> Constraint:
    return lambda table: sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def id_key(*, big: bool = False) -> list[Column | Constraint]:
    """A generated ``id`` as the table's key (64-bit where ``big``): the column and its primary
    key, said together. The key comes first among the constraints whatever the list's order."""
    return [big_integer("id") if big else integer("id"), primary_key("id")]


def unique(*columns: str) -> Constraint:
    return lambda table: sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def check(name: str, condition: str) -> Constraint:
    return lambda table: sa.CheckConstraint(condition, name=op.f(f"ck_{table}_{name}"))


def foreign_key(column: str, target: str, *, ondelete: str | None = None) -> Constraint:
    """``column`` points at ``target.id``."""
    return lambda table: sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


@dataclass(frozen=True)
class Index:
    name: str
    columns: Sequence[str]
    unique: bool = False
    where: str | None = None
    """A partial index's condition, the same SQL on both engines."""

    def create(self, batch_op: BatchOperations) -> None:
        batch_op.create_index(self.name, list(self.columns), unique=self.unique, **self._where())

    def drop(self, batch_op: BatchOperations) -> None:
        batch_op.drop_index(self.name, **self._where())

    def _where(self) -> dict[str, Any]:
        if self.where is None:
            return {}
        return {"sqlite_where": sa.text(self.where), "postgresql_where": sa.text(self.where)}


@dataclass(frozen=True)
class Table:
    """A table a migration creates: its columns and constraints, and the indexes made after."""

    name: str
    parts: Sequence[Column | Constraint]
    indexes: Sequence[Index] = field(default=())

    def create(self) -> None:
        op.create_table(
            self.name,
            *(part.build() if isinstance(part, Column) else part(self.name) for part in self.parts),
        )
        if self.indexes:
            with op.batch_alter_table(self.name, schema=None) as batch_op:
                for index in self.indexes:
                    index.create(batch_op)

    def drop(self) -> None:
        if self.indexes:
            with op.batch_alter_table(self.name, schema=None) as batch_op:
                for index in reversed(self.indexes):
                    index.drop(batch_op)
        op.drop_table(self.name)


def create_tables(*tables: Table) -> None:
    for table in tables:
        table.create()


def drop_tables(*tables: Table) -> None:
    """The tables ``create_tables`` made, newest first (a later one may point at an earlier)."""
    for table in reversed(tables):
        table.drop()


def table_migration(*tables: Table) -> tuple[Callable[[], None], Callable[[], None]]:
    """``upgrade`` and ``downgrade`` of a migration that only creates ``tables``."""
    return lambda: create_tables(*tables), lambda: drop_tables(*tables)


@contextmanager
def adding_columns(
    table: str, columns: Sequence[Column], *indexes: Index
) -> Iterator[BatchOperations]:
    """Add ``columns`` and their ``indexes`` to ``table``; what the block does to the table
    (constraints that use them) happens in the same batch, after. A nullable column, or one
    with a constant default, is a plain ALTER on both engines, no copy of a big table (a
    constraint in the block makes SQLite copy it)."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.add_column(column.build())
        for index in indexes:
            index.create(batch_op)
        yield batch_op


@contextmanager
def dropping_columns(
    table: str, columns: Sequence[Column], *indexes: Index
) -> Iterator[BatchOperations]:
    """Undo ``adding_columns`` from the same list: the block first, then the indexes and the
    columns, newest first."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        yield batch_op
        for index in reversed(indexes):
            index.drop(batch_op)
        for column in reversed(columns):
            batch_op.drop_column(column.name)


def add_columns(table: str, columns: Sequence[Column], *indexes: Index) -> None:
    with adding_columns(table, columns, *indexes):
        pass


def drop_columns(table: str, columns: Sequence[Column], *indexes: Index) -> None:
    with dropping_columns(table, columns, *indexes):
        pass
