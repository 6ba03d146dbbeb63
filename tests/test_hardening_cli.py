"""One vocabulary across commands: --format table|json|csv wherever output is structured (--json
kept as an alias), one name per meaning for options, a hint for a global option given after the
command, the event kind under either name, and one behaviour for a user with no events."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bannergen.cli.main import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project whose inputs are the example's (read only) and whose outputs stay in a tmp folder."""
    root = tmp_path_factory.mktemp("project")
    for name in ("templates", "scoring", "assets"):
        (root / name).symlink_to(ROOT / name)
    (root / "shop").symlink_to(ROOT / "examples/shop")
    (root / "bannergen.toml").write_text(
        '[data]\ncatalog = "shop/catalog.csv"\nevents = "shop/events.parquet"\n'
        '[render]\nworkers = 1\nsizes = ["1200x400", "750x300", "300x250"]\n', encoding="utf-8")
    return root


def run(project: Path, *args: str):
    return CliRunner().invoke(app, ["--project", str(project), *args])


# (command, a field every JSON document has, a column the CSV has)
STRUCTURED = [
    (["segments"], None, "segment"),
    (["explain", "zhangsan"], "candidates", "probability"),
    (["explain", "nobody"], "candidates", "template"),
    (["recommend", "zhangsan", "--k", "3"], "items", "item_id"),
    (["templates", "list"], None, "id"),
    (["templates", "validate", "price-drop"], "price-drop", None),
    (["templates", "lint", "--template", "price-drop", "--size", "300x250"], "summary", None),
    (["render", "--segment", "camera-fans", "--limit", "2"], "rendered", "rendered"),
]


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("args, key, column", STRUCTURED, ids=[" ".join(c[0][:2]) for c in STRUCTURED])
def test_structured_output_has_one_format_option(project, args, key, column, fmt):
    result = run(project, *args, "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        document = json.loads(result.stdout)
        if key is not None:
            assert key in document
        return
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    if column is not None:
        assert rows and column in rows[0], result.stdout[:300]


@pytest.mark.parametrize("args", [["templates", "validate", "price-drop"], ["render", "--segment", "camera-fans",
                                                                            "--limit", "2"]])
def test_json_is_an_alias_of_format_json(project, args):
    alias, named = run(project, *args, "--json"), run(project, *args, "--format", "json")
    assert alias.exit_code == named.exit_code == 0
    drop = {"seconds", "timings", "unchanged", "rendered", "cached"}
    first, second = json.loads(alias.stdout), json.loads(named.stdout)
    assert {k: v for k, v in first.items() if k not in drop} == {k: v for k, v in second.items() if k not in drop}
    assert "--json" not in run(project, *args[:2], "--help").stdout


# (arguments, what the one error line must say)
MISPLACED = [
    (["render", "--project", "."], "--project is a global option: put it before the command "
                                   "(bannergen --project VALUE render ...)"),
    (["feedback", "ingest", "--debug", "x.csv"], "--debug is a global option: put it before the command "
                                                 "(bannergen --debug feedback ingest ...)"),
    (["segments", "--catalog", "c.csv"], "--catalog is a global option"),
    (["templates", "lint", "--catalog"], "to check every item of the catalog, it is now --all-items"),
]


@pytest.mark.parametrize("args, message", MISPLACED, ids=[" ".join(c[0][:2]) for c in MISPLACED])
def test_a_global_option_after_the_command_says_where_it_goes(args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_a_user_with_no_events_is_a_cold_start_user_everywhere(project):
    explained = run(project, "explain", "nobody")
    assert explained.exit_code == 0, explained.output
    assert explained.stdout.splitlines()[0] == (
        "user nobody: unknown (no events), a cold-start user: gets the default banner")
    document = json.loads(run(project, "explain", "nobody", "--format", "json").stdout)
    assert document["known"] is False and document["policy"] == "default" and document["propensity"] == 1.0
    recommended = run(project, "recommend", "nobody")
    assert recommended.exit_code == 0 and "cold start" in recommended.stdout
    known = json.loads(run(project, "explain", "zhangsan", "--format", "json").stdout)
    assert known["known"] is True


def test_preview_opens_a_browser_with_browser_and_keeps_open_as_a_deprecated_alias(project, tmp_path):
    env = {**os.environ, "BROWSER": "true"}  # a "browser" that accepts the page and does nothing
    for flag, note in (("--browser", False), ("--open", True)):
        result = CliRunner().invoke(app, ["--project", str(project), "templates", "preview", "price-drop",
                                          "--samples", "1", "--out", str(tmp_path / flag), flag], env=env)
        assert result.exit_code == 0, result.output
        assert ("'templates preview --open' is deprecated; use --browser" in result.stderr) is note
    assert "--open" not in run(project, "templates", "preview", "--help").stdout


EVENT_KIND = [
    ("csv with type", "fb.csv", "event_id,ts,user_id,type,variant_id\ne1,2026-11-28T10:00:00Z,u1,impression,{v}\n"),
    ("csv with event", "fb.csv", "event_id,ts,user_id,event,variant_id\ne1,2026-11-28T10:00:00Z,u1,impression,{v}\n"),
    ("jsonl with type", "fb.jsonl",
     '{{"event_id":"e1","ts":"2026-11-28T10:00:00Z","user_id":"u1","type":"impression","variant_id":"{v}"}}\n'),
]


@pytest.mark.parametrize("case, name, text", EVENT_KIND, ids=[c[0] for c in EVENT_KIND])
def test_files_accept_the_event_kind_as_type_too(tmp_path, monkeypatch, case, name, text):
    monkeypatch.chdir(tmp_path)  # outside any project: only --store counts
    path = tmp_path / name
    path.write_text(text.format(v="0123456789abcdef01234567"), encoding="utf-8")
    result = CliRunner().invoke(app, ["feedback", "ingest", str(path), "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "accepted=1 duplicate=0 rejected=0"


@pytest.mark.parametrize("key", ["type", "event"])
def test_the_http_api_accepts_the_event_kind_as_event_too(key):
    from bannergen.service.schemas import EventBatch

    body = {"events": [{key: "click", "user_id": "u1", "variant_id": "0123456789abcdef01234567"}]}
    assert EventBatch.model_validate_json(json.dumps(body)).events[0].type == "click"


def _sigint_as_from_a_shell() -> None:
    """In the child before exec: SIGINT delivered and not ignored (both are inherited)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.mark.slow
def test_ctrl_c_during_a_render_says_what_is_kept_and_exits_130(project, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bannergen.cli.main", "--project", str(project), "render", "--segment", "all",
         "--out", str(out), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # as from a shell: an ignored SIGINT is inherited, and a library earlier in the test run may ignore it
        preexec_fn=_sigint_as_from_a_shell)
    deadline = time.monotonic() + 120
    # interrupt mid-render: once the first banners are on disk and most are still to come
    while not any((out / "assets").glob("*.png")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted; finished banners are kept and reused on the next run"


def _stderr_on_a_terminal(project: Path, args: list[str]) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (as in a shell) and stdout on a pipe."""
    import pty
    import threading

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bannergen.cli.main", "--project", str(project), *args],
                            stdout=subprocess.PIPE, stderr=slave, env={**os.environ, "COLUMNS": "120"})
    os.close(slave)
    seen = bytearray()

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            seen.extend(data)

    reader = threading.Thread(target=drain)
    reader.start()
    stdout, _ = proc.communicate(timeout=300)
    reader.join(10)
    os.close(master)
    return proc.returncode, stdout.decode(), seen.decode("utf-8", "replace")


# (command, what its progress line says)
SLOW_COMMANDS = [
    (["templates", "preview", "price-drop", "--samples", "1"], "rendering price-drop over 1 items"),
    (["templates", "lint", "--template", "price-drop", "--size", "300x250"], "linting 1 templates"),
    (["fit", "--no-tune"], "fitting the scorers"),
    (["evaluate", "--k", "5"], "evaluating every scorer"),
]


@pytest.mark.slow
@pytest.mark.parametrize("args, message", SLOW_COMMANDS, ids=[" ".join(c[0][:2]) for c in SLOW_COMMANDS])
def test_slow_commands_show_progress_on_a_terminal_only(project, args, message):
    code, stdout, terminal = _stderr_on_a_terminal(project, args)
    assert code == 0, terminal
    assert message in terminal and message not in stdout
    piped = subprocess.run([sys.executable, "-m", "bannergen.cli.main", "--project", str(project), *args],
                           capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and message not in piped.stderr
