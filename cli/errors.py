"""User errors to text, in one place: a bilingual message on stderr and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import typer

from geo.errors import AtlasError

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `message` on stderr and leave with `code` (2: the input was wrong)."""
    typer.echo(message, err=True)
    raise typer.Exit(code) from None


def bilingual_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command body; an `AtlasError` becomes its Chinese and English message and exit 2.

    `functools.wraps` keeps the signature, which typer reads for the command's options.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except AtlasError as error:
            fail(f"{error.message_zh}\n{error.message_en}")

    run.maps_atlas_errors = True  # type: ignore[attr-defined]  # tests check every command
    return run
