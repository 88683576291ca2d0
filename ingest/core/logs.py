"""structlog, configured once per process: JSON lines when not on a terminal.

Context (topic, partition, offset, article id) is bound per message with
`structlog.contextvars`; kafka-python's and aiohttp's stdlib logs go through
the same renderer so an operator reads one format.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the `sys.stderr` of the moment of each record, not of configuration:
    a CLI command run in-process (tests, embedding programs) may swap it and close
    the one it swapped in."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    *,
    process: str | None = None,
) -> None:
    """Set up structlog and the stdlib root logger to write to stderr."""
    numeric = _LEVELS.get(level, logging.ERROR)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if process:
        shared.append(_add_process(process))
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # kafka-python is chatty at INFO (every connection, every rebalance step), its
    # event loop warns about its own slow tasks, and closing a client logs the
    # cancelled metadata refresh as an error: none of it is actionable.
    logging.getLogger("kafka").setLevel(max(numeric, logging.WARNING))
    logging.getLogger("kafka.net").setLevel(max(numeric, logging.ERROR))
    handler.addFilter(_drop_cancelled_refresh)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # The extractors warn about every page without main text; the cleaner says why itself.
    for noisy in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.ERROR))


def _drop_cancelled_refresh(record: logging.LogRecord) -> bool:
    return not (
        record.name.startswith("kafka")
        and record.msg == "Metadata refresh: failed %s"
        and any(type(arg).__name__ == "Cancelled" for arg in record.args or ())
    )


def _add_process(name: str) -> structlog.types.Processor:
    def add(
        _: object, __: str, event_dict: structlog.types.EventDict
    ) -> structlog.types.EventDict:
        event_dict.setdefault("process", name)
        return event_dict

    return add
