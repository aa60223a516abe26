"""CSV or XLSX bytes → a pandas DataFrame of text cells, decoded one way for every upload.

- Kind: XLSX if the name ends .xlsx/.xlsm or the bytes are a ZIP (a renamed workbook is still
  a workbook); CSV if the name ends .csv/.txt/.tsv or has no suffix; old binary .xls and any
  other suffix are refused.
- CSV text: strict UTF-8 (with or without BOM) first, else GB18030, the superset of GBK that
  Excel on Chinese Windows writes; which one was used is reported. The delimiter is sniffed
  among the caller's candidates (a single candidate is used as given).
- XLSX: the first worksheet or the one named, through openpyxl (values, not formulas).

Cells come back as stripped text ("" when blank); whole numbers stored as floats lose their
".0" (330523.0 → "330523"), since codes are often typed as numbers. No header is taken:
callers decide where theirs is (`header_frame` takes the first non-blank row). Every failure
is a typed error with a Chinese and an English message, never library text or a path.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePath

import pandas as pd

from geo.errors import InvalidParameter, UnreadableUpload

XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".txt", ".tsv", "")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old binary Office files (.xls, .doc)
_SNIFF_CHARS = 4096


@dataclass(frozen=True)
class TextTable:
    """An uploaded table's cells, as read."""

    cells: pd.DataFrame  # every cell a str ("" when blank); columns 0..n-1, no header taken
    kind: str  # "csv" | "xlsx"
    encoding: str | None  # "utf-8" | "gb18030" for CSV; None for a workbook
    sheet: str = ""  # worksheet read ("" for CSV)
    # Per row, how many fields it really had (CSV) or up to its last filled cell (XLSX),
    # before padding into a rectangle.
    widths: tuple[int, ...] = ()

    @property
    def grid(self) -> list[list[str]]:
        """The cells as a list of rows."""
        return self.cells.to_numpy().tolist()

    def ragged_rows(self) -> list[int]:
        """Row numbers (1-based, as a spreadsheet or text editor counts them) of non-blank
        rows whose field count differs from the header's (the first non-blank row). A CSV
        row with one field too many would otherwise shift every value after it; an XLSX row
        counts only when it has filled cells beyond the header."""
        filled = (self.cells != "").any(axis=1).to_numpy()
        rows = [i for i in range(len(self.widths)) if filled[i]]
        if not rows:
            return []
        header = self.widths[rows[0]]
        if self.kind == "xlsx":
            return [i + 1 for i in rows[1:] if self.widths[i] > header]
        return [i + 1 for i in rows[1:] if self.widths[i] != header]


