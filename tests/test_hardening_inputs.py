"""Bad input files: a whole-file failure (a gzip file cut off, damaged or not gzip at all) is exit 2
with one line naming the file and the problem; a bad row (bytes that are not UTF-8 included) is a
rejected row with file:line, never the whole file, and never an "Exception ignored" traceback."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bannergen.cli.main import app
from bannergen.data import load_catalog
from bannergen.data.events import load_events
from bannergen.errors import DataError
from bannergen.feedback.readers import iter_chunks

ROOT = Path(__file__).resolve().parents[1]
CATALOG = (ROOT / "examples/shop/catalog.csv").read_bytes()
FIELDS = CATALOG.split(b"\n", 1)[0].count(b",") + 1
EVENTS = b"user_id,item_id,event,ts\n" + b"".join(
    b"u%d,000101,view,2026-11-28T10:00:%02dZ\n" % (n, n % 60) for n in range(3000)
)
FEEDBACK_CSV = b"event_id,ts,user_id,event,variant_id\n" + b"".join(
    b"e%d,2026-11-28T10:00:00Z,u%d,impression,0123456789abcdef01234567\n" % (n, n) for n in range(3000)
)
FEEDBACK_JSONL = b"".join(
    b'{"event_id":"e%d","ts":"2026-11-28T10:00:00Z","user_id":"u%d","event":"impression",'
    b'"variant_id":"0123456789abcdef01234567"}\n' % (n, n) for n in range(3000)
)

BASKETS = b"".join(b"milk,bread,eggs%d\n" % (n % 50) for n in range(20_000))
MINE = ["association-rules", "mine", "--baskets", "FILE", "--min-support", "0.1", "--min-confidence", "0.1"]


def cut_off(data: bytes) -> bytes:
    packed = gzip.compress(data)
    return packed[: len(packed) // 2]


def damaged(data: bytes) -> bytes:
    packed = bytearray(gzip.compress(data))
    for i in range(len(packed) // 3, len(packed) // 3 + 40):
        packed[i] ^= 0x55
    return bytes(packed)


def plain(data: bytes) -> bytes:
    return data


CUT = "the gzip data is cut off before its end"
DAMAGED = "the gzip data is damaged"
NOT_GZIP = "not gzip data, though the name ends in .gz"

# (case, file name, bytes, CLI arguments after --project (FILE is the file), message)
WHOLE_FILE = [
    ("catalog cut off", "catalog.csv.gz", cut_off(CATALOG), ["--catalog", "FILE", "segments"], CUT),
    ("catalog damaged", "catalog.csv.gz", damaged(CATALOG), ["--catalog", "FILE", "segments"], DAMAGED),
    ("catalog not gzip", "catalog.csv.gz", plain(CATALOG), ["--catalog", "FILE", "segments"], NOT_GZIP),
    ("events cut off", "events.csv.gz", cut_off(EVENTS), ["--events", "FILE", "segments"], CUT),
    ("feedback csv cut off", "fb.csv.gz", cut_off(FEEDBACK_CSV), ["feedback", "ingest", "FILE"], CUT),
    ("feedback csv damaged", "fb.csv.gz", damaged(FEEDBACK_CSV), ["feedback", "ingest", "FILE"], DAMAGED),
    ("feedback jsonl cut off", "fb.jsonl.gz", cut_off(FEEDBACK_JSONL), ["feedback", "ingest", "FILE"], CUT),
    ("feedback jsonl not gzip", "fb.jsonl.gz", plain(FEEDBACK_JSONL), ["feedback", "ingest", "FILE"], NOT_GZIP),
    ("baskets cut off", "baskets.csv.gz", cut_off(BASKETS), MINE, CUT),
    ("baskets damaged", "baskets.csv.gz", damaged(BASKETS), MINE, DAMAGED),
]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "bannergen.toml").write_text(
        f'[data]\ncatalog = "{ROOT}/examples/shop/catalog.csv"\nevents = "{ROOT}/examples/shop/events.parquet"\n'
        f'[paths]\ntemplates = "{ROOT}/templates"\nassets = "{ROOT}/assets"\nscoring = "{ROOT}/scoring"\n',
        encoding="utf-8",
    )
    return tmp_path


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "--debug"])
@pytest.mark.parametrize("case, name, data, args, message", WHOLE_FILE, ids=[c[0] for c in WHOLE_FILE])
def test_a_broken_compressed_file_is_exit_2_naming_file_and_problem(project, case, name, data, args, message, debug):
    path = project / name
    path.write_bytes(data)
    argv = ["--project", str(project), *(["--debug"] if debug else []), *(str(path) if a == "FILE" else a for a in args)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors == [errors[0]] and f"{path}: {message}" in errors[0], result.output
    assert "Aborted!" not in result.output


def with_bad_bytes(data: bytes, line: int, old: bytes, new: bytes) -> bytes:
    """``data`` with ``old`` replaced by ``new`` on (1-based) ``line``."""
    lines = data.split(b"\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return b"\n".join(lines)


NOT_UTF8 = "not UTF-8 text"
UTF8_EXPECTED = "expected UTF-8 text (save it as UTF-8, e.g. Excel's 'CSV UTF-8' format)"


def _catalog_rejects(path: Path) -> tuple[int, list[str]]:
    result = load_catalog(path)
    return len(result.frame), [str(r) for r in result.rejects]


def _events_rejects(path: Path) -> tuple[int, list[str]]:
    result = load_events(path)
    return len(result.frame), [str(r) for r in result.rejects]


def _feedback_rejects(path: Path) -> tuple[int, list[str]]:
    chunks = list(iter_chunks(path, path.name))
    return sum(len(c.frame) for c in chunks), [str(r) for c in chunks for r in c.bad_rows]


BAD_ROWS: list[tuple[str, str, bytes, Callable[[Path], tuple[int, list[str]]], int, list[str]]] = [
    ("catalog cell", "catalog.csv", with_bad_bytes(CATALOG, 6, b"000105", b"000105\xff\xfe"), _catalog_rejects, 319,
     [f"catalog.csv:6:item_id: {NOT_UTF8}; got '000105\ufffd\ufffd'; {UTF8_EXPECTED}"]),
    ("catalog gzip cell", "catalog.csv.gz", gzip.compress(with_bad_bytes(CATALOG, 3, "三星".encode(), b"\xc8\xfd\xd0\xc7")),
     _catalog_rejects, 319, [f"catalog.csv.gz:3:title: {NOT_UTF8}; got '\ufffd\ufffd\ufffd\ufffd Galaxy A35 5G 手机 8GB+128GB (演示机 …'; {UTF8_EXPECTED}"]),
    ("catalog bad bytes in a row with too many fields", "catalog.csv",
     with_bad_bytes(CATALOG, 6, b"000105,", b"000105,\xff,"), _catalog_rejects, 319,
     [f"catalog.csv:6:row: too many fields; got {FIELDS + 1} fields; expected {FIELDS} fields as in the header "
      "(quote values that contain commas)"]),
    ("events cell", "events.csv", with_bad_bytes(EVENTS, 10, b"u8", b"u\xe98"), _events_rejects, 2999,
     [f"events.csv:10:user_id: {NOT_UTF8}; got 'u\ufffd8'; {UTF8_EXPECTED}"]),
    ("feedback csv cell", "fb.csv", with_bad_bytes(FEEDBACK_CSV, 5, b"u3", b"u\xff3"), _feedback_rejects, 2999,
     [f"fb.csv:5:user_id: {NOT_UTF8}; got 'u\ufffd3'; {UTF8_EXPECTED}"]),
    ("feedback jsonl cell", "fb.jsonl", with_bad_bytes(FEEDBACK_JSONL, 4, b'"u3"', b'"u\xff3"'), _feedback_rejects, 2999,
     [f"fb.jsonl:4:user_id: {NOT_UTF8}; got 'u\ufffd3'; {UTF8_EXPECTED}"]),
]


@pytest.mark.parametrize("case, name, data, load, kept, rejects", BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
def test_a_row_with_bad_bytes_is_one_rejected_row(tmp_path, monkeypatch, capfd, case, name, data, load, kept, rejects):
    monkeypatch.chdir(tmp_path)
    Path(name).write_bytes(data)
    assert load(Path(name)) == (kept, rejects)
    assert "Exception ignored" not in capfd.readouterr().err


def test_a_file_saved_as_gbk_is_one_whole_file_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("catalog.csv").write_bytes(CATALOG.decode("utf-8").encode("gbk", "replace"))
    with pytest.raises(DataError, match=r"^catalog.csv: not UTF-8 text \(hint: save it as UTF-8"):
        load_catalog(Path("catalog.csv"))
