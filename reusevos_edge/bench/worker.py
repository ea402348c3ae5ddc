"""``python -m reusevos_edge.bench.worker PLAN.json OUT.json``: measure one plan in this fresh process.

The host device starts one worker per bundle so that each row's peak RSS and CPU time are its own
(a bundle loaded earlier in the same process would count in every later row).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import InputError, MissingExtraError
from ..fileio import write_json
from .protocol import BenchPlan, measure


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m reusevos_edge.bench.worker PLAN.json OUT.json", file=sys.stderr)
        return 2
    plan = BenchPlan.from_json(json.loads(Path(argv[0]).read_text()))
    try:
        write_json(Path(argv[1]), measure(plan))
    except (InputError, MissingExtraError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
