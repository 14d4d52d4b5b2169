"""The ``%cloudy`` line magic and the ``%%cloudy write`` cell magic.

Each subcommand parses its own arguments with IPython's ``magic_arguments`` and raises
``UsageError`` on bad input. It returns a value that code can use, and the value's repr
is what the notebook shows. Targets are URLs, mapping or RemoteObject variables, or
``VAR/key`` for a key below a mapping variable (see :mod:`cloudyfiles_jupyter._targets`).
"""

from __future__ import annotations

import keyword
import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from cloudyfiles import CloudyError, KeyNotFoundError, ObjectInfo, ObjectMapping, RemoteObject
from cloudyfiles._display import config, format_size, format_time, listing_bundle

from ._targets import Target, resolve
from ._whoami import Identity, describe, describe_url

__all__ = ["CloudyMagics", "Listing", "ObjectStat", "Removal", "TextResult", "Transfer"]

logger = logging.getLogger(__name__)


# Results


class TextResult(str):
    """Text that a notebook shows as is, without the quotes of a ``str`` repr."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@dataclass
class Listing:
    """One page of a ``/``-delimited listing, with names relative to ``url``."""

    url: str
    folders: list[str]
    objects: list[ObjectInfo]
    next_token: str | None
    """Token of the next page, or None on the last page."""

    @property
    def keys(self) -> list[str]:
        """Names of the objects on this page."""
        return [info.key for info in self.objects]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from cloudyfiles import ListPage

        page = ListPage(objects=self.objects, prefixes=self.folders, next_token=self.next_token)
        hint = f"%cloudy ls {self.url} --next"
        return listing_bundle(self.url, page, more_hint=hint)


class ObjectStat(dict[str, Any]):
    """Metadata of one object, as a dict that displays as a table."""

    def _rows(self) -> list[tuple[str, str]]:
        rows = []
        for name, value in self.items():
            if name == "size":
                value = f"{value:,} bytes ({format_size(value)})"
            elif name == "last_modified":
                value = format_time(value)
            elif name == "metadata":
                value = ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "(none)"
            rows.append((name, str(value)))
        return rows

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("\n".join(f"{name}: {value}" for name, value in self._rows()))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        import html

        rows = self._rows()
        cells = "".join(
            f"<tr><th style='text-align:left;padding:1px 8px'>{html.escape(name)}</th>"
            f"<td style='text-align:left;padding:1px 8px'>{html.escape(value)}</td></tr>"
            for name, value in rows
        )
        text = "\n".join(f"{name}: {value}" for name, value in rows)
        return {"text/html": f"<table class='cloudyfiles-stat'>{cells}</table>", "text/plain": text}


@dataclass
class Transfer:
    """Objects written by ``cp`` or ``write``."""

    source: str
    destination: str
    objects: list[RemoteObject] = field(default_factory=list)
    server_side: bool = False
    """Whether the copy ran on the server, without the bytes passing through this process."""

    @property
    def object(self) -> RemoteObject:
        """The written object; for a recursive copy, the first one."""
        return self.objects[0]

    @property
    def size(self) -> int:
        """Bytes written, summed over the objects."""
        return sum(obj.size for obj in self.objects)

    def __repr__(self) -> str:
        how = "on the server" if self.server_side else "through this process"
        count = len(self.objects)
        what = f"{count} objects" if count != 1 else "1 object"
        size = format_size(self.size)
        return f"wrote {what} ({size}) from {self.source} to {self.destination}, {how}"


@dataclass
class Removal:
    """Keys deleted by ``rm``."""

    url: str
    deleted: int

    def __repr__(self) -> str:
        return f"deleted {self.deleted} objects from {self.url}"


# The magics


def _subcommand(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a method as a ``%cloudy`` subcommand and give it ``magic_arguments``."""

    def mark(method: Callable[..., Any]) -> Callable[..., Any]:
        name = method.__name__.removeprefix("_cmd_")
        method = magic_arguments(name=f"cloudy {name}")(method)
        method.parser.description = help_text  # type: ignore[attr-defined]
        method.subcommand_help = help_text  # type: ignore[attr-defined]
        return method

    return mark


