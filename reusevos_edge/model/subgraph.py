"""The subgraph contract: every on-device program is one of these.

A subgraph is a stateless, fixed-shape, tensors-in/tensors-out ``nn.Module`` with a name and
named inputs and outputs. Converters, runtimes, the tracker and the demo apps all consume the
list built by :func:`reusevos_edge.model.subgraphs.build_subgraphs`; nothing else is exported.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class TensorSpec:
    """Name, fixed shape and dtype of one program input or output (layouts are NCHW)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class Subgraph:
    """One exportable program.

    ``module(*inputs)`` takes tensors in the order of ``inputs`` and returns a tuple of tensors
    in the order of ``outputs``. ``module`` is None for a subgraph read from a bundle's manifest:
    it executes in the bundle's runtime, not in PyTorch. ``repeat``: how many calls in a row the host
    makes each time it runs the subgraph, each call taking the previous call's outputs (an iterative
    solver's step as one small program instead of an unrolled loop); 1 for a plain program.
    """

    name: str
    module: nn.Module | None
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    doc: str = ""
    repeat: int = 1

    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [s.name for s in self.outputs]

    def example_inputs(self, *, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random inputs of the right shapes: float32 uniform in [0, 1) (valid images, masks and weights),
        uint8 uniform over 0..255 (pixel codes)."""
        gen = torch.Generator().manual_seed(seed)
        return tuple(torch.randint(0, 256, s.shape, generator=gen, dtype=torch.uint8).view(getattr(torch, s.dtype)) if s.dtype in ("uint8", "int8")
                     else torch.rand(s.shape, generator=gen) for s in self.inputs)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "doc": self.doc,
            "repeat": self.repeat,
            "inputs": [s.to_json() for s in self.inputs],
            "outputs": [s.to_json() for s in self.outputs],
        }
