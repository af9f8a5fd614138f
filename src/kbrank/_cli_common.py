"""What every ``kbrank`` command shares: the consoles, the exit codes, one-line errors, and printing data safely.

Commands live in `kbrank.cli` (search, index, eval, privacy), `kbrank.cli_notify` and `kbrank.cli_chat`; all of
them run their bodies through `_run` and print data through `plain` (or rich `Text`), never as markup.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Callable

import typer
from rich.console import Console
from rich.text import Text

from .errors import (
    IndexFormatError,
    InputError,
    KBRankError,
    MissingDependencyError,
    OutboxError,
    OutputError,
    ParameterError,
    ProfileStoreError,
    UnknownArticleError,
    UnknownCustomerError,
)

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["EXIT_CODES", "console", "errors", "plain"]

console = Console()
errors = Console(stderr=True)

EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (MissingDependencyError, 4),
    (OutputError, 5),
    (IndexFormatError, 3),
    (ProfileStoreError, 3),
    (OutboxError, 3),
    (InputError, 2),
    (ParameterError, 2),
    (UnknownArticleError, 2),
    (UnknownCustomerError, 2),
    (KBRankError, 1),
]


_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: object) -> str:
    """Text from data, safe for a terminal: ANSI escape sequences and other control characters removed, and
    anything UTF-8 cannot encode (a lone surrogate) shown as its escape."""
    return _CONTROL.sub("", str(text)).encode("utf-8", "backslashreplace").decode("utf-8")


def _error_line(message: object) -> Text:
    return Text.assemble(("error:", "bold red"), " ", plain(message).replace("\n", " "))


def _run(action: Callable[[], Any]) -> Any:
    """Run a command body, turning kbrank errors into one line and a meaningful exit code."""
    try:
        return action()
    except KBRankError as exc:
        if os.environ.get("KBRANK_DEBUG") == "1":
            raise
        code = next(code for kind, code in EXIT_CODES if isinstance(exc, kind))
        errors.print(_error_line(exc), highlight=False, soft_wrap=True)
        raise typer.Exit(code) from None


def _utf8(value: str, name: str) -> str:
    """A command-line argument as text; bytes that are not UTF-8 (kept by Python as surrogates) are refused."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("the argument is not valid UTF-8 text", field=name,
                         fix="pass the text in UTF-8 (check the terminal's or the script's encoding)") from None
    return value



def _progress_bar() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=errors)


