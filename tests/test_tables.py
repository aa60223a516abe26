"""One table decoder (geo/tables.py) for every upload: encodings, sheets, delimiters, and
bilingual errors a planner can act on; the node and indicator readers both go through it."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest

from geo.errors import InvalidData, InvalidParameter
from geo.tables import header_frame, read_table
from layers import indicator_upload, settlement_nodes

# Library wording that must never reach a planner (codec names, byte offsets, exception
# classes, server paths).
_RAW = re.compile(r"codec|position \d|0x[0-9a-f]{2}|can't decode|BadZipFile|zipfile|Error\b|"
                  r"/work/|/tmp/|\\\\")


def _assert_bilingual(error: Exception) -> None:
    zh, en = error.message_zh, error.message_en
    assert zh and en and zh != en
    assert re.search(r"[\u4e00-\u9fff]", zh), zh  # the Chinese message is in Chinese
    assert not _RAW.search(zh) and not _RAW.search(en), (zh, en)


def _workbook(**sheets: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_gbk_csv_is_read_as_gb18030() -> None:
    data = "区县,人口（万人）\n安吉县,47.1\n德清县,55.2\n".encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the test really exercises the fallback
    table = read_table(data, "人口.csv")
    assert table.kind == "csv" and table.encoding == "gb18030"
    assert table.grid == [["区县", "人口（万人）"], ["安吉县", "47.1"], ["德清县", "55.2"]]


def test_utf8_with_bom_drops_the_bom() -> None:
    data = "\ufeff名称,层级\n吴兴区,县城\n".encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    table = read_table(data, "nodes.csv")
    assert table.encoding == "utf-8"
    assert table.grid[0] == ["名称", "层级"]  # not "\ufeff名称": the header must still match
    assert list(header_frame(table).columns) == ["名称", "层级"]


@pytest.mark.parametrize("name", ["𠀀村", "㐀村"])
def test_characters_outside_gbk_decode_via_gb18030(name: str) -> None:
    with pytest.raises(UnicodeEncodeError):
        name.encode("gbk")  # not in GBK: a GBK decoder would fail or mangle it
    data = f"名称,层级\n{name},村\n".encode("gb18030")
    table = read_table(data, "nodes.csv")
    assert table.encoding == "gb18030"
    assert table.grid[1] == [name, "村"]


def test_utf8_is_tried_first() -> None:
    # Valid UTF-8 is also valid GB18030 (as different characters): UTF-8 must win.
    table = read_table("名称\n长兴县\n".encode("utf-8"), "a.csv")
    assert table.encoding == "utf-8" and table.grid[1] == ["长兴县"]


def test_xlsx_reads_the_chosen_sheet() -> None:
    data = _workbook(说明=[["本表为示例"]],
                     数据=[["代码", "名称", "数值"], [330523.0, "安吉县", 12.5], [None, "", None]])
    default = read_table(data, "book.xlsx")
    assert default.kind == "xlsx" and default.encoding is None and default.sheet == "说明"
    assert default.grid == [["本表为示例"]]
    chosen = read_table(data, "book.xlsx", sheet="数据")
    assert chosen.sheet == "数据"
    # numbers come back as the digits a planner typed; blanks are ""
    assert chosen.grid == [["代码", "名称", "数值"], ["330523", "安吉县", "12.5"], ["", "", ""]]


def test_xlsx_is_recognised_by_content_whatever_its_name() -> None:
    data = _workbook(表=[["名称", "层级"], ["吴兴区", "县城"]])
    assert read_table(data, "nodes.csv").kind == "xlsx"


def test_missing_sheet_is_a_bilingual_parameter_error() -> None:
    data = _workbook(数据=[["a", "b"]])
    with pytest.raises(InvalidParameter) as error:
        read_table(data, "book.xlsx", sheet="2023")
    _assert_bilingual(error.value)
    assert "数据" in error.value.message_en  # names the sheets there are
    assert error.value.detail == {"parameter": "sheet"}


@pytest.mark.parametrize("data, filename", [
    (b"\xff\xfe\x00garbage\x81", "table.csv"),  # neither UTF-8 nor GB18030
    (b"\x81", "table.csv"),  # a lone GBK lead byte
    (b"PK\x03\x04broken", "table.xlsx"),  # a truncated workbook
    (b"not a zip at all", "table.xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old.xls"),  # binary Excel 97-2003
    (b"name\x00,tier\x00", "utf16.csv"),  # NULs: a binary (e.g. UTF-16) file
    (b"", "empty.csv"),
    (b"\n\n , \n", "blank.csv"),
    (b"%PDF-1.7", "table.pdf"),
])
def test_unreadable_files_give_bilingual_errors(data: bytes, filename: str) -> None:
    with pytest.raises(InvalidData) as error:
        read_table(data, f"/work/uploads/{filename}")
    _assert_bilingual(error.value)


@pytest.mark.parametrize("text, expected", [
    ("a\tb\n1\t2\n", [["a", "b"], ["1", "2"]]),
    ("a;b\n1;2\n", [["a", "b"], ["1", "2"]]),
    ('a,b\n"1,5", 2 \n', [["a", "b"], ["1,5", "2"]]),
])
def test_delimiter_is_sniffed_and_cells_stripped(text: str, expected: list[list[str]]) -> None:
    assert read_table(text.encode(), "t.csv").grid == expected


def test_a_single_given_delimiter_is_not_sniffed() -> None:
    text = '名称,wkt\n村,"POLYGON((0 0; 1 0; 1 1))"\n'  # semicolons must not split the row
    table = read_table(text.encode(), "n.csv", delimiters=",")
    assert table.grid == [["名称", "wkt"], ["村", "POLYGON((0 0; 1 0; 1 1))"]]


def test_header_frame_names_every_column() -> None:
    table = read_table("\n名称,名称,,层级\n\n甲,乙,丙,村\n".encode(), "t.csv", delimiters=",")
    frame = header_frame(table)
    assert list(frame.columns) == ["名称", "名称_2", "column_3", "层级"]
    assert frame.to_dict("records") == [{"名称": "甲", "名称_2": "乙", "column_3": "丙",
                                         "层级": "村"}]


def test_node_and_indicator_readers_share_the_decoder() -> None:
    data = "名称,层级\n𠀀村,村\n㐀村,村\n".encode("gb18030")
    nodes = settlement_nodes.read_table(data, "nodes.csv")
    assert nodes["名称"].tolist() == ["𠀀村", "㐀村"]
    raw = indicator_upload.read_table(data, "nodes.csv")
    assert raw.encoding == "gb18030" and [r[0] for r in raw.rows] == ["𠀀村", "㐀村"]
    for reader in (settlement_nodes.read_table, indicator_upload.read_table):
        with pytest.raises(InvalidData) as error:
            reader(b"\xff\xfe\x00garbage\x81", "x.csv")
        _assert_bilingual(error.value)
