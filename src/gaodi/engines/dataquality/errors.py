"""Errors for bad input and bad configuration.

Every error the engine raises on purpose is a `DataQualityError`: one line that names the file, the
line or column where it applies, what is wrong and how to fix it. Callers (the CLI, the service)
print `str(error)`; they never need a stack trace. Nothing is written by the engine, so an error
loses nothing that was already saved.
"""

from __future__ import annotations


class DataQualityError(Exception):
    """Bad input or configuration, with a one-line message naming what, where and the fix."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        parts: list[str] = []
        if self.path:
            parts.append(f"{self.path}:")
        if self.line is not None:
            parts.append(f"line {self.line}:")
        if self.column is not None:
            parts.append(f"column {self.column!r}:")
        parts.append(self.message)
        text = " ".join(parts)
        if self.hint:
            text += f" ({self.hint})"
        return text.replace("\n", " ")


class UnsupportedFormatError(DataQualityError):
    """The file is not one of the supported formats, or not what its extension says."""


class EncodingError(DataQualityError):
    """Bytes that are not valid in the file's encoding, or a file mixing encodings."""


class BadRowError(DataQualityError):
    """A row that does not parse: a ragged CSV row (wrong field count) or an invalid JSON line."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        expected: int | None = None,
        actual: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, path=path, line=line, hint=hint)
        self.expected = expected
        self.actual = actual


class FileTooLargeError(DataQualityError):
    """A file over a configured size limit (Excel workbooks are read whole, so they have one)."""


class ZipBombError(DataQualityError):
    """A compressed container (.xlsx) whose contents would expand beyond the allowed size or ratio."""


class RuleError(DataQualityError):
    """A rules file or rule expression that cannot be parsed or evaluated."""
