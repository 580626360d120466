"""The function's log format: structlog, JSON lines (or console lines with --debug).

Like the SDK's (crossplane.function.logging), with one difference that matters: an
exception is logged as its type and where it was raised (file, line, function), never
with its message or the frames' local variables. Both may hold secret values (a
password in a KeyError, a credential in a frame), and a log is read by more people
than a Secret is.
"""

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, TextIO


@contextlib.contextmanager
def _absent(module: str) -> Iterator[None]:
    """Within the block, importing module fails as if it were not installed (a None entry in
    sys.modules), unless it is imported already."""
    if module in sys.modules:
        yield
        return
    sys.modules[module] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get(module, ...) is None:
            del sys.modules[module]


# structlog imports rich when it is installed, for the console renderer's exception
# formatter (structlog 26.1.0 dev.py, tracebacks.py): a twentieth of a second of start-up.
# These logs never format an exception (_exception_without_values takes it out first), and
# the image does not install rich (import-linter brings it into the development
# environment only): structlog is imported as the image has it.
with _absent("rich"):
    import structlog

_ROOT = Path(__file__).resolve().parent.parent
FRAMES_MAX = 8


def _frame(f: traceback.FrameSummary) -> str:
    path = Path(f.filename)
    shown = path.relative_to(_ROOT) if path.is_relative_to(_ROOT) else path.name
    return f"{shown}:{f.lineno} in {f.name}"


def describe_exception(e: BaseException) -> dict[str, Any]:
    """Fields of a log line about e: its type and its innermost frames, nothing it carries."""
    frames = traceback.extract_tb(e.__traceback__)[-FRAMES_MAX:]
    return {"error": type(e).__qualname__, "where": [_frame(f) for f in frames]}


def _exception_without_values(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Replace exc_info (log.exception, exc_info=True) with describe_exception's fields."""
    exc_info = event.pop("exc_info", None)
    event.pop("exception", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, tuple):
        exc_info = exc_info[1]
    if isinstance(exc_info, BaseException):
        event.update(describe_exception(exc_info))
    return event


def configure(*, debug: bool = False, output: TextIO | None = None) -> None:
    """Log JSON lines at INFO (or readable lines at DEBUG) to output (stdout), exceptions
    without values."""
    processors: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.processors.CallsiteParameterAdder(
            {
                structlog.processors.CallsiteParameter.FILENAME,
                structlog.processors.CallsiteParameter.LINENO,
            }
        ),
        _exception_without_values,
    ]
    if debug:
        renderer: list[Any] = [
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(),
        ]
    else:
        # As the SDK's production format (function-sdk-go's): ts, level, msg.
        renderer = [
            structlog.processors.TimeStamper(key="ts"),
            structlog.processors.EventRenamer(to="msg"),
            structlog.processors.JSONRenderer(),
        ]
    structlog.configure(
        processors=processors + renderer,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.DEBUG if debug else logging.INFO
        ),
        logger_factory=structlog.PrintLoggerFactory(file=output),
    )


class Logger(Protocol):
    """What the function logs through: structlog's bound logger (configure)."""

    def debug(self, event: str, **fields: Any) -> Any: ...

    def info(self, event: str, **fields: Any) -> Any: ...

    def error(self, event: str, **fields: Any) -> Any: ...
