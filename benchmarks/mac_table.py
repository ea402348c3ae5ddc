"""MACs per subgraph and per frame kind (computed vs reuse) for every registered variant.

    python benchmarks/mac_table.py [--size 288x512] [--out-dir benchmarks/results]

Writes ``macs.json`` and ``macs.md``: the paper's "computation saved" at a given reuse rate is
``reuse_rate * (1 - reuse / computed)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reusevos_edge.fileio import write_json, write_text
from reusevos_edge.model.macs import frame_cost
from reusevos_edge.model.registry import CONFIGS, DEFAULT_SIZE, build_model, parse_size
from reusevos_edge.model.subgraphs import build_subgraphs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="x".join(map(str, DEFAULT_SIZE)))
    p.add_argument("--models", default=",".join(CONFIGS))
    p.add_argument("--out-dir", default=str(Path(__file__).parent / "results"))
    args = p.parse_args(argv)
    h, w = parse_size(args.size)
    report, lines = {"size": [h, w], "models": {}}, [f"# MACs per frame at {h}x{w}\n"]
    for name in args.models.split(","):
        model = build_model(name, use_default_checkpoint=False)
        cost = frame_cost(build_subgraphs(model, height=h, width=w), update_every=model.config.fit.update_every)
        report["models"][name] = {"per_subgraph": cost.per_subgraph, "computed": cost.computed, "reuse": cost.reuse,
                                  "reuse_fraction": cost.reuse_fraction}
        lines += [f"## {name}\n", cost.table(), ""]
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "macs.json", report)
    write_text(out / "macs.md", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
