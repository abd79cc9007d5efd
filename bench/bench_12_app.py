"""The grid worker's app (issue 12): what a phone downloads, raw and gzipped.

Why: the app opens on phones over mobile networks and inside messaging apps' web
containers; the first visit downloads the whole shell (the service worker precaches it),
later visits nothing but the APIs' answers.

How: builds web/app (scripts/build_app.sh, skipped when fresh) and measures every file of
web/app/dist raw and gzipped at level 6 (nginx's and most servers' default), and the
service worker's precache list.

Not measured yet (docs/APP.md): time to interactive over the proxy and queued reports
flushed per second (they need a browser through the proxy; not written yet).
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "web" / "app" / "dist"


def main() -> int:
    subprocess.run([str(ROOT / "scripts" / "build_app.sh")], check=True, cwd=ROOT)
    rows = []
    for path in sorted(p for p in DIST.rglob("*") if p.is_file()):
        data = path.read_bytes()
        rows.append((str(path.relative_to(DIST)), len(data), len(gzip.compress(data, 6))))
    print(f"{'file':<40} {'raw KiB':>9} {'gzip KiB':>9}")
    for name, raw, packed in rows:
        print(f"{name:<40} {raw / 1024:>9.1f} {packed / 1024:>9.1f}")
    total_raw = sum(r for _, r, _ in rows)
    total_gz = sum(g for _, _, g in rows)
    print(f"{'total':<40} {total_raw / 1024:>9.1f} {total_gz / 1024:>9.1f}")
    shell = json.loads(re.search(r"const SHELL = (\[.*?\])",
                                 (DIST / "sw.js").read_text()).group(1))
    print(f"service worker precaches {len(shell)} entries (the page and every built file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
