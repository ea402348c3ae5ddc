"""Per-subgraph precision: the one table of which programs run int8 in an int8 bundle.

The backbone, template, matcher/gate/delta, translator and refinement run int8. The online score
generator (``score_init``, ``score_refit``, ``score_gen``, ``score_update``) stays float32: its Gauss-Newton /
conjugate-gradient fit divides by small residual norms, and its weights are runtime inputs (the
per-object filter) that a static int8 scale cannot cover.
"""

from __future__ import annotations

INT8_SUBGRAPHS = ("backbone_low", "backbone_high", "template_build", "match_gate", "refine_deep",
                  "refine_translate", "refine_shallow")
FLOAT_SUBGRAPHS = ("score_init", "score_refit", "score_gen", "score_update")


def subgraph_precision(name: str, bundle_precision: str) -> str:
    """The precision subgraph ``name`` runs at in a bundle of ``bundle_precision`` ("int8" -> mixed)."""
    if bundle_precision == "int8":
        return "int8" if name in INT8_SUBGRAPHS else "fp32"
    return bundle_precision


def precision_table(names, bundle_precision: str) -> dict[str, str]:
    """{subgraph: precision} for the manifest."""
    return {name: subgraph_precision(name, bundle_precision) for name in names}
