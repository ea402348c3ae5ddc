"""Held-out training sequences: the only data any epoch, option or threshold is chosen on.

A dataset's ``train`` list is split in two, by a fixed rule that needs no extra file:

- ``train-holdout``: every ``HOLDOUT_EVERY``-th name of the sorted ``train`` list, starting with the
  first (DAVIS 2016: bear, car-turn, flamingo, lucia, paragliding, stroller);
- ``train-fit``: the rest, what ``reusevos-train`` trains on by default.

Val sequences are for the final report only; choices measured there do not generalise (the shipped
options were once picked on the 5 shared val sequences and scored 12 J&F lower on unseen ones).
"""

from __future__ import annotations

from typing import Sequence

HOLDOUT_EVERY = 5
BASE_SPLIT = "train"
DERIVED_SPLITS = ("train-fit", "train-holdout")


def derived_split(split: str, train_names: Sequence[str]) -> list[str]:
    """The names of derived ``split`` (one of :data:`DERIVED_SPLITS`) from the ``train`` list, sorted."""
    ordered = sorted(train_names)
    held = set(ordered[::HOLDOUT_EVERY])
    keep = (lambda n: n in held) if split == "train-holdout" else (lambda n: n not in held)
    return [name for name in ordered if keep(name)]
