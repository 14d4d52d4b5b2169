"""HTML and text previews of mappings and objects, for Jupyter and IPython.

A mapping displays one page of a ``/``-delimited listing, made with exactly one list
request. A :class:`~cloudyfiles.common.RemoteObject` displays a preview built from one
range request for its first :attr:`DisplayConfig.preview_bytes` bytes: text, a CSV or
TSV table, pretty-printed JSON, an inline image, image format and dimensions read from
the header, or a hex dump. Every key, value and metadata string passes through
:func:`html.escape` before it reaches HTML.

This module imports nothing from IPython, so the reprs also work in plain scripts.
"""

from __future__ import annotations

import base64
import codecs
import csv
import dataclasses
import datetime
import html
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._store import ListPage, ObjectInfo, guess_content_type

if TYPE_CHECKING:
    from ._mapping import ObjectMapping
    from .common import RemoteObject

__all__ = [
    "DisplayConfig",
    "Preview",
    "build_preview",
    "config",
    "listing_bundle",
    "mapping_bundle",
    "object_bundle",
    "preview_object",
]

MAX_PREVIEW_BYTES = 64 << 20
"""Upper bound of ``preview_bytes``: a preview is a glance, not a download."""


@dataclass
class DisplayConfig:
    """Settings of the listing and preview reprs, shared by every mapping and object."""

    preview_bytes: int = 64 * 1024
    """Bytes that one object preview fetches, from the start of the object."""
    page_size: int = 50
    """Entries (folders and objects) that one listing page shows."""
    preview_rows: int = 20
    """Data rows that a CSV or TSV preview shows."""
    preview_lines: int = 200
    """Lines that a text or JSON preview shows."""
    hexdump_bytes: int = 256
    """Bytes that a hex dump shows."""
    image_width: int = 480
    """Widest rendering of an inline image, in CSS pixels."""

    def update(self, **values: Any) -> DisplayConfig:
        """Set the named settings after checking each; return the config."""
        known = {item.name for item in dataclasses.fields(self)}
        checked = {}
        for name, value in values.items():
            if name not in known:
                raise ValueError(
                    f"unknown display setting {name!r}: use one of {', '.join(sorted(known))}"
                )
            checked[name] = _positive_int(name, value)
        if checked.get("preview_bytes", 0) > MAX_PREVIEW_BYTES:
            raise ValueError(
                f"invalid preview_bytes {checked['preview_bytes']}: previews fetch at most "
                f"{MAX_PREVIEW_BYTES} bytes; read larger ranges with a slice such as obj[0:n]"
            )
        for name, value in checked.items():
            setattr(self, name, value)
        return self

    def reset(self) -> DisplayConfig:
        """Restore every setting to its default; return the config."""
        for item in dataclasses.fields(self):
            setattr(self, item.name, item.default)
        return self


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, str):
        try:
            value = int(value.replace("_", ""))
        except ValueError:
            raise ValueError(f"invalid {name} {value!r}: expected a whole number") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"invalid {name} {value!r}: expected a whole number of at least 1")
    return value


config = DisplayConfig()
"""The settings that every repr reads; ``cloudyfiles_jupyter.config`` is this object."""


# Formatting helpers


