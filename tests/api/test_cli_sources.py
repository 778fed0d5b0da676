"""`gaung source add|list|remove`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.api.conftest import invoke


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = invoke(runner, *args)
    return result.exit_code, result.stdout, result.stderr


def add_source(runner: CliRunner, opd: str, url: str, *more: str) -> tuple[int, str, str]:
    """``gaung source add --opd OPD --url URL`` and any further options."""
    return run(runner, "source", "add", "--opd", opd, "--url", url, *more)


def test_add_list_remove(gaung: CliRunner) -> None:
    from db.engine import make_engine, session_scope
    from db.roster.opd import ensure_opd
    from db.settings import load_settings

    engine = make_engine(load_settings().database_url)
    with session_scope(engine) as session:
        ensure_opd(session, "DINKES", "Dinas Kesehatan")
    engine.dispose()

    code, out, _ = add_source(gaung, "dinkes", "https://dinkes.example.id/feed", "--json")
    assert code == 0
    added = json.loads(out)
    assert added["kind"] == "rss"
    youtube = "https://www.youtube.com/channel/UCabc"
    code, out, _ = add_source(gaung, "DINKES", youtube, "--kind", "youtube")
    assert code == 0 and "youtube" in out

    code, out, _ = run(gaung, "source", "list", "--json")
    listed = json.loads(out)
    assert [(s["id"], s["opd"], s["kind"], s["items"]) for s in listed] == [
        (added["id"], "DINKES", "rss", 0),
        (added["id"] + 1, "DINKES", "youtube", 0),
    ]
    assert listed[1]["url"] == "https://www.youtube.com/feeds/videos.xml?channel_id=UCabc"
    code, out, _ = run(gaung, "source", "list")
    assert code == 0 and "DINKES" in out and "youtube" in out

    code, _, err = add_source(gaung, "DINKES", "https://www.instagram.com/dinkes/")
    assert code == 1 and "GAUNG_META_GRAPH_TOKEN" in err and "Traceback" not in err

    code, out, _ = run(gaung, "source", "remove", str(added["id"]), "--json")
    assert code == 0 and json.loads(out) == {"id": added["id"], "removed": True}
    code, _, err = run(gaung, "source", "remove", str(added["id"]))
    assert code == 1 and f"sumber #{added['id']} tidak ada" in err
    assert len(json.loads(run(gaung, "source", "list", "--json")[1])) == 1
