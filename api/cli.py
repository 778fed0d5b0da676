"""The ``gaung`` command. Thin: parse, open a unit of work, call a domain function, print."""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Protocol, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlmodel import Session

from db.errors import GaungError
from db.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from db.models import OfficialAccount

app = typer.Typer(
    name="gaung",
    help="Gaung: menggaungkan unggahan resmi OPD lewat ASN (Telegram, WhatsApp, API).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Basis data.", no_args_is_help=True)
roster_app = typer.Typer(help="Daftar ASN (roster).", no_args_is_help=True)
admin_app = typer.Typer(help="Admin Diskominfo dan admin OPD.", no_args_is_help=True)
apikey_app = typer.Typer(help="Kunci API.", no_args_is_help=True)
post_app = typer.Typer(help="Postingan OPD.", no_args_is_help=True)
opd_app = typer.Typer(help="Daftar OPD (perangkat daerah).", no_args_is_help=True)
asn_app = typer.Typer(help="Data pribadi seorang ASN: ekspor dan hapus.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(roster_app, name="roster")
app.add_typer(admin_app, name="admin")
app.add_typer(apikey_app, name="apikey")
app.add_typer(post_app, name="post")
app.add_typer(opd_app, name="opd")
app.add_typer(asn_app, name="asn")

STARTUP_PATIENCE = 60.0  # seconds a long-running command waits for the database to answer

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Keluaran JSON untuk skrip.")]
ItemId = Annotated[int, typer.Argument(metavar="ID")]
OpdFilter = Annotated[str | None, typer.Option("--opd", help="Hanya milik OPD ini (kodenya).")]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"gaung: {message}", markup=False)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), 2)


def db_trouble(exc: SQLAlchemyError) -> str:
    """One line about a database failure: the driver's first line only (PostgreSQL's DETAIL
    lines may quote a row's values, a NIP or a phone), never the statement or its values."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return f"basis data tidak bisa dipakai: {' '.join(first.split())}"


def engine_for(cfg: Settings, *, migrated: bool = True, patience: float = 0.0) -> Engine:
    """The configured database, checked: a malformed URL, an unreachable server (still
    unreachable after ``patience`` seconds) and a schema older (or newer) than this program
    each end the command with one line."""
    from db.engine import make_engine
    from db.migrate import head_revision

    try:
        engine = make_engine(cfg.database_url)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        kind = "jenis basis data tidak dikenal" if isinstance(exc, NoSuchModuleError) else ""
        fail(
            f"setting GAUNG_DATABASE_URL tidak sah{': ' + kind if kind else ''} (contoh: "
            "sqlite:///gaung.db atau postgresql://gaung:SANDI@localhost:5432/gaung)",
            2,
        )
    if not migrated:
        return engine
    current = _revision(engine, patience)
    head = head_revision(engine)
    if current != head:
        engine.dispose()
        if current is None:
            fail("basis data belum dibuat: jalankan `gaung db upgrade` dulu")
        fail(
            f"basis data pada revisi {current}, program ini butuh {head}: "
            "jalankan `gaung db upgrade`"
        )
    return engine


def _revision(engine: Engine, patience: float) -> str | None:
    """The schema's revision, waiting up to ``patience`` seconds for a server that does not
    answer yet; a statement that fails for another reason ends the command at once."""
    from db.engine import unreachable
    from db.migrate import current_revision

    deadline = time.monotonic() + patience
    told = False
    while True:
        try:
            return current_revision(engine)
        except SQLAlchemyError as exc:
            if not unreachable(exc) or time.monotonic() >= deadline:
                engine.dispose()
                fail(db_trouble(exc))
            if not told:
                err.print(
                    f"gaung: basis data belum terjangkau; menunggu sampai {patience:.0f} detik",
                    markup=False,
                )
                told = True
            time.sleep(1.0)


def ready(cfg: Settings, *, patience: float = 0.0) -> None:
    """Check the database before a command starts its own engines.

    A service (``worker``, ``bot``, ``serve``) waits ``STARTUP_PATIENCE`` for a server that is
    starting (compose brings both up together) or restarting after a crash: a worker that
    arrived a second too early must not die of it while the others carry on. A wrong address
    still ends it with one line, a minute later; a one-off command ends at once."""
    engine_for(cfg, patience=patience).dispose()


@contextmanager
def unit_of_work(cfg: Settings, *, readonly: bool = False) -> Iterator[Session]:
    """Open the database for one command; domain errors become one line and a non-zero exit."""
    from db.engine import session_scope

    engine = engine_for(cfg)
    try:
        with session_scope(engine, readonly=readonly) as session:
            yield session
    except GaungError as exc:
        fail(exc.message)
    except SQLAlchemyError as exc:
        fail(db_trouble(exc))
    finally:
        engine.dispose()


def write_output(target: Path, data: str | bytes) -> None:
    try:
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.write_text(data, encoding="utf-8")
    except OSError as exc:
        fail(f"tidak bisa menulis {target}: {exc.strerror or exc}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def say(as_json: bool, data: Any, text: str) -> None:
    """A command's result: ``data`` as JSON for scripts, else ``text`` for people."""
    if as_json:
        print_json(data)
    else:
        out.print(text, markup=False)


