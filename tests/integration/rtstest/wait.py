# SPDX-License-Identifier: Apache-2.0
"""Bounded polling: every wait in the harness goes through here."""
import time


class Timeout(AssertionError):
    pass


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Call predicate until it returns a truthy value (returned) or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:   # noqa: BLE001 - keep polling, report the last one
            last_exc = e
        if time.monotonic() >= deadline:
            raise Timeout(f"timed out after {timeout}s waiting for {what}"
                          + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)
