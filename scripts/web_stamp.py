#!/usr/bin/env python3
"""The map page's build stamp: a digest of web/'s sources, written beside the built page
(src/parley/web/static/build-info.json) by ``make web`` and checked by the tests, so that the
committed bundle is never older than its sources.

    python scripts/web_stamp.py --write    # after a build
    python scripts/web_stamp.py --check    # exit 1 when web/ changed since the last build
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
STAMP = ROOT / "src" / "parley" / "web" / "static" / "build-info.json"
FILES = ("index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts")
FOLDERS = ("src", "scripts")


def sources() -> list[Path]:
    found = [WEB / name for name in FILES]
    for folder in FOLDERS:
        found.extend(p for p in (WEB / folder).rglob("*") if p.is_file())
    return sorted(found, key=lambda p: p.relative_to(WEB).as_posix())


def digest() -> str:
    h = hashlib.sha256()
    for path in sources():
        h.update(path.relative_to(WEB).as_posix().encode() + b"\0")
        h.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return h.hexdigest()


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        STAMP.write_text(json.dumps({"sources_sha256": digest()}, indent=2) + "\n")
        return 0
    if argv == ["--check"]:
        built = json.loads(STAMP.read_text())["sources_sha256"] if STAMP.exists() else None
        if built != digest():
            print(f"{STAMP.relative_to(ROOT)} is older than web/: run `make web` and commit", file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
