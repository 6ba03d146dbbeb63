"""The rejects report and the fail-closed reject-rate check."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bannergen.data import LoadResult, check_reject_rate, write_rejects
from bannergen.data.rejects import format_got
from bannergen.errors import DataError, RejectRateError
from bannergen.types import Reject

PRICE = Reject("catalog.csv", 7, "price", "not a positive number", "'abc'", "a number > 0 such as 4999.00")


def result_with(rejected: int, rows: int) -> LoadResult:
    return LoadResult(pd.DataFrame({"item_id": ["x"] * (rows - rejected)}), (PRICE,) * rejected, rows)


def test_reject_renders_as_one_line() -> None:
    assert str(PRICE) == "catalog.csv:7:price: not a positive number; got 'abc'; expected a number > 0 such as 4999.00"


def test_check_reject_rate_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RejectRateError) as caught:
        check_reject_rate(result_with(120, 1000), tmp_path / "catalog.csv", 0.05,
                          rejects_path=tmp_path / "out" / "rejects.txt")
    assert str(caught.value) == (
        "catalog.csv: 120 of 1000 rows rejected (12.0%), above the limit of 5.0%; see out/rejects.txt "
        "(hint: the first is catalog.csv:7:price: not a positive number; got 'abc'; "
        "expected a number > 0 such as 4999.00)"
    )
    assert caught.value.message.endswith("see out/rejects.txt")
    assert isinstance(caught.value, DataError) and caught.value.exit_code == 2


def test_check_reject_rate_without_a_report_path() -> None:
    with pytest.raises(RejectRateError) as caught:
        check_reject_rate(result_with(2, 3), Path("data/events.parquet"), 0.5)
    assert caught.value.message == "data/events.parquet: 2 of 3 rows rejected (66.7%), above the limit of 50.0%"


@pytest.mark.parametrize(("rejected", "rows", "limit"), [(0, 10, 0.0), (5, 100, 0.05), (0, 0, 0.0), (1, 1, 1.0)])
def test_check_reject_rate_passes_at_or_below_the_limit(rejected: int, rows: int, limit: float) -> None:
    check_reject_rate(result_with(rejected, rows), Path("catalog.csv"), limit)


def test_write_rejects_one_line_each_and_creates_folders(tmp_path: Path) -> None:
    target = tmp_path / "out" / "deep" / "rejects.txt"
    other = Reject("events.parquet", 3, "ts", "not a timestamp", "'x'", "ISO 8601")
    write_rejects(target, [PRICE, other])
    assert target.read_text(encoding="utf-8") == f"{PRICE}\n{other}\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["rejects.txt"]  # no temp file left


def test_write_rejects_replaces_and_empties(tmp_path: Path) -> None:
    target = tmp_path / "rejects.txt"
    write_rejects(target, [PRICE] * 3)
    write_rejects(target, [])
    assert target.read_text(encoding="utf-8") == ""


def test_write_rejects_is_atomic_when_writing_fails(tmp_path: Path) -> None:
    class Exploding(Reject):
        def __str__(self) -> str:
            raise RuntimeError("disk full")

    target = tmp_path / "rejects.txt"
    write_rejects(target, [PRICE])
    with pytest.raises(RuntimeError):
        write_rejects(target, [PRICE, Exploding(*vars(PRICE).values())])
    assert target.read_text(encoding="utf-8") == f"{PRICE}\n"  # the old report is intact
    assert [p.name for p in tmp_path.iterdir()] == ["rejects.txt"]


@pytest.mark.parametrize(("value", "shown"), [
    ("abc", "'abc'"), ("", "''"), (None, "''"), (-5.0, "'-5.0'"), ("a\nb", "'a\\nb'"),
    ("佳能" * 30, "'" + ("佳能" * 19)[:37] + "…'"),
])
def test_format_got(value: object, shown: str) -> None:
    assert format_got(value) == shown
    assert len(format_got(value)) <= 40
