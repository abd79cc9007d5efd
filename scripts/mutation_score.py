"""Print the mutation score of each domain module after `mutmut run` (`make mutation`).

    python scripts/mutation_score.py [--min 90] [--mutants mutants] [--list]

Reads mutmut's result files (``mutants/**/*.py.meta``: one exit code per mutant). A mutant
is *killed* when the unit tests failed on it (or it timed out); it *survives* when they
passed or when no unit test reached the mutated function at all ("no tests": nothing would
notice that code breaking either). Mutants listed in ``docs/MUTATION.md`` under
"Equivalent mutants" (by their mutmut name, in backticks) change no behaviour; they are
shown apart and left out of the score.

Exit status 1 when a module scores below ``--min``: the target `make mutation` holds every
domain module to 90 % (issue 17).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS_DOC = ROOT / "docs" / "MUTATION.md"
# mutmut's own reading of its exit codes; killed = the tests failed, timed out or crashed
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


@dataclass
class Module:
    name: str
    killed: int = 0
    equivalent: int = 0
    survivors: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)

    @property
    def counted(self) -> int:
        return self.killed + len(self.survivors) + len(self.untested)

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.counted if self.counted else 100.0


def equivalent_names(doc: Path = EQUIVALENTS_DOC) -> set[str]:
    """Mutant names in backticks in the doc's "Equivalent mutants" section."""
    if not doc.exists():
        return set()
    text = doc.read_text(encoding="utf-8")
    _, _, section = text.partition("## Equivalent mutants")
    section = section.split("\n## ", 1)[0]
    return set(re.findall(r"`([\w.]+__mutmut_\d+)`", section))


def module_of(meta: Path, mutants: Path) -> str:
    relative = meta.relative_to(mutants).with_suffix("").with_suffix("")
    return ".".join(relative.parts)


def collect(mutants: Path, equivalents: set[str]) -> list[Module]:
    modules = []
    for meta in sorted(mutants.rglob("*.py.meta")):
        module = Module(module_of(meta, mutants))
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for key, code in sorted(codes.items()):
            status = status_by_exit_code[code]
            if key in equivalents:
                module.equivalent += 1
            elif status in KILLED:
                module.killed += 1
            elif status == "no tests":
                module.untested.append(key)
            else:  # survived, or not checked / suspicious: nothing proved it is caught
                module.survivors.append(key)
        modules.append(module)
    return modules


def report(modules: Iterable[Module], minimum: float, listing: bool) -> bool:
    ok = True
    print(f"{'module':52} {'killed':>7} {'survived':>8} {'no test':>7} {'equiv':>5} "
          f"{'score':>7}")
    total_killed = total_counted = 0
    for m in modules:
        flag = "" if m.score >= minimum else f"  < {minimum:g} %"
        ok = ok and not flag
        print(f"{m.name:52} {m.killed:7} {len(m.survivors):8} {len(m.untested):7} "
              f"{m.equivalent:5} {m.score:6.1f}%{flag}")
        total_killed += m.killed
        total_counted += m.counted
        if listing:
            for name in m.survivors + m.untested:
                print(f"    {name}")
    overall = 100.0 * total_killed / total_counted if total_counted else 100.0
    print(f"{'all':52} {total_killed:7} {'':8} {'':7} {'':5} {overall:6.1f}%")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=90.0, help="lowest score per module")
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    parser.add_argument("--list", action="store_true", help="name every surviving mutant")
    args = parser.parse_args(argv)
    modules = collect(args.mutants, equivalent_names())
    if not modules:
        print(f"no mutmut results under {args.mutants}: run `make mutation`", file=sys.stderr)
        return 2
    return 0 if report(modules, args.min, args.list) else 1


if __name__ == "__main__":
    sys.exit(main())
