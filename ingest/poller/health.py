"""A feed's health: ok, degraded, failing or gone, with the reason, from its latest poll.

- ok: the last poll succeeded and the body was clean;
- degraded: the last poll succeeded with a problem (XML errors it could read
  past, entries without links, old items re-published under new GUIDs, a
  server caught sending stale validators), or failed fewer than
  `failing_after` times in a row;
- failing: `failing_after` or more failures in a row (backing off);
- gone: 410 Gone, or `gone_after_404s` 404s in a row. A gone feed is parked:
  probed every `park_interval` instead of dropped, and revived by a success.
"""

from __future__ import annotations

from typing import Literal

Health = Literal["ok", "degraded", "failing", "gone"]
HEALTH_STATES: tuple[Health, ...] = ("ok", "degraded", "failing", "gone")


def after_success(problem: str | None) -> tuple[Health, str | None]:
    return ("degraded", problem) if problem else ("ok", None)


def after_failure(
    status: int | None, reason: str, *, errors: int, not_found: int, failing_after: int,
    gone_after_404s: int,
) -> tuple[Health, str]:
    """Health after a failed poll; `errors` and `not_found` include this one."""
    if status == 410:
        return "gone", f"gone (HTTP 410): {reason}"
    if status == 404 and not_found >= gone_after_404s:
        return "gone", f"HTTP 404 {not_found} times in a row: {reason}"
    if errors >= failing_after:
        return "failing", f"{errors} failures in a row: {reason}"
    return "degraded", reason