class Listed(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


L = TypeVar("L", bound=Listed)


def list_and_print(
    read: Callable[[Session], Sequence[L]],
    as_json: bool,
    table: Table,
    cells: Callable[[L], Sequence[str]],
) -> None:
    """A ``list`` command: read in a read-only unit of work, then every row's ``as_dict()``
    for scripts, else the table."""
    with unit_of_work(settings(), readonly=True) as session:
        rows = read(session)
    if as_json:
        print_json([row.as_dict() for row in rows])
        return
    for row in rows:
        table.add_row(*cells(row))
    out.print(table)


def remove_and_report(
    remove: Callable[[Session, int], T], item_id: int, as_json: bool, said: Callable[[T], str]
) -> None:
    """A ``remove ID`` command: delete in one unit of work, then confirm (the same JSON for all)."""
    with unit_of_work(settings()) as session:
        removed = remove(session, item_id)
    say(as_json, {"id": item_id, "removed": True}, said(removed))


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run a long-lived command (``worker``, ``bot``, ``broadcast --wait``) on uvloop when it is
    installed (it comes with ``uvicorn[standard]``, which ``gaung serve`` already runs on).

    At 1,000 sends/s the event loop's own socket and scheduling work is a large share of the
    worker's CPU; uvloop does it in C. Without uvloop: the standard loop, same behaviour.
    """
    import asyncio

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the lock on Linux
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def guarded(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except GaungError as exc:
        fail(exc.message)
    except SQLAlchemyError as exc:
        fail(db_trouble(exc))


@db_app.command("upgrade")
def db_upgrade(as_json: JsonFlag = False) -> None:
    """Buat atau migrasikan basis data ke skema terbaru."""
    from db.migrate import current_revision, upgrade

    cfg = settings()
    engine = engine_for(cfg, migrated=False)
    try:
        upgrade(engine)
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        fail(db_trouble(exc))
    finally:
        engine.dispose()
    say(as_json, {"revision": revision}, f"Basis data siap (revisi {revision}).")


@roster_app.command("import")
def roster_import(
    file: Annotated[Path, typer.Argument(help="Berkas CSV atau XLSX.")],
    full: Annotated[
        bool, typer.Option("--full", help="ASN yang tidak ada di berkas ditandai nonaktif.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Impor ASN: nip,nama,opd_kode,opd_nama[,jabatan][,telepon][,status PNS/PPPK]."""
    from db.roster.importer import import_roster_file

    cfg = settings()
    with unit_of_work(cfg) as session:
        report = import_roster_file(session, file, full=full)
    if as_json:
        print_json(report.as_dict())
        return
    out.print(
        f"Baris: {report.rows}  ditambah: {report.added}  diperbarui: {report.updated}  "
        f"tetap: {report.unchanged}  ditolak: {len(report.rejected)}"
        + (f"  dinonaktifkan: {report.deactivated}" if full else "")
    )
    if report.opd_created:
        out.print(f"OPD baru: {', '.join(report.opd_created)}")
    for rejected in report.rejected:
        out.print(
            f"  baris {rejected.line}: {rejected.reason} (NIP {rejected.nip or '-'})", markup=False
        )


@admin_app.command("add")
def admin_add(
    role: Annotated[str, typer.Option("--role", help="diskominfo atau opd")],
    opd: Annotated[str | None, typer.Option("--opd", help="Kode OPD (untuk admin OPD).")] = None,
    telegram_id: Annotated[int | None, typer.Option("--telegram-id")] = None,
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Jadikan seseorang admin."""
    from db.accounts.admins import add_admin

    cfg = settings()
    with unit_of_work(cfg) as session:
        admin, created = add_admin(
            session, role=role, opd_kode=opd, telegram_id=telegram_id, phone=phone, name=name
        )
    data = {"id": admin.id, "role": admin.role, "opd": opd, "created": created}
    if as_json:
        print_json(data)
    else:
        what = "dibuat" if created else "diperbarui"
        out.print(f"Admin #{admin.id} ({admin.role}{' ' + opd if opd else ''}) {what}.")


@apikey_app.command("create")
def apikey_create(
    role: Annotated[str, typer.Option("--role", help="diskominfo atau opd")],
    opd: Annotated[str | None, typer.Option("--opd", help="Kode OPD (untuk kunci OPD).")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Buat kunci API baru; kunci hanya ditampilkan sekali."""
    from db.accounts.apikeys import create_api_key

    cfg = settings()
    with unit_of_work(cfg) as session:
        key, plain = create_api_key(session, role=role, opd_kode=opd, name=name)
    if as_json:
        print_json({"id": key.id, "key": plain, "role": key.role, "opd": opd})
    else:
        sys.stdout.write(plain + "\n")
        err.print("Simpan kunci ini sekarang: Gaung tidak bisa menampilkannya lagi.")


NetralFlag = Annotated[
    bool,
    typer.Option(
        "--netral",
        help="Saya sudah memeriksa: unggahan tidak memuat calon, partai, atau kampanye "
        "(wajib bila ada peringatan netralitas atau dalam masa kampanye).",
    ),
]


def cli_approver() -> str:
    """Who approves from the CLI, for the record: the operator's login at the server."""
    import getpass

    try:
        login = getpass.getuser()
    except (OSError, KeyError):
        login = "operator"
    return f"cli:{login}"[:64]


def approve_from_cli(cfg: Settings, post_id: int, *, netral: bool) -> Any:
    """One unit of work: the guarded approval by the CLI operator (refused, one line, exit 1,
    when a guard fires without ``--netral``); prints the neutrality statement on stderr."""
    from db.posts.guards import STATEMENT, GuardRules, approve_as_operator

    approver = cli_approver()
    with unit_of_work(cfg) as session:
        done = approve_as_operator(
            session,
            post_id,
            approver=approver,
            checked=netral,
            rules=GuardRules.of(cfg),
            preferred_channel=cfg.preferred_channel,
        )
    err.print(f"Dicatat atas nama {approver}: {STATEMENT}", markup=False)
    for warning in done.warnings:
        err.print(f"Peringatan: {warning.message}", markup=False)
    return done


@post_app.command("add")
def post_add(
    opd: Annotated[str, typer.Option("--opd", help="Kode OPD pemilik postingan.")],
    url: Annotated[str, typer.Option("--url", help="Tautan publik postingan.")],
    caption: Annotated[str | None, typer.Option("--caption")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Langsung setujui.")] = False,
    netral: NetralFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Ajukan (dan bisa langsung setujui) sebuah postingan; mencetak id-nya.

    Dengan --approve, operator menyatakan unggahan netral; bila ada peringatan netralitas atau
    dalam masa kampanye, postingan tetap diajukan tetapi tidak disetujui tanpa --netral."""
    from db.posts.lifecycle import submit_post

    cfg = settings()
    with unit_of_work(cfg) as session:
        post = submit_post(session, opd_kode=opd, url=url, caption=caption)
    if as_json:
        print_json({"id": post.id})
    else:
        sys.stdout.write(f"{post.id}\n")
    if approve:
        assert post.id is not None
        approve_from_cli(cfg, post.id, netral=netral)


@post_app.command("approve")
def post_approve(
    post_id: ItemId,
    netral: NetralFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Setujui postingan yang diajukan; siarannya masuk antrean.

    Operator menyatakan unggahan netral (dicatat atas namanya); bila ada peringatan netralitas
    atau dalam masa kampanye, perlu --netral. Masa kampanye: perlu dua penyetuju berbeda."""
    cfg = settings()
    done = approve_from_cli(cfg, post_id, netral=netral)
    post, queued = done.post, done.queued or 0
    if as_json:
        print_json(
            {
                "id": post.id,
                "status": post.status,
                "queued": queued,
                "approvals": done.approvals,
                "approvals_needed": done.needed,
                "warnings": [w.as_dict() for w in done.warnings],
            }
        )
    elif done.waiting:
        out.print(
            f"Persetujuan pertama postingan #{post.id} tercatat; menunggu persetujuan kedua "
            "dari penyetuju lain (masa kampanye)."
        )
    else:
        out.print(f"Postingan #{post.id} disetujui; {queued} pesan masuk antrean.")


@post_app.command("clarify")
def post_clarify(
    post_id: ItemId,
    as_json: JsonFlag = False,
) -> None:
    """Tandai postingan yang disetujui sebagai klarifikasi: kirimnya didahulukan, pengingatnya
    lebih cepat, dan rekap jangkauannya dikirim ke admin Diskominfo sejam setelah disetujui."""
    from db.posts.clarification import mark_clarification

    with unit_of_work(settings()) as session:
        post, new = mark_clarification(session, post_id)
    if as_json:
        print_json({"id": post.id, "status": post.status, "clarification": True, "new": new})
    elif new:
        out.print(f"Postingan #{post.id} ditandai sebagai klarifikasi; kirimnya didahulukan.")
    else:
        out.print(f"Postingan #{post.id} sudah ditandai sebagai klarifikasi.")


@app.command("broadcast")
def broadcast(
    post_id: ItemId,
    wait: Annotated[
        bool, typer.Option("--wait", help="Kirim di sini, tampilkan kemajuan, tunggu selesai.")
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="Antrekan lagi pengiriman yang gagal karena gangguan sementara "
            "(bukan yang tak terjangkau atau berhenti berlangganan).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Mulai (atau lanjutkan) pengiriman sebuah postingan."""

    from api.broadcasting import check_post, read_progress, send_and_watch
    from api.broadcasting import retry_failed as requeue

    cfg = settings()
    ready(cfg)
    guarded(lambda: check_post(cfg, post_id))
    if retry_failed:
        requeued = guarded(lambda: requeue(cfg, post_id))
        (err if as_json else out).print(
            f"{requeued} pengiriman yang gagal sementara diantrekan lagi (postingan #{post_id})."
        )
    if not wait:
        state = guarded(lambda: read_progress(cfg, post_id))
        if as_json:
            print_json(
                {
                    "id": post_id,
                    "total": state.total,
                    "sent": state.sent,
                    "failed": state.failed,
                    "skipped": state.skipped,
                    "pending": state.pending,
                }
            )
        else:
            out.print(
                f"Postingan #{post_id}: {state.pending} antre, {state.sent} terkirim, "
                f"{state.failed} gagal. `gaung worker` yang berjalan akan mengirimnya; "
                f"atau `gaung broadcast {post_id} --wait`."
            )
        return
    summary = guarded(lambda: run_loop(send_and_watch(cfg, post_id, err, show=not as_json)))
    if as_json:
        print_json(summary.as_dict())
        return
    p = summary.progress
    out.print(
        f"Selesai dalam {summary.seconds:.1f} s: {p.sent} terkirim, {p.failed} gagal, "
        f"{p.skipped} dilewati, {p.deferred} ditunda ke jendela berikutnya (dari {p.total})."
    )
    for reason, count in sorted(p.failures.items(), key=lambda kv: -kv[1]):
        out.print(f"  {count} × {reason}", markup=False)


def run_until_stopped(main: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    """How a long-running command runs ``main``: settings loaded, the database checked and logs
    configured first, then ``main`` until a signal stops it (a domain error ends it plainly)."""

    from api.logs import configure_logging

    cfg = settings()
    ready(cfg, patience=STARTUP_PATIENCE)
    configure_logging(cfg)
    # What the process holds by now (its imports, settings: most of its objects) lives as long
    # as it does: keep it out of the cyclic collector's full passes. Each full pass traversed
    # all of it while the event loop stood still: 120-350 ms each, 4 of them in one paid
    # broadcast on a loaded machine, and every slot of the stall was lost (``Pacer.moved``).
    # Here, not in the broadcaster: a test process runs many of those and must not freeze.
    gc.freeze()
    return guarded(lambda: run_loop(main(cfg)))


@app.command("worker")
def worker() -> None:
    """Jalankan pekerja pengiriman, pengingat, dan jadwal sampai dihentikan."""
    from api.broadcasting import run_worker

    stats = run_until_stopped(lambda cfg: run_worker(cfg, out))
    out.print(
        f"Pekerja berhenti: {stats.sent} terkirim, {stats.failed} gagal, "
        f"{stats.reminded} pengingat."
    )


@app.command("bot")
def bot() -> None:
    """Jalankan bot Telegram (long polling) bersama pekerja pengiriman."""
    from api.broadcasting import run_bot

    stats = run_until_stopped(lambda cfg: run_bot(cfg, out))
    out.print(f"Bot berhenti: {stats.sent} terkirim, {stats.failed} gagal.")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    with_worker: Annotated[
        bool, typer.Option("--worker", help="Jalankan juga pekerja pengiriman di proses ini.")
    ] = False,
) -> None:
    """Jalankan API HTTP, webhook, dan dasbor."""
    import uvicorn

    from api.app import create_app
    from api.logs import configure_logging

    cfg = settings()
    if cfg.secret_key is None:
        fail(
            "setting GAUNG_SECRET_KEY: required by gaung serve, to sign dashboard sign-ins "
            "(at least 32 characters; make one with: openssl rand -hex 32)",
            2,
        )
    ready(cfg, patience=STARTUP_PATIENCE)
    configure_logging(cfg)
    application = guarded(lambda: create_app(cfg, with_worker=with_worker, long_lived=True))
    uvicorn.run(
        application, host=host, port=port, log_level="info", access_log=False, log_config=None
    )


@app.command("report")
def report(
    start: Annotated[
        str | None, typer.Option("--start", help="Tanggal WIB atau waktu ISO.")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="Eksklusif.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv, xlsx atau json")] = "table",
    output: Annotated[Path | None, typer.Option("--output", help="Tulis ke berkas.")] = None,
    opd: Annotated[str | None, typer.Option("--opd", help="Hanya satu OPD.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Hanya ASN berstatus PNS atau PPPK.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Partisipasi per OPD."""
    from api.schemas import ParticipationReport
    from api.whatsapp_cost import participation_billing
    from db.reporting.exports import to_csv, to_xlsx
    from db.reporting.participation import participation
    from db.reporting.window import resolve_window
    from db.roster.opd import opd_by_kode

    fmt = "json" if as_json else fmt
    if fmt not in ("table", "csv", "xlsx", "json"):
        fail("--format harus table, csv, xlsx atau json")
    cfg = settings()
    window = guarded(lambda: resolve_window(start, end, cfg.tz))
    with unit_of_work(cfg, readonly=True) as session:
        opd_ids = [opd_by_kode(session, opd).id] if opd else None
        result = participation(
            session,
            window,
            opd_ids=opd_ids,  # type: ignore[arg-type]
            status=status,
        )
        billing = participation_billing(session, result, cfg) if fmt == "json" else None
    if fmt == "xlsx":
        data = to_xlsx(result, cfg.tz)
        target = output or Path(f"partisipasi-{window.start.astimezone(cfg.tz):%Y%m%d}.xlsx")
        write_output(target, data)
        err.print(f"Ditulis: {target}")
        return
    if fmt == "json":
        text = json.dumps(
            ParticipationReport.of(result, cfg.tz, billing).model_dump(mode="json"),
            ensure_ascii=False,
        )
        text += "\n"
    elif fmt == "csv":
        text = to_csv(result)
    else:
        _print_table(result, cfg, output)
        return
    if output:
        write_output(output, text)
        err.print(f"Ditulis: {output}")
    else:
        sys.stdout.write(text)


def _print_table(result: Any, cfg: Settings, output: Path | None) -> None:
    from db.reporting.window import local_iso

    table = Table(
        title=(
            f"Partisipasi ASN per OPD, {local_iso(result.window.start, cfg.tz)} s.d. "
            f"{local_iso(result.window.end, cfg.tz)}"
        ),
        caption="Like/share dilaporkan sendiri oleh ASN; terkirim diukur dari saluran.",
    )
    for label in (
        "OPD",
        "Roster",
        "Terdaftar",
        "%Daftar",
        "Terkirim",
        "Like",
        "Share",
        "Ikut",
        "%Ikut",
    ):
        table.add_column(label, justify="left" if label == "OPD" else "right")
    rows = sorted(
        result.rows,
        key=lambda r: (-r.counts.participation_rate, -r.counts.registration_rate, r.kode),
    )
    for row in [*rows, None]:
        counts = result.total if row is None else row.counts
        table.add_row(
            "TOTAL" if row is None else row.kode,
            str(counts.asn_roster),
            str(counts.asn_registered),
            f"{counts.registration_rate:.1%}",
            str(counts.delivered),
            str(counts.liked),
            str(counts.shared),
            str(counts.participated),
            f"{counts.participation_rate:.1%}",
            end_section=row is not None and row is rows[-1],
        )
    if output is None:
        out.print(table)
        return
    try:
        with output.open("w", encoding="utf-8") as handle:
            Console(file=handle, width=120).print(table)
    except OSError as exc:
        fail(f"tidak bisa menulis {output}: {exc.strerror or exc}")


@app.command("demo")
def demo(
    asn: Annotated[int, typer.Option("--asn", help="Jumlah ASN simulasi.")] = 8000,
    posts: Annotated[int, typer.Option("--posts", help="Jumlah unggahan yang diajukan.")] = 3,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            help="1 = kecepatan siaran berbayar Telegram dan jeda cerita normal; "
            "2 = jeda separuh; 0.03 = kecepatan bot gratis (30 pesan/s).",
        ),
    ] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Keluar setelah tabel akhir.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Seluruh Gaung di dunianya sendiri: SQLite baru, Telegram tiruan, ASN simulasi.

    Tidak pernah membaca pengaturan, .env, atau basis data deployment.
    """
    from api.demo import DemoFailed, Options, Story

    console = Console(stderr=True, highlight=False) if as_json else out
    options = Options(asn=asn, posts=posts, speed=speed, once=once or as_json, as_json=as_json)
    try:
        story = Story(options, console)
        result = story.run()
    except DemoFailed as exc:
        fail(str(exc))
    if as_json:
        print_json(result)
    elif once:
        story.show(result)
    if not result["matches"]:
        fail(f"tabel tidak sama dengan simulasi: {', '.join(result['mismatched'])}")


# --- gaung source: an OPD's official feeds, polled by `gaung worker` (issue 15) --------------
source_app = typer.Typer(help="Sumber resmi OPD (feed situs, kanal YouTube).", no_args_is_help=True)
app.add_typer(source_app, name="source")


@source_app.command("add")
def source_add(
    opd: Annotated[str, typer.Option("--opd", help="Kode OPD pemilik sumber.")],
    url: Annotated[str, typer.Option("--url", help="Alamat feed RSS/Atom atau kanal YouTube.")],
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="rss|youtube (instagram|facebook: perlu token Graph API)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Daftarkan sumber resmi OPD; unggahan barunya menjadi postingan yang menunggu persetujuan."""
    from db.posts.sources import add_source

    cfg = settings()
    with unit_of_work(cfg) as session:
        source = add_source(
            session, opd_kode=opd, url=url, kind=kind, graph_token=bool(cfg.meta_graph_token)
        )
    say(
        as_json,
        {"id": source.id, "kind": source.kind, "url": source.url},
        f"Sumber #{source.id} ({source.kind}) terdaftar: {source.url}",
    )


@source_app.command("list")
def source_list(opd: OpdFilter = None, as_json: JsonFlag = False) -> None:
    """Sumber terdaftar, berapa item dilihat dan berapa yang menjadi postingan."""
    from db.posts.sources import list_sources

    table = Table("ID", "OPD", "Jenis", "Item", "Postingan", "Galat terakhir")
    table.add_column("Alamat", overflow="fold")
    list_and_print(
        lambda session: list_sources(session, opd_kode=opd),
        as_json,
        table,
        lambda s: (
            str(s.id),
            s.opd_kode,
            s.kind,
            s.url,
            str(s.items),
            str(s.posts),
            f"{s.last_error} ({s.failures}x)" if s.last_error else "-",
        ),
    )


@source_app.command("remove")
def source_remove(source_id: ItemId, as_json: JsonFlag = False) -> None:
    """Hapus sumber; postingan yang sudah dihasilkannya tetap ada."""
    from db.posts.sources import remove_source

    remove_and_report(
        remove_source, source_id, as_json, lambda s: f"Sumber #{source_id} dihapus: {s.url}"
    )


# --- gaung account: the regency's official accounts, checked at review (issue 15) ------------
account_app = typer.Typer(
    help="Akun resmi Pemkab/OPD: tautan dari akun lain diberi peringatan saat ditinjau.",
    no_args_is_help=True,
)
app.add_typer(account_app, name="account")


@account_app.command("add")
def account_add(
    platform: Annotated[
        str, typer.Option("--platform", help="instagram|facebook|tiktok|x|youtube|web")
    ],
    handle: Annotated[
        str,
        typer.Option(
            "--handle", help="Nama akun (@dinkesmjk), tautan profilnya, atau domain untuk web."
        ),
    ],
    opd: Annotated[
        str | None, typer.Option("--opd", help="Kode OPD; tanpa --opd: akun Pemkab.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Tambahkan akun resmi ke daftar."""
    from db.models import Platform
    from db.posts.official import LinkAccount, add_account

    with unit_of_work(settings()) as session:
        account = add_account(session, platform=platform, handle=handle, opd_kode=opd)
    label = LinkAccount(Platform(account.platform), account.handle).label()
    say(as_json, _account_json(account), f"Akun resmi #{account.id} terdaftar: {label}")


def _account_json(account: OfficialAccount) -> dict[str, Any]:
    """An official account as ``account add`` and ``account seed`` print it with ``--json``."""
    return {"id": account.id, "platform": account.platform, "handle": account.handle}


@account_app.command("list")
def account_list(opd: OpdFilter = None, as_json: JsonFlag = False) -> None:
    """Daftar akun resmi."""
    from db.posts.official import list_accounts

    list_and_print(
        lambda session: list_accounts(session, opd_kode=opd),
        as_json,
        Table("ID", "OPD", "Platform", "Akun/domain"),
        lambda r: (str(r.id), r.opd or "(Pemkab)", r.platform, r.handle),
    )


@account_app.command("remove")
def account_remove(account_id: ItemId, as_json: JsonFlag = False) -> None:
    """Hapus akun dari daftar."""
    from db.posts.official import remove_account

    remove_and_report(
        remove_account,
        account_id,
        as_json,
        lambda a: f"Akun resmi #{account_id} dihapus: {a.handle}",
    )


@account_app.command("seed")
def account_seed(as_json: JsonFlag = False) -> None:
    """Isi daftar dari sumber resmi OPD yang terdaftar (domain situs, kanal YouTube)."""
    from db.posts.official import seed_from_sources

    cfg = settings()
    with unit_of_work(cfg) as session:
        added = seed_from_sources(session)
        rows = [_account_json(account) for account in added]
    say(as_json, rows, f"{len(rows)} akun resmi ditambahkan dari sumber OPD.")


@opd_app.command("import")
def opd_import(
    file: Annotated[
        Path | None,
        typer.Argument(help="CSV atau XLSX kode,nama[,jenis]; bawaan: daftar OPD Kab. Mojokerto."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Muat atau perbarui daftar OPD, sebelum roster ASN pertama datang."""
    from db.roster.opd import import_opd_file

    cfg = settings()
    with unit_of_work(cfg) as session:
        report = import_opd_file(session, file)
    if as_json:
        print_json(report.as_dict())
        return
    out.print(
        f"OPD dari {report.source}: baris {report.rows}  ditambah: {report.added}  "
        f"diperbarui: {report.updated}  tetap: {report.unchanged}  ditolak: {len(report.rejected)}",
        markup=False,
    )
    for rejected in report.rejected:
        out.print(f"  baris {rejected.line}: {rejected.reason}", markup=False)


@asn_app.command("export")
def asn_export(nip: Annotated[str, typer.Argument(metavar="NIP")]) -> None:
    """Seluruh data seorang ASN di Gaung, sebagai JSON (permintaan akses lewat surat)."""
    from db.accounts.personal import asn_by_nip, export_asn

    cfg = settings()
    with unit_of_work(cfg) as session:
        data = export_asn(session, asn_by_nip(session, nip), actor="cli")
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@asn_app.command("erase")
def asn_erase(
    nip: Annotated[str, typer.Argument(metavar="NIP")], as_json: JsonFlag = False
) -> None:
    """Hapus data chat seorang ASN, sama seperti /hapus (permintaan lewat surat)."""
    from db.accounts.personal import asn_by_nip, erase_asn

    cfg = settings()
    with unit_of_work(cfg) as session:
        asn = asn_by_nip(session, nip)
        nip_clean = asn.nip
        done = erase_asn(session, asn, actor="cli")
    if as_json:
        print_json({"nip": nip_clean, "accounts": done.accounts, "deliveries": done.deliveries})
        return
    out.print(
        f"Data chat ASN {nip_clean} dihapus: {done.accounts} akun chat, {done.deliveries} "
        "pengiriman dilepas dari namanya (angka partisipasi OPD tetap). Data kepegawaian tetap.",
        markup=False,
    )


def main() -> None:
    """The console script: whatever escapes a command as a database error is still one line."""
    try:
        app()
    except SQLAlchemyError as exc:
        err.print(f"gaung: {db_trouble(exc)}", markup=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
