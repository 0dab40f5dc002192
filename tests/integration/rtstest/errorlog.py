# SPDX-License-Identifier: Apache-2.0
"""Reading httpd's error log per test, and checking it for unexpected trouble."""
import re
from pathlib import Path

# [Tue Nov 25 20:34:35.123456 2026] [rtsession:error] [pid 1:tid 2] [client ...] RTS10012: ...
LEVEL_RE = re.compile(r"^\[[^\]]*\] \[(?:[\w.-]+:)?(?P<level>emerg|alert|crit|error|warn|notice|info|debug|trace\d)\]")
TAG_RE = re.compile(r"\b(?P<tag>(?:RTS|AH)\d{5}):")
TAG_ONLY_RE = re.compile(r"(?:RTS|AH)\d{5}")
BAD_LEVELS = {"emerg", "alert", "crit", "error"}
# A child that died on a signal: httpd logs it at notice (server/mpm_common.c,
# ap_process_child_status), for every signal except the four its own stop, restart and
# graceful send (SIGTERM, SIGHUP, SIGUSR1, SIGKILL), which it does not log. So any such line
# is a crash (SIGSEGV, SIGABRT, SIGBUS, ...), whatever its level.
CRASH_RE = re.compile(r"\b(?:AH00051|AH00052): child pid \d+ exit signal")
# What ASan/UBSan/LSan write to httpd's stderr (= the error log) in the sanitizer run.
SANITIZER_RE = re.compile(r"==\d+==ERROR: (?:Address|Leak)Sanitizer|runtime error: |"
                          r"SUMMARY: (?:Address|UndefinedBehavior|Leak)Sanitizer")


class ErrorLog:
    def __init__(self, path: Path):
        self.path = path
        self._mark = 0
        self.start = self._size()      # crash lines after this are checked at the end too
        self.accepted_crashes: set[str] = set()   # crash lines a test caused on purpose

    def _size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def mark(self):
        """Remember the end of the log; lines() returns what was written after."""
        self._mark = self._size()

    def lines(self, since: int | None = None) -> list[str]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self._mark if since is None else since)
            return f.read().decode("utf-8", "replace").splitlines()

    def bad_lines(self, expected_tags=(), levels=BAD_LEVELS) -> list[str]:
        """Lines at the given levels and child crashes at any level, except those carrying
        one of expected_tags."""
        out = []
        for line in self.lines():
            m = LEVEL_RE.match(line)
            if not CRASH_RE.search(line) and (not m or m.group("level") not in levels):
                continue
            tags = set(TAG_RE.findall(line))
            if tags & set(expected_tags):
                continue
            out.append(line)
        return out

    def assert_clean(self, expected_tags=(), levels=BAD_LEVELS):
        bad = self.bad_lines(expected_tags, levels)
        assert not bad, f"unexpected lines in {self.path}:\n" + "\n".join(bad[:20])

    def unaccepted_crashes(self) -> list[str]:
        """Child crashes since this object was made (the test session), in or between tests,
        at a graceful restart or at the final stop, that no test declared."""
        return [line for line in self.lines(self.start)
                if CRASH_RE.search(line) and line not in self.accepted_crashes]

    def assert_no_sanitizer_reports(self):
        found = [line for line in self.lines() if SANITIZER_RE.search(line)]
        assert not found, f"sanitizer report in {self.path}:\n" + "\n".join(found[:10])

    def assert_status_texts_known(self):
        """The module's own status codes are logged as text, never as an unknown APR code."""
        found = [line for line in self.lines() if "APR does not understand this error code" in line]
        assert not found, f"unknown status code logged in {self.path}:\n" + "\n".join(found[:5])

    def assert_has_tag(self, tag: str):
        assert any(f"{tag}:" in line for line in self.lines()), f"{tag} not logged in {self.path}"

    def assert_no_secrets(self, secrets):
        """None of the given values (tokens, secrets, cookie values) appears in the log."""
        text = "\n".join(self.lines())
        for i, s in enumerate(x for x in secrets if x and len(x) >= 8):
            assert s not in text, f"secret value #{i} (len {len(s)}) leaked into {self.path}"