def format_size(size: int | None) -> str:
    """Return ``size`` in bytes as a short human-readable string, such as ``5.0 MiB``."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def format_time(moment: datetime.datetime | None) -> str:
    """Return a timestamp in UTC to the second, or ``""`` when it is unknown."""
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


_TABLE_STYLE = "border-collapse:collapse;font-size:90%;text-align:left"
_CELL_STYLE = "padding:1px 8px;text-align:left"
_NOTE_STYLE = "color:#666;font-size:90%;margin:4px 0;line-height:1.4"
_CUT_STYLE = "color:#b35900;font-size:90%;margin:4px 0;line-height:1.4"
_PRE_STYLE = "max-height:32em;overflow:auto;font-size:85%;margin:4px 0;line-height:1.3"


def _html_table(header: list[str], rows: Iterable[list[str]], css_class: str) -> str:
    """Return an HTML table; every cell is escaped here, so callers pass plain text."""
    parts = [f'<table class="{css_class}" style="{_TABLE_STYLE}"><thead><tr>']
    parts.extend(f'<th style="{_CELL_STYLE}">{_escape(name)}</th>' for name in header)
    parts.append("</tr></thead><tbody>")
    for row in rows:
        cells = "".join(f'<td style="{_CELL_STYLE}">{_escape(cell)}</td>' for cell in row)
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _text_table(header: list[str], rows: list[list[str]], max_width: int = 60) -> str:
    def clip(cell: str) -> str:
        cell = cell.replace("\n", " ")
        return cell if len(cell) <= max_width else cell[: max_width - 1] + "…"

    table = [[clip(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) if i < len(row) else 0 for row in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[: len(widths)])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# Listings


def listing_bundle(url: str, page: ListPage, *, more_hint: str = "") -> dict[str, str]:
    """Return HTML and text of one listing page whose names are relative to ``url``.

    Folders come first, then objects with size, modification time and content type.
    The content type is the stored one when the listing reported it, otherwise a guess
    from the extension, because a listing does not carry it and one HEAD per key would
    defeat paging. When ``page.next_token`` is set, the output states that more entries
    exist, without counting them.
    """
    header = ["Name", "Size", "Modified", "Type"]
    rows = [[name, "", "", "folder"] for name in page.prefixes]
    for info in page.objects:
        content_type = info.content_type or guess_content_type(info.key)
        rows.append(
            [info.key, format_size(info.size), format_time(info.last_modified), content_type]
        )
    summary = f"{_count(len(page.prefixes), 'folder')} and {_count(len(page.objects), 'object')}"
    if page.next_token is not None:
        summary += " on this page"
    more = ""
    if page.next_token is not None:
        more = "More entries exist after this page" + (f": {more_hint}" if more_hint else ".")

    title = f"{url}: {summary}"
    body = _html_table(header, rows, "cloudyfiles-listing") if rows else ""
    parts = [f'<div class="cloudyfiles-mapping"><div style="{_NOTE_STYLE}">{_escape(title)}</div>']
    if body:
        parts.append(body)
    else:
        parts.append(f'<div style="{_NOTE_STYLE}">(no objects)</div>')
    if more:
        parts.append(f'<div class="cloudyfiles-more" style="{_CUT_STYLE}">{_escape(more)}</div>')
    parts.append("</div>")

    text = [title]
    if rows:
        text.append(_text_table(header, rows))
    if more:
        text.append(more)
    return {"text/html": "".join(parts), "text/plain": "\n".join(text)}


def mapping_bundle(mapping: ObjectMapping) -> dict[str, str]:
    """Return HTML and text of the first listing page of ``mapping``.

    Sends exactly one list request, for at most ``config.page_size`` entries.
    """
    page = mapping.list_page("", delimiter="/", page_size=config.page_size)
    hint = f"%cloudy ls {mapping.url} --next, or cloudyfiles_jupyter.browser(...) to page through"
    return listing_bundle(mapping.url, page, more_hint=hint)


# Object previews


@dataclass
class Preview:
    """A rendered preview of the first bytes of one object."""

    kind: str
    """``empty``, ``text``, ``csv``, ``json``, ``image``, ``image-header`` or ``binary``."""
    html: str
    """HTML body below the metadata line; every stored string in it is escaped."""
    text: str
    """Plain text body, for terminals."""
    cut: bool = False
    """Whether the preview shows less than the whole object."""


def object_bundle(obj: RemoteObject) -> dict[str, str]:
    """Return HTML and text previews of ``obj`` built from one range request.

    Fetches ``obj[0:n]`` once, with ``n = min(obj.size, config.preview_bytes)``, plus
    one HEAD when the object came from a listing and its content type is unknown.
    """
    info = obj.info
    preview = preview_object(obj)
    meta_html, meta_text = _metadata_line(obj.url, info)
    body_html = (
        f'<div class="cloudyfiles-object" data-kind="{preview.kind}">'
        f'<div class="cloudyfiles-meta" style="{_NOTE_STYLE}">{meta_html}</div>'
        f"{preview.html}</div>"
    )
    return {"text/html": body_html, "text/plain": f"{meta_text}\n{preview.text}"}


def preview_object(obj: RemoteObject, preview_bytes: int | None = None) -> Preview:
    """Fetch the first bytes of ``obj`` with one slice and return their preview."""
    limit = config.preview_bytes if preview_bytes is None else preview_bytes
    size = obj.size
    head = obj[0 : min(size, limit)] if size else b""
    info = obj.info
    return build_preview(info.key, info.content_type, size, head)


def _metadata_line(url: str, info: ObjectInfo) -> tuple[str, str]:
    fields = [url, format_size(info.size)]
    if info.content_type:
        fields.append(info.content_type)
    if info.last_modified is not None:
        fields.append(f"modified {format_time(info.last_modified)}")
    if info.etag:
        fields.append(f"ETag {info.etag}")
    if info.metadata:
        pairs = ", ".join(f"{name}={value}" for name, value in sorted(info.metadata.items()))
        fields.append(f"metadata: {pairs}")
    text = " · ".join(fields)
    return _escape(text), text


def build_preview(key: str, content_type: str | None, size: int, head: bytes) -> Preview:
    """Return the preview of an object from its first bytes ``head``.

    ``size`` is the whole object's length, so a preview can state what it leaves out.
    """
    if size == 0:
        return Preview(
            "empty", f'<div style="{_NOTE_STYLE}">(empty object)</div>', "(empty object)"
        )
    content_type = (content_type or guess_content_type(key)).split(";")[0].strip().lower()
    image_format = _image_format(head)
    if image_format or (content_type.startswith("image/") and content_type != "image/svg+xml"):
        return _image_preview(image_format, size, head)
    if _is_json(key, content_type):
        return _json_preview(size, head)
    delimiter = _table_delimiter(key, content_type)
    if delimiter is not None:
        return _csv_preview(size, head, delimiter)
    if _is_text(content_type) or _looks_like_text(head, size):
        return _text_preview(size, head)
    return _binary_preview(size, head)


def _cut_note(shown: int, size: int, what: str = "bytes") -> str:
    return f"… cut: the preview shows the first {shown:,} {what} of {size:,} bytes"


def _cut_html(note: str) -> str:
    return f'<div class="cloudyfiles-cut" style="{_CUT_STYLE}">{_escape(note)}</div>'


def _decode(head: bytes, whole: bool) -> str:
    # A range can end inside a multi-byte character; the incremental decoder keeps
    # that tail back instead of showing a replacement character.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(head, final=whole)


# Text


_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|x-javascript|x-yaml|yaml|toml|x-sh|"
    r"x-python|sql|x-ndjson|ld\+json|.*\+xml|.*\+json))$"
)


def _is_text(content_type: str) -> bool:
    return bool(_TEXT_TYPES.match(content_type))


def _looks_like_text(head: bytes, size: int) -> bool:
    sample = head[:8192]
    if b"\x00" in sample:
        return False
    text = _decode(sample, whole=len(sample) == size)
    return text.count("\ufffd") <= len(text) // 100


def _text_preview(size: int, head: bytes) -> Preview:
    whole = len(head) == size
    text = _decode(head, whole)
    lines = text.splitlines(keepends=True)
    max_lines = config.preview_lines
    shown = "".join(lines[:max_lines])
    cut = not whole or len(lines) > max_lines
    note = ""
    if len(lines) > max_lines:
        note = f"… cut: the preview shows the first {max_lines:,} lines"
        note += f" of the first {len(head):,} bytes" if not whole else ""
        note += f"; the object has {size:,} bytes"
    elif not whole:
        note = _cut_note(len(head), size)
    body = f'<pre class="cloudyfiles-text" style="{_PRE_STYLE}">{_escape(shown)}</pre>'
    if note:
        body += _cut_html(note)
    plain = shown.rstrip("\n") + (f"\n{note}" if note else "")
    return Preview("text", body, plain, cut)


# CSV and TSV


def _table_delimiter(key: str, content_type: str) -> str | None:
    lowered = key.lower()
    if content_type == "text/tab-separated-values" or lowered.endswith((".tsv", ".tab")):
        return "\t"
    if content_type in ("text/csv", "application/csv") or lowered.endswith(".csv"):
        return ","
    return None


def _csv_preview(size: int, head: bytes, delimiter: str) -> Preview:
    whole = len(head) == size
    text = _decode(head, whole)
    if not whole:
        # The last line may stop in the middle of a row.
        text = text[: text.rfind("\n") + 1] if "\n" in text else ""
    if delimiter == ",":
        delimiter = _sniff_delimiter(text[:4096])
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > config.preview_rows:
                break
    except csv.Error:
        return _text_preview(size, head)
    if not rows:
        return _text_preview(size, head)
    header, data = rows[0], rows[1 : config.preview_rows + 1]
    width = max(len(row) for row in [header, *data])
    header = header + [""] * (width - len(header))
    cut = not whole or len(rows) > config.preview_rows
    note = ""
    if cut:
        note = (
            f"… cut: the preview shows the first {len(data):,} rows; the object has {size:,} bytes"
        )
    body = _html_table(header, data, "cloudyfiles-csv")
    if note:
        body += _cut_html(note)
    plain = _text_table(header, data) + (f"\n{note}" if note else "")
    return Preview("csv", body, plain, cut)


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


# JSON


def _is_json(key: str, content_type: str) -> bool:
    if content_type == "application/json" or content_type.endswith("+json"):
        return True
    return key.lower().endswith((".json", ".geojson"))


_CUT_MARK = "\x00cloudyfiles-cut\x00"
_CUT_MARK_DUMPED = json.dumps(_CUT_MARK)


def _json_preview(size: int, head: bytes) -> Preview:
    whole = len(head) == size
    text = _decode(head, whole)
    if whole:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            preview = _text_preview(size, head)
            note = f"not valid JSON ({error}); shown as text"
            preview.html = _cut_html(note) + preview.html
            preview.text = f"{note}\n{preview.text}"
            return preview
    else:
        try:
            value = _parse_partial_json(text)
        except _NothingParsed:
            return _text_preview(size, head)
    dumped = json.dumps(value, indent=2, ensure_ascii=False)
    dumped = dumped.replace(f"{_CUT_MARK_DUMPED}: {_CUT_MARK_DUMPED}", "…")
    dumped = dumped.replace(_CUT_MARK_DUMPED, "…")
    lines = dumped.splitlines()
    max_lines = config.preview_lines
    notes = []
    if not whole:
        notes.append(
            f"… cut: the document continues after the first {len(head):,} of {size:,} bytes; "
            "shown is what parsed, and … marks where it was cut"
        )
    if len(lines) > max_lines:
        notes.append(f"… the preview shows the first {max_lines:,} of {len(lines):,} lines")
        lines = lines[:max_lines]
    shown = "\n".join(lines)
    body = f'<pre class="cloudyfiles-json" style="{_PRE_STYLE}">{_escape(shown)}</pre>'
    body += "".join(_cut_html(note) for note in notes)
    plain = "\n".join([shown, *notes])
    return Preview("json", body, plain, bool(notes))


class _NothingParsed(ValueError):
    pass


class _Cut(Exception):
    """The text ended inside a JSON value; ``partial`` is what parsed of it."""

    def __init__(self, partial: Any = None) -> None:
        super().__init__()
        self.partial = partial


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LITERALS = {"true": True, "false": False, "null": None}


def _parse_partial_json(text: str) -> Any:
    """Parse the JSON document that ``text`` starts, up to where the text was cut.

    Containers that the cut left open end with a mark, rendered as ``…``; a value cut
    in the middle is left out. Raise _NothingParsed when no container was opened.
    """
    scanner = _PartialJSON(text)
    start = scanner.skip(0)
    if start >= len(text) or text[start] not in "[{":
        raise _NothingParsed(text[:40])
    try:
        value, _ = scanner.value(start)
    except _Cut as cut:
        return cut.partial
    return value


class _PartialJSON:
    def __init__(self, text: str) -> None:
        self.text = text

    def skip(self, index: int) -> int:
        match = _WHITESPACE.match(self.text, index)
        assert match is not None
        return match.end()

    def value(self, index: int) -> tuple[Any, int]:
        text = self.text
        if index >= len(text):
            raise _Cut()
        char = text[index]
        if char == "{":
            return self.object(index + 1)
        if char == "[":
            return self.array(index + 1)
        if char == '"':
            return self.string(index + 1)
        match = _NUMBER.match(text, index)
        if match:
            if match.end() >= len(text):
                raise _Cut()  # the number may continue past the cut
            number = match.group()
            is_float = any(mark in number for mark in ".eE")
            return (float(number) if is_float else int(number)), match.end()
        for word, literal in _LITERALS.items():
            if text.startswith(word, index):
                return literal, index + len(word)
            if word.startswith(text[index:]):
                raise _Cut()
        raise ValueError(f"invalid JSON at character {index}")

    def string(self, index: int) -> tuple[str, int]:
        try:
            return json.decoder.scanstring(self.text, index)  # type: ignore[attr-defined,no-any-return]
        except json.JSONDecodeError:
            raise _Cut() from None

    def array(self, index: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        index = self.skip(index)
        if index < len(self.text) and self.text[index] == "]":
            return items, index + 1
        while True:
            try:
                item, index = self.value(self.skip(index))
            except _Cut as cut:
                if cut.partial is not None:
                    items.append(cut.partial)
                items.append(_CUT_MARK)
                raise _Cut(items) from None
            items.append(item)
            index = self.skip(index)
            if index >= len(self.text):
                raise _Cut([*items, _CUT_MARK])
            if self.text[index] == "]":
                return items, index + 1
            if self.text[index] != ",":
                raise ValueError(f"invalid JSON at character {index}")
            index += 1

    def object(self, index: int) -> tuple[dict[str, Any], int]:
        members: dict[str, Any] = {}
        index = self.skip(index)
        if index < len(self.text) and self.text[index] == "}":
            return members, index + 1
        while True:
            name: str | None = None
            try:
                index = self.skip(index)
                if index >= len(self.text) or self.text[index] != '"':
                    raise (
                        _Cut()
                        if index >= len(self.text)
                        else ValueError(f"invalid JSON at character {index}")
                    )
                name, index = self.string(index + 1)
                index = self.skip(index)
                if index >= len(self.text):
                    raise _Cut()
                if self.text[index] != ":":
                    raise ValueError(f"invalid JSON at character {index}")
                member, index = self.value(self.skip(index + 1))
            except _Cut as cut:
                if cut.partial is not None and name is not None:
                    members[name] = cut.partial
                members[_CUT_MARK] = _CUT_MARK
                raise _Cut(members) from None
            members[name] = member
            index = self.skip(index)
            if index >= len(self.text):
                members[_CUT_MARK] = _CUT_MARK
                raise _Cut(members)
            if self.text[index] == "}":
                return members, index + 1
            if self.text[index] != ",":
                raise ValueError(f"invalid JSON at character {index}")
            index += 1


# Images


_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
_IMAGE_MIME = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
}


def _image_format(head: bytes) -> str | None:
    for signature, name in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            if name == "BMP" and len(head) < 26:
                return None
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _image_header(head: bytes) -> tuple[str, int, int, str] | None:
    """Return format, width, height and mode read by Pillow from the first bytes."""
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(io.BytesIO(head)) as image:
            return str(image.format), image.width, image.height, str(image.mode)
    except Exception:  # noqa: BLE001  # Pillow raises many types for unreadable headers
        return None


def _image_preview(image_format: str | None, size: int, head: bytes) -> Preview:
    whole = len(head) == size
    header = _image_header(head)
    if header is not None:
        name, width, height, mode = header
        description = f"{name} image, {width} × {height} pixels, mode {mode}"
    elif image_format is not None:
        description = f"{image_format} image (install pillow to read its dimensions)"
    else:
        description = "image in a format that this preview cannot read"

    if whole and image_format in _IMAGE_MIME:
        encoded = base64.b64encode(head).decode("ascii")
        source = f"data:{_IMAGE_MIME[image_format]};base64,{encoded}"
        body = (
            f'<div style="{_NOTE_STYLE}">{_escape(description)}</div>'
            f'<img class="cloudyfiles-image" src="{_escape(source)}" alt="{_escape(description)}"'
            f' style="max-width:{config.image_width}px;height:auto">'
        )
        return Preview("image", body, description)

    note = (
        f"… the image is larger than the preview range ({len(head):,} of {size:,} bytes), "
        "so only its header was read"
    )
    body = f'<div style="{_NOTE_STYLE}">{_escape(description)}</div>{_cut_html(note)}'
    if header is None and image_format is None:
        binary = _binary_preview(size, head)
        return Preview("binary", body + binary.html, f"{description}\n{binary.text}", True)
    return Preview("image-header", body, f"{description}\n{note}", True)


# Binary


_BINARY_SIGNATURES = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "ZIP (also .npz, .xlsx, .docx, .jar)"),
    (b"PAR1", "Parquet"),
    (b"%PDF-", "PDF"),
    (b"\x93NUMPY", "NumPy array"),
    (b"\x89HDF\r\n\x1a\n", "HDF5"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"(\xb5/\xfd", "Zstandard"),
    (b"SQLite format 3\x00", "SQLite database"),
)


def _binary_format(head: bytes) -> str | None:
    for signature, name in _BINARY_SIGNATURES:
        if head.startswith(signature):
            return name
    return None


def hexdump(data: bytes, width: int = 16) -> str:
    """Return ``data`` as offset, hex bytes and printable ASCII, ``width`` bytes a line."""
    lines = []
    for offset in range(0, len(data), width):
        chunk = data[offset : offset + width]
        hex_part = " ".join(f"{byte:02x}" for byte in chunk).ljust(width * 3 - 1)
        ascii_part = "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in chunk)
        lines.append(f"{offset:08x}  {hex_part}  |{ascii_part}|")
    return "\n".join(lines)


def _binary_preview(size: int, head: bytes) -> Preview:
    shown = head[: config.hexdump_bytes]
    name = _binary_format(head)
    description = f"{name} data" if name else "binary data"
    dump = hexdump(shown)
    note = ""
    if len(shown) < size:
        note = _cut_note(len(shown), size)
    body = (
        f'<div style="{_NOTE_STYLE}">{_escape(description)}</div>'
        f'<pre class="cloudyfiles-hexdump" style="{_PRE_STYLE}">{_escape(dump)}</pre>'
    )
    if note:
        body += _cut_html(note)
    plain = "\n".join(part for part in (description, dump, note) if part)
    return Preview("binary", body, plain, bool(note))
