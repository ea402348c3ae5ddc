"""What a target exporter hands back to the bundle writer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ExportResult:
    """Files written by one exporter, plus facts that go into the manifest.

    ``io_names[subgraph] = {"inputs": {contract: program}, "outputs": {contract: program}}`` when
    the program names differ from the contract; ``undelegated_ops[subgraph]`` lists operators left
    outside the accelerator delegate; ``op_inventory[subgraph]`` the operator types in the program;
    ``input_dtypes[subgraph][input]`` the dtype a program input takes where it is not the contract's float32
    (an int8 bundle's image as int8 codes, :mod:`reusevos_edge.quant.image_codes`).
    """

    artifact: str
    files: list[str] = field(default_factory=list)
    io_names: dict[str, dict] = field(default_factory=dict)
    undelegated_ops: dict[str, list[str]] = field(default_factory=dict)
    op_inventory: dict[str, list[str]] = field(default_factory=dict)
    input_dtypes: dict[str, dict[str, str]] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "artifact": self.artifact,
            "undelegated_ops": self.undelegated_ops,
            "op_inventory": self.op_inventory,
            **self.extra,
        }