@magics_class
class CloudyMagics(Magics):
    """Magics for listing, reading, copying and removing objects: ``%cloudy VERB ...``."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self._next_tokens: dict[str, str] = {}

    @line_cell_magic
    def cloudy(self, line: str, cell: str | None = None) -> Any:
        """Run a cloudyfiles command; ``%cloudy help`` lists them.

        %cloudy ls URL [--page-size N] [--next | --token TOKEN]
        %cloudy head URL [-n LINES | -c BYTES]
        %cloudy stat URL
        %cloudy cp SRC DST [--recursive]
        %cloudy rm URL [--recursive --yes]
        %cloudy open URL [as] VAR
        %cloudy whoami URL
        %cloudy browse URL
        %cloudy config [NAME=VALUE ...]
        %%cloudy write URL [--content-type TYPE]
        """
        name, _, rest = line.strip().partition(" ")
        if name in ("", "help", "-h", "--help"):
            return self._help(rest.strip())
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            raise UsageError(
                f"unknown %cloudy command {name!r}: use one of {', '.join(self._names())}"
            )
        if cell is not None and name != "write":
            raise UsageError(f"%%cloudy {name} takes no cell: use %cloudy {name} on one line")
        if cell is None and name == "write":
            raise UsageError("write needs a cell: start the cell with %%cloudy write URL")
        args = self._parse(handler, rest)
        try:
            return handler(args, cell) if name == "write" else handler(args)
        except KeyNotFoundError as error:
            raise UsageError(f"{error}; check the key with %cloudy ls") from error
        except (CloudyError, ValueError, TypeError) as error:
            raise UsageError(str(error)) from error

    def _names(self) -> list[str]:
        return sorted(name.removeprefix("_cmd_") for name in dir(self) if name.startswith("_cmd_"))

    def _help(self, name: str) -> TextResult:
        if name:
            handler = getattr(self, f"_cmd_{name}", None)
            if handler is None:
                raise UsageError(
                    f"unknown %cloudy command {name!r}: use one of {', '.join(self._names())}"
                )
            return TextResult(handler.parser.format_help())
        lines = ["%cloudy commands (%cloudy help COMMAND shows the options):"]
        for command in self._names():
            handler = getattr(self, f"_cmd_{command}")
            lines.append(f"  {command:<7} {handler.subcommand_help}")
        return TextResult("\n".join(lines))

    def _parse(self, handler: Any, rest: str) -> Any:
        try:
            argv = shlex.split(rest)
        except ValueError as error:
            raise UsageError(
                f"cannot split {rest!r} into arguments: {error}; check the quotes"
            ) from None
        if "-h" in argv or "--help" in argv:
            raise UsageError(handler.parser.format_help())
        try:
            return handler.parser.parse_args(argv)
        except UsageError as error:
            raise UsageError(f"{error}\n{handler.parser.format_usage()}") from None

    def _resolve(self, text: str) -> Target:
        namespace = self.shell.user_ns if self.shell is not None else {}
        return resolve(text, namespace)

    # Reading

    @_subcommand("list one page of a bucket or folder: folders first, then objects")
    @argument("url", help="bucket or folder, such as s3://bucket/prefix/, or a mapping variable")
    @argument(
        "--page-size", type=int, default=None, help="entries per page (default: config.page_size)"
    )
    @argument(
        "--next", action="store_true", help="continue after the previous page of the same URL"
    )
    @argument("--token", default=None, help="continue after the page that returned this token")
    def _cmd_ls(self, args: Any) -> Listing:
        if args.next and args.token:
            raise UsageError("pass either --next or --token, not both")
        page_size = config.page_size if args.page_size is None else args.page_size
        if page_size < 1:
            raise UsageError(f"invalid --page-size {page_size}: pass 1 or more")
        target = self._resolve(args.url)
        folder = target.folder() if target.key else target.mapping
        if target.key and not target.key.endswith("/"):
            folder = Target(target.mapping, target.key + "/", target.text).folder()
        token = args.token
        if args.next:
            token = self._next_tokens.get(folder.url)
            if token is None:
                raise UsageError(
                    f"no earlier page of {folder.url} to continue: run %cloudy ls {args.url} first"
                )
        page = folder.list_page("", delimiter="/", token=token, page_size=page_size)
        if page.next_token is None:
            self._next_tokens.pop(folder.url, None)
        else:
            self._next_tokens[folder.url] = page.next_token
        return Listing(folder.url, page.prefixes, page.objects, page.next_token)

    @_subcommand("show the first lines (or bytes) of an object, with one range request")
    @argument("url", help="object, such as s3://bucket/key")
    @argument("-n", "--lines", type=int, default=None, help="lines to show (default 10)")
    @argument("-c", "--bytes", type=int, default=None, help="return the first BYTES bytes as bytes")
    def _cmd_head(self, args: Any) -> TextResult | bytes:
        if args.lines is not None and args.bytes is not None:
            raise UsageError("pass either -n LINES or -c BYTES, not both")
        for option, value in (("-n", args.lines), ("-c", args.bytes)):
            if value is not None and value < 0:
                raise UsageError(f"invalid {option} {value}: pass 0 or more")
        obj = self._object(args.url)
        if args.bytes is not None:
            return obj[0 : args.bytes]
        count = 10 if args.lines is None else args.lines
        head = obj[0 : min(obj.size, config.preview_bytes)]
        text = head.decode("utf-8", errors="replace")
        lines = text.splitlines(keepends=True)
        if len(head) < obj.size and len(lines) <= count:
            # The range may end inside the last line; drop that partial line.
            lines = lines[:-1] or lines
        return TextResult("".join(lines[:count]))

    @_subcommand("show an object's metadata: size, ETag, modified time, content type")
    @argument("url", help="object, such as s3://bucket/key")
    def _cmd_stat(self, args: Any) -> ObjectStat:
        obj = self._object(args.url)
        info = obj.info
        return ObjectStat(
            url=obj.url,
            key=info.key,
            size=info.size,
            etag=info.etag,
            last_modified=info.last_modified,
            content_type=info.content_type,
            metadata=dict(info.metadata or {}),
        )

    def _object(self, text: str) -> RemoteObject:
        target = self._resolve(text)
        if target.is_folder:
            raise UsageError(
                f"{target.url} is a folder, not an object: list it with %cloudy ls {text}"
            )
        return target.object()

    # Writing

    @_subcommand("copy an object (or a folder with --recursive); on the server when possible")
    @argument("source", help="object or, with --recursive, folder to copy")
    @argument("destination", help="destination key, or a folder ending in '/'")
    @argument("-r", "--recursive", action="store_true", help="copy every object under SOURCE")
    def _cmd_cp(self, args: Any) -> Transfer:
        source = self._resolve(args.source)
        destination = self._resolve(args.destination)
        if args.recursive:
            return self._copy_folder(source, destination)
        if source.is_folder:
            raise UsageError(
                f"{source.url} is a folder: pass --recursive to copy every object under it"
            )
        obj = source.object()
        key = destination.key
        if destination.is_folder:
            key += source.key.rpartition("/")[2]
        server_side = destination.mapping.store.can_copy_from(obj.store)
        written = destination.mapping.put(key, obj)
        logger.info("copied %s to %s", obj.url, written.url)
        return Transfer(source.url, written.url, [written], server_side)

    def _copy_folder(self, source: Target, destination: Target) -> Transfer:
        if not destination.is_folder:
            raise UsageError(
                f"{destination.url} is not a folder: end the destination with '/' for --recursive"
            )
        origin = source.folder() if source.key else source.mapping
        if source.key and not source.key.endswith("/"):
            origin = Target(source.mapping, source.key + "/", source.text).folder()
        target = destination.folder()
        written = [target.put(key, value) for key, value in origin.items()]
        server_side = target.store.can_copy_from(origin.store)
        logger.info("copied %d objects from %s to %s", len(written), origin.url, target.url)
        return Transfer(origin.url, target.url, written, server_side)

    @_subcommand("delete an object, or every object under a folder with --recursive --yes")
    @argument("url", help="object, or folder with --recursive")
    @argument("-r", "--recursive", action="store_true", help="delete every object under URL")
    @argument("--yes", action="store_true", help="confirm a recursive delete")
    def _cmd_rm(self, args: Any) -> Removal:
        target = self._resolve(args.url)
        if not target.is_folder and not args.recursive:
            del target.mapping[target.key]
            logger.info("deleted %s", target.url)
            return Removal(target.url, 1)
        if not args.recursive:
            raise UsageError(
                f"{target.url} is a whole bucket or folder: pass --recursive --yes to delete "
                "every object under it"
            )
        if not args.yes:
            raise UsageError(
                f"refusing to delete every object under {target.url} without confirmation: "
                "add --yes"
            )
        folder = target.folder()
        if target.key and not target.key.endswith("/"):
            folder = Target(target.mapping, target.key + "/", target.text).folder()
        return Removal(folder.url, _delete_all(folder))

    @_subcommand("write the cell's text to an object (cell magic: %%cloudy write URL)")
    @argument("url", help="destination object, such as s3://bucket/notes.txt")
    @argument(
        "--content-type", default=None, help="MIME type to store (default: from the extension)"
    )
    def _cmd_write(self, args: Any, cell: str) -> Transfer:
        target = self._resolve(args.url)
        if target.is_folder:
            raise UsageError(
                f"{target.url} is a folder: name the object, such as {args.url}notes.txt"
            )
        written = target.mapping.put(target.key, cell, content_type=args.content_type)
        return Transfer("cell", written.url, [written])

    # Variables and tools

    @_subcommand("store a mapping (for a folder) or a RemoteObject in a variable")
    @argument("url", help="bucket, folder or object")
    @argument("words", nargs="+", metavar="[as] VAR", help="variable name, optionally after 'as'")
    def _cmd_open(self, args: Any) -> ObjectMapping | RemoteObject:
        words = args.words[1:] if args.words[0] == "as" and len(args.words) == 2 else args.words
        if len(words) != 1:
            raise UsageError(
                f"expected one variable name after the URL, got {' '.join(args.words)!r}"
            )
        name = words[0]
        if not name.isidentifier() or keyword.iskeyword(name):
            raise UsageError(
                f"invalid variable name {name!r}: use a Python identifier such as data"
            )
        value = self._open_value(self._resolve(args.url))
        self.shell.user_ns[name] = value
        return value

    def _open_value(self, target: Target) -> ObjectMapping | RemoteObject:
        if target.is_folder:
            return target.folder()
        try:
            return target.object()
        except KeyNotFoundError:
            folder = Target(target.mapping, target.key + "/", target.text).folder()
            page = folder.list_page("", page_size=1)
            if page.objects or page.prefixes:
                return folder
            raise

    @_subcommand("show which credentials and endpoint a URL uses, without secrets")
    @argument("url", help="bucket or object URL, or a mapping variable")
    def _cmd_whoami(self, args: Any) -> Identity:
        from cloudyfiles import MissingDependencyError

        try:
            target = self._resolve(args.url)
        except (MissingDependencyError, ImportError) as error:
            scheme = args.url.partition("://")[0].lower()
            identity = describe_url(args.url, scheme)
            identity.details["backend"] = f"not available: {error}"
            return identity
        return describe(target.mapping.store, target.url)

    @_subcommand("open the interactive bucket browser (ipywidgets)")
    @argument("url", help="bucket or folder, or a mapping variable")
    def _cmd_browse(self, args: Any) -> Any:
        from ._widget import BucketBrowser

        target = self._resolve(args.url)
        folder = target.folder() if target.is_folder else target.mapping
        name = args.url if args.url.isidentifier() else None
        return BucketBrowser(folder, name=name)

    @_subcommand("show or change preview settings, such as preview_bytes=131072")
    @argument("settings", nargs="*", metavar="NAME=VALUE", help="settings to change")
    def _cmd_config(self, args: Any) -> Any:
        values = {}
        for setting in args.settings:
            name, separator, value = setting.partition("=")
            if not separator:
                raise UsageError(
                    f"invalid setting {setting!r}: write NAME=VALUE, such as preview_bytes=131072"
                )
            values[name.strip()] = value.strip()
        return config.update(**values)


def _delete_all(folder: ObjectMapping) -> int:
    """Delete every object under ``folder`` with batched deletes; return how many."""
    store = folder.store
    batch: list[str] = []
    deleted = 0
    for info in store.iter_objects(folder.prefix):
        batch.append(info.key)
        if len(batch) >= store.delete_batch:
            store.delete_many(batch)
            deleted += len(batch)
            batch = []
    if batch:
        store.delete_many(batch)
        deleted += len(batch)
    logger.info("deleted %d objects under %s", deleted, folder.url)
    return deleted
