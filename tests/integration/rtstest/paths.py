# SPDX-License-Identifier: Apache-2.0
"""Where things are: the source tree, the generated dir, the module under test."""
import hashlib
import os
import stat
import tempfile
from pathlib import Path

SRC_ROOT = Path(__file__).resolve().parents[3]          # repo root
TESTS_DIR = SRC_ROOT / "tests"


def _default_gen_dir() -> Path:
    """tests/gen, unless httpd's children, which drop root for www-data, cannot reach it: a
    checkout below a private directory (`mktemp -d`, a 0700 home) would make every test time out
    on "permission denied". Then one directory per checkout under the system's temp dir."""
    if all(p.stat().st_mode & stat.S_IXOTH for p in [TESTS_DIR, *TESTS_DIR.parents]):
        return TESTS_DIR / "gen"
    tag = hashlib.sha256(str(SRC_ROOT).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"rts-gen-{tag}"


GEN_DIR = Path(os.environ.get("RTS_GEN_DIR") or _default_gen_dir())
OP_DIR = TESTS_DIR / "op"
BACKEND_SCRIPT = TESTS_DIR / "backend" / "echo.py"

MODULE_REL = Path("mod_rtsession") / ".libs" / "mod_rtsession.so"


def module_path() -> Path:
    """The module under test: $RTS_MODULE, else scripts/build.sh's build/ beside the sources,
    else an in-tree build (a developer's own ./configure), else another build dir found walking
    up from the source tree (build-*/, ../build*/). build-san/ is never picked: its module
    needs libasan preloaded (scripts/test.sh sets RTS_MODULE and RTS_HTTPD_PRELOAD for it)."""
    env = os.environ.get("RTS_MODULE")
    if env:
        return Path(env)
    candidates = [SRC_ROOT / "build" / MODULE_REL, SRC_ROOT / MODULE_REL]
    for parent in [SRC_ROOT, *SRC_ROOT.parents]:
        candidates += sorted(p for p in parent.glob("build*/" + str(MODULE_REL))
                             if not p.parts[-4].startswith("build-san"))
        if parent == parent.parent:
            break
    for c in candidates:
        if c.is_file():
            return c
    return SRC_ROOT / "build" / MODULE_REL   # does not exist: httpd's configtest will say so


def ensure_gen_dir() -> Path:
    GEN_DIR.mkdir(parents=True, exist_ok=True)
    return GEN_DIR


def ctl_path() -> Path:
    """rtsessionctl: $RTS_CTL, else the one built beside the module under test
    (mod_rtsession/tools/rtsessionctl of the same build tree), else the installed one when the
    module is the installed one."""
    env = os.environ.get("RTS_CTL")
    if env:
        return Path(env)
    built = module_path().parent.parent / "tools" / "rtsessionctl"
    installed = Path("/usr/sbin/rtsessionctl")
    if not built.is_file() and module_path().parts[:3] == ("/", "usr", "lib") and installed.is_file():
        return installed
    return built
