"""Catalog loading: whole-file errors and per-row rejects, with their exact messages."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bannergen.data import load_catalog
from bannergen.errors import DataError

FIXTURES = Path(__file__).parent / "data_fixtures"
HEADER = "item_id,title,brand,category,price,list_price,stock,image,url"
GOOD = "000101,佳能 EOS R50 微单相机,佳能,相机,4999.00,5999.00,12,images/000101.jpg,https://shop.example.com/item/000101"
FIELDS = HEADER.split(",")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Messages show paths relative to the working folder: run inside tmp_path so they read
    # "catalog.csv:2:price: ..." exactly.
    monkeypatch.chdir(tmp_path)


def row(**changes: str) -> str:
    values = dict(zip(FIELDS, GOOD.split(",")))
    values.update(changes)
    return ",".join(values[f] for f in FIELDS)


def write(name: str, text: str) -> Path:
    path = Path(name)
    path.write_text(text, encoding="utf-8")
    return path


# --- whole-file problems ------------------------------------------------------------------------

FILE_ERRORS = [
    ("missing file", "catalog.csv", None, "catalog.csv: file not found"),
    ("unsupported suffix", "catalog.xlsx", f"{HEADER}\n{GOOD}\n",
     "catalog.xlsx: unsupported file type '.xlsx'; expected .csv, .csv.gz or .parquet"),
    ("missing columns", "catalog.csv", "item_id,title,brand,category,image\n000101,t,b,c,\n",
     "catalog.csv: missing required column(s) price, stock; found item_id, title, brand, category, image"),
    ("semicolons", "catalog.csv", HEADER.replace(",", ";") + "\n" + GOOD.replace(",", ";") + "\n",
     "catalog.csv: looks ';'-delimited; expected comma-separated CSV"),
    ("tabs", "catalog.csv", HEADER.replace(",", "\t") + "\n" + GOOD.replace(",", "\t") + "\n",
     "catalog.csv: looks tab-delimited; expected comma-separated CSV"),
    ("header only", "catalog.csv", HEADER + "\n", "catalog.csv: no rows; a catalog needs at least one item"),
    ("zero bytes", "catalog.csv", "", "catalog.csv: the file is empty; expected a header line naming the columns"),
    ("not a gzip file", "catalog.csv.gz", f"{HEADER}\n{GOOD}\n",
     "catalog.csv.gz: not gzip data, though the name ends in .gz (hint: rename it without .gz if it is plain text)"),
]


@pytest.mark.parametrize(("name", "text", "message"), [c[1:] for c in FILE_ERRORS], ids=[c[0] for c in FILE_ERRORS])
def test_whole_file_errors(name: str, text: str | None, message: str) -> None:
    path = Path(name) if text is None else write(name, text)
    with pytest.raises(DataError) as caught:
        load_catalog(path)
    assert str(caught.value) == message


def test_folder_instead_of_file() -> None:
    Path("catalog.csv").mkdir()
    with pytest.raises(DataError, match=r"^catalog.csv: is a folder; expected a .csv, .csv.gz or .parquet file$"):
        load_catalog(Path("catalog.csv"))


def test_gbk_file_names_the_encoding() -> None:
    path = Path("catalog.csv")
    path.write_bytes(f"{HEADER}\n{GOOD}\n".encode("gbk"))
    with pytest.raises(DataError) as caught:
        load_catalog(path)
    assert str(caught.value) == "catalog.csv: not UTF-8 text (hint: save it as UTF-8, e.g. Excel's 'CSV UTF-8' format)"


def test_unreadable_parquet() -> None:
    write("catalog.parquet", "this is not parquet")
    with pytest.raises(DataError, match=r"^catalog.parquet: not a readable Parquet file \(.+\)$"):
        load_catalog(Path("catalog.parquet"))


def test_parquet_missing_columns() -> None:
    pq.write_table(pa.table({"item_id": ["000101"], "title": ["t"]}), "catalog.parquet")
    with pytest.raises(DataError) as caught:
        load_catalog(Path("catalog.parquet"))
    assert str(caught.value) == (
        "catalog.parquet: missing required column(s) brand, category, price, image, stock; found item_id, title"
    )


# --- per-row rejects ----------------------------------------------------------------------------

LONG = "x" * 60
ROW_REJECTS = [
    ("empty item_id", row(item_id=""), "catalog.csv:2:item_id: empty; got ''; expected a product id such as 000101"),
    ("empty title", row(title=" "), "catalog.csv:2:title: empty; got ''; expected the product title"),
    ("empty brand", row(brand=""), "catalog.csv:2:brand: empty; got ''; expected a brand name such as 佳能"),
    ("empty category", row(category=""), "catalog.csv:2:category: empty; got ''; expected a category such as 相机"),
    ("price text", row(price="abc"),
     "catalog.csv:2:price: not a positive number; got 'abc'; expected a number > 0 such as 4999.00"),
    ("price zero", row(price="0"),
     "catalog.csv:2:price: not a positive number; got '0'; expected a number > 0 such as 4999.00"),
    ("price negative", row(price="-5"),
     "catalog.csv:2:price: not a positive number; got '-5'; expected a number > 0 such as 4999.00"),
    ("price inf", row(price="inf"),
     "catalog.csv:2:price: not a positive number; got 'inf'; expected a number > 0 such as 4999.00"),
    ("price with currency", row(price='"¥4,999"'),
     "catalog.csv:2:price: not a positive number; got '¥4,999'; expected a number > 0 such as 4999.00"),
    ("unquoted comma", row(price="4,999"),
     "catalog.csv:2:row: too many fields; got 10 fields; expected 9 fields as in the header "
     "(quote values that contain commas)"),
    ("short row", "000101,标题,佳能,相机,4999",
     "catalog.csv:2:row: too few fields; got 5 fields; expected 9 fields as in the header"),
    ("price empty", row(price=""),
     "catalog.csv:2:price: not a positive number; got ''; expected a number > 0 such as 4999.00"),
    ("price long", row(price=LONG),
     "catalog.csv:2:price: not a positive number; got 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'; "
     "expected a number > 0 such as 4999.00"),
    ("list_price text", row(list_price="n/a"),
     "catalog.csv:2:list_price: not a number; got 'n/a'; expected empty or a number >= price such as 5999.00"),
    ("list_price below price", row(list_price="3999"),
     "catalog.csv:2:list_price: below the price; got '3999'; expected empty or a number >= 4999.00"),
    ("stock negative", row(stock="-1"),
     "catalog.csv:2:stock: not a whole number >= 0; got '-1'; expected a whole number >= 0 such as 25"),
    ("stock fraction", row(stock="2.5"),
     "catalog.csv:2:stock: not a whole number >= 0; got '2.5'; expected a whole number >= 0 such as 25"),
    ("stock empty", row(stock=""),
     "catalog.csv:2:stock: not a whole number >= 0; got ''; expected a whole number >= 0 such as 25"),
    ("image absolute", row(image="/etc/passwd"),
     "catalog.csv:2:image: path escapes the catalog folder; got '/etc/passwd'; "
     "expected a path inside the catalog's folder such as images/000101.jpg"),
    ("image parent", row(image="../secret.jpg"),
     "catalog.csv:2:image: path escapes the catalog folder; got '../secret.jpg'; "
     "expected a path inside the catalog's folder such as images/000101.jpg"),
    ("image nested parent", row(image="images/../../x.jpg"),
     "catalog.csv:2:image: path escapes the catalog folder; got 'images/../../x.jpg'; "
     "expected a path inside the catalog's folder such as images/000101.jpg"),
    ("image windows drive", row(image="C:\\x.jpg"),
     "catalog.csv:2:image: path escapes the catalog folder; got 'C:\\\\x.jpg'; "
     "expected a path inside the catalog's folder such as images/000101.jpg"),
    ("image url", row(image="https://cdn.example.com/x.jpg"),
     "catalog.csv:2:image: a URL, not a file path; got 'https://cdn.example.com/x.jpg'; "
     "expected a path inside the catalog's folder such as images/000101.jpg"),
    ("url ftp", row(url="ftp://shop.example.com/1"),
     "catalog.csv:2:url: not an http(s) URL; got 'ftp://shop.example.com/1'; "
     "expected empty or a URL such as https://shop.example.com/item/000101"),
    ("url bare host", row(url="shop.example.com/item/1"),
     "catalog.csv:2:url: not an http(s) URL; got 'shop.example.com/item/1'; "
     "expected empty or a URL such as https://shop.example.com/item/000101"),
    ("first failing field wins", row(title="", price="abc"),
     "catalog.csv:2:title: empty; got ''; expected the product title"),
]


@pytest.mark.parametrize(("line", "message"), [c[1:] for c in ROW_REJECTS], ids=[c[0] for c in ROW_REJECTS])
def test_row_rejects(line: str, message: str) -> None:
    good = row(item_id="000999")
    result = load_catalog(write("catalog.csv", f"{HEADER}\n{line}\n{good}\n"))
    assert [str(r) for r in result.rejects] == [message]
    assert result.frame["item_id"].tolist() == ["000999"]
    assert result.rows_read == 2


def test_duplicate_rejected_at_its_later_line() -> None:
    text = f"{HEADER}\n{row()}\n{row(item_id='000102')}\n{row(title='重复')}\n"
    result = load_catalog(write("catalog.csv", text))
    assert [str(r) for r in result.rejects] == [
        "catalog.csv:4:item_id: duplicate item_id; got '000101'; expected a unique id (first used on line 2)"
    ]
    assert result.frame["title"].tolist() == ["佳能 EOS R50 微单相机", "佳能 EOS R50 微单相机"]


def test_a_broken_first_copy_does_not_reject_a_good_later_one() -> None:
    text = f"{HEADER}\n{row(price='abc')}\n{row(title='good')}\n"
    result = load_catalog(write("catalog.csv", text))
    assert [r.field for r in result.rejects] == ["price"]
    assert result.frame["title"].tolist() == ["good"]


def test_line_numbers_count_physical_lines() -> None:
    # A quoted title spanning two lines and a blank line shift the rows after them.
    text = (f"{HEADER}\n" + row(item_id="000001", title='"两行\n标题"') + "\n\n"
            + row(item_id="000002", price="abc") + "\n" + row(item_id="000003") + ",extra,fields\n"
            + row(item_id="000004", stock="-3") + "\n")
    result = load_catalog(write("catalog.csv", text))
    assert [str(r) for r in result.rejects] == [
        "catalog.csv:5:price: not a positive number; got 'abc'; expected a number > 0 such as 4999.00",
        "catalog.csv:6:row: too many fields; got 11 fields; expected 9 fields as in the header "
        "(quote values that contain commas)",
        "catalog.csv:7:stock: not a whole number >= 0; got '-3'; expected a whole number >= 0 such as 25",
    ]
    assert result.frame["title"].tolist() == ["两行\n标题"]
    assert result.rows_read == len(result.frame) + len(result.rejects) == 4


# --- formats and types --------------------------------------------------------------------------


def test_fixture_loads_with_the_documented_schema() -> None:
    result = load_catalog(FIXTURES / "catalog_small.csv")
    assert result.rejects == ()
    frame = result.frame
    assert list(frame.columns) == [
        "item_id",
        "title",
        "brand",
        "category",
        "price",
        "list_price",
        "image",
        "stock",
        "url",
    ]
    assert isinstance(frame.index, pd.RangeIndex)
    assert frame["item_id"].tolist() == ["000101", "000102", "000103", "000104", "000105", "000106"]
    assert frame["price"].dtype == np.float64 and frame["list_price"].dtype == np.float64
    assert frame["stock"].dtype == np.int64
    for column in ("item_id", "title", "brand", "category", "image", "url"):
        assert pd.api.types.is_string_dtype(frame[column].dtype), column
    assert frame["title"][3] == "小米 Redmi Note 13 Pro 5G 手机 8GB+256GB, 午夜黑"
    assert np.isnan(frame["list_price"][2]) and frame["list_price"][0] == 1299.0
    assert frame["image"][3] == "" and frame["url"][3] == ""
    assert frame["stock"][3] == 0


def test_gzip_and_parquet_load_the_same_frame_as_csv() -> None:
    source = FIXTURES / "catalog_small.csv"
    with gzip.open("catalog.csv.gz", "wb") as gz:
        gz.write(source.read_bytes())
    text = pd.read_csv(source, dtype=str, keep_default_na=False)
    pq.write_table(pa.Table.from_pandas(text, preserve_index=False), "catalog.parquet")
    typed = text.assign(price=text["price"].astype(float), stock=text["stock"].astype(int),
                        list_price=pd.to_numeric(text["list_price"]))
    pq.write_table(pa.Table.from_pandas(typed, preserve_index=False), "typed.parquet")

    expected = load_catalog(source).frame
    for name in ("catalog.csv.gz", "catalog.parquet", "typed.parquet"):
        result = load_catalog(Path(name))
        assert result.rejects == (), name
        pd.testing.assert_frame_equal(result.frame, expected, obj=name)


def test_parquet_integer_ids_become_text() -> None:
    pq.write_table(pa.table({
        "item_id": pa.array([101, 102]), "title": ["a", "b"], "brand": ["b", "b"], "category": ["c", "c"],
        "price": [1.0, 2.0], "image": ["", ""], "stock": [1, 2],
    }), "catalog.parquet")
    frame = load_catalog(Path("catalog.parquet")).frame
    assert frame["item_id"].tolist() == ["101", "102"]
    assert frame["url"].tolist() == ["", ""] and frame["list_price"].isna().all()


def test_list_price_equal_to_price_means_not_discounted() -> None:
    frame = load_catalog(write("catalog.csv", f"{HEADER}\n{row(list_price='4999')}\n")).frame
    assert np.isnan(frame["list_price"][0])


def test_bom_and_padded_header_are_accepted() -> None:
    path = Path("catalog.csv")
    path.write_bytes(("\ufeff" + HEADER.replace(",", ", ") + "\r\n" + GOOD + "\r\n").encode("utf-8"))
    result = load_catalog(path)
    assert result.rejects == () and result.frame["item_id"].tolist() == ["000101"]


def test_given_absolute_path_inside_cwd_is_shown_relative(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "catalog.csv"
    path.write_text(f"{HEADER}\n{row(price='x')}\n{GOOD}\n", encoding="utf-8")
    assert load_catalog(path).rejects[0].file == "data/catalog.csv"


# --- invariants ---------------------------------------------------------------------------------

CELL = st.sampled_from(["", "0", "-1", "12", "2.5", "abc", "99.90", "000101", "../x.jpg", "http://a.b/c", " 7 "])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(CELL, min_size=9, max_size=9), min_size=1, max_size=12))
def test_every_row_is_kept_or_rejected_once(tmp_path: Path, cells: list[list[str]]) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(HEADER + "\n" + "\n".join(",".join(c) for c in cells) + "\n", encoding="utf-8")
    result = load_catalog(path)
    assert result.rows_read == len(cells) == len(result.frame) + len(result.rejects)
    assert len({r.line for r in result.rejects}) == len(result.rejects)
    frame = result.frame
    assert (frame["price"] > 0).all() and (frame["stock"] >= 0).all()
    assert not frame["item_id"].duplicated().any()
    assert ((frame["list_price"] > frame["price"]) | frame["list_price"].isna()).all()