def read_table(data: bytes, filename: str = "", sheet: str | None = None,
               delimiters: str = ",\t;") -> TextTable:
    """Decode an uploaded CSV or XLSX into text cells (see the module docstring).

    `sheet` names an XLSX worksheet (InvalidParameter if it does not exist; ignored for CSV).
    `delimiters` are the CSV separators to sniff among.
    Raises UnreadableUpload (empty, undecodable, corrupt or unsupported file).
    """
    if not data:
        raise UnreadableUpload("上传的文件是空的。", "The uploaded file is empty.")
    if _kind(data, filename) == "xlsx":
        grid, sheet_name = _xlsx_grid(data, sheet)
        widths = tuple(max((i + 1 for i, c in enumerate(row) if c != ""), default=0)
                       for row in grid)
        table = TextTable(_frame(grid), "xlsx", None, sheet_name, widths)
    else:
        text, encoding = decode_text(data)
        grid = _csv_grid(text, delimiters)
        table = TextTable(_frame(grid), "csv", encoding, "", tuple(len(row) for row in grid))
    if not (table.cells != "").to_numpy().any():
        raise UnreadableUpload("表格中没有任何内容。", "The table has no filled cells.")
    return table


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): strict UTF-8 (a BOM is dropped), else GB18030 (⊇ GBK)."""
    try:
        # utf-8-sig is strict UTF-8 that also drops a leading BOM
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise UnreadableUpload(
            "无法识别文件编码（既非 UTF-8 也非 GBK/GB18030）：请在 Excel 中另存为"
            "“CSV UTF-8”或 XLSX。",
            "Cannot decode the file: it is neither UTF-8 nor GBK/GB18030. Save it from Excel "
            "as 'CSV UTF-8' or as XLSX.") from None


def header_frame(table: TextTable) -> pd.DataFrame:
    """The table with its first non-blank row as the header; blank rows dropped.

    Header names are stripped; a blank one becomes `column_<n>` (1-based) and a repeated
    one `<name>_2`, `<name>_3`…, so every column can be addressed by name.
    """
    cells = table.cells[(table.cells != "").any(axis=1)]
    if cells.empty:
        return pd.DataFrame()
    names: list[str] = []
    seen: Counter[str] = Counter()
    for i, cell in enumerate(cells.iloc[0]):
        name = cell or f"column_{i + 1}"
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    body = cells.iloc[1:].reset_index(drop=True)
    body.columns = names
    return body


def _kind(data: bytes, filename: str) -> str:
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in XLSX_SUFFIXES or data.startswith(_ZIP_MAGIC):
        return "xlsx"
    if suffix == ".xls" or data.startswith(_OLE_MAGIC):
        raise UnreadableUpload("不支持旧版 .xls，请另存为 .xlsx 或 CSV。",
                               "Old .xls files are not supported; save as .xlsx or CSV.")
    if suffix not in CSV_SUFFIXES:
        raise UnreadableUpload(f"不支持的表格格式“{suffix}”：请用 CSV 或 XLSX。",
                               f"Unsupported table format '{suffix}': use CSV or XLSX.")
    return "csv"


def _csv_grid(text: str, delimiters: str) -> list[list[str]]:
    if "\x00" in text:  # NUL never occurs in a text table: this is a binary file
        raise UnreadableUpload("文件不是文本表格（CSV）：请上传 CSV 或 XLSX。",
                               "The file is not a text table (CSV): upload CSV or XLSX.")
    given: dict[str, str] = {}
    if len(delimiters) > 1:
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
                text[:_SNIFF_CHARS], delimiters=delimiters)
        except csv.Error:
            dialect = _Fixed  # one column, or no clear separator: read as comma-separated
    else:
        dialect, given = _Fixed, {"delimiter": delimiters or ","}
    # A cell may be as long as the file (a village's WKT polygon); the limit is per process
    # and is only ever raised here.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    rows = csv.reader(io.StringIO(text), dialect, **given)
    try:
        return [[c.strip() for c in row] for row in rows]
    except csv.Error:
        raise UnreadableUpload("CSV 格式有误（引号未闭合或分隔符混乱），无法读取。",
                               "The CSV is malformed (an unclosed quote or mixed "
                               "separators) and cannot be read.") from None


class _Fixed(csv.excel):
    """Comma-separated, Excel quoting; a quote may follow a space (`a, "b,c"`)."""

    skipinitialspace = True


def _xlsx_grid(data: bytes, sheet: str | None) -> tuple[list[list[str]], str]:
    import openpyxl  # only workbooks need it

    unreadable = UnreadableUpload("无法读取 XLSX 文件：文件已损坏或不是 Excel 工作簿。",
                                  "Cannot read the XLSX file: it is damaged or not an Excel "
                                  "workbook.")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types (zip, XML, key errors) for a broken file
        raise unreadable from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InvalidParameter(f"没有工作表“{sheet}”。现有：{', '.join(book.sheetnames)}",
                                   f"No sheet '{sheet}'. Sheets: {', '.join(book.sheetnames)}",
                                   parameter="sheet")
        ws = book[sheet] if sheet else book.worksheets[0]
        try:
            grid = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        except Exception:  # a damaged sheet part fails only when its rows are read
            raise unreadable from None
        return grid, ws.title
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # codes typed as numbers: 330523.0 → "330523"
    return str(value).strip()


def _frame(grid: list[list[str]]) -> pd.DataFrame:
    """Rows of unequal length padded with "" into one rectangle of text."""
    width = max((len(row) for row in grid), default=0)
    return pd.DataFrame([row + [""] * (width - len(row)) for row in grid],
                        columns=range(width), dtype=object)
