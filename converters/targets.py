"""The one table of export targets, and up-front validation of export options.

Every option is checked here before any work starts; an unsupported combination raises
:class:`reusevos_edge.errors.InputError` naming the option and what is allowed. Nothing is
silently rewritten.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from pathlib import Path

from reusevos_edge.errors import InputError


class Precision(str, enum.Enum):
    """Numeric precision of the exported programs (int8 comes later: add it here)."""

    FP32 = "fp32"
    FP16 = "fp16"


@dataclass(frozen=True)
class Target:
    """One export format.

    ``suffix`` is the artifact's file suffix; ``extra`` the pip extra that installs its tools;
    ``runnable_here`` whether its programs can execute on this machine (Core ML: Apple only).
    """

    name: str
    suffix: str
    precisions: tuple[Precision, ...]
    runnable_here: bool
    extra: str
    description: str


_ON_APPLE = sys.platform == "darwin"

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("executorch", ".pte", (Precision.FP32,), True, "executorch",
               "ExecuTorch .pte, one method per subgraph, XNNPACK-delegated"),
        Target("tflite", ".tflite", (Precision.FP32,), True, "tflite",
               "LiteRT .tflite, one signature per subgraph"),
        Target("coreml", ".mlpackage", (Precision.FP32, Precision.FP16), _ON_APPLE, "coreml",
               "Core ML mlprogram, one multifunction .mlpackage (iOS 18) or one per subgraph (iOS 17)"),
        Target("onnx", ".onnx", (Precision.FP32,), True, "onnx",
               "ONNX (opset 20, onnxslim-simplified), one file per subgraph"),
    )
}

COREML_LAYOUTS = ("multifunction", "per_subgraph")
MODEL_VARIANTS = ("tiny", "lite0", "r18")


@dataclass(frozen=True)
class ExportOptions:
    """Validated options for exporting one target. Build it with :func:`validate_options`."""

    target: Target
    model: str
    checkpoint: Path | None
    height: int
    width: int
    precision: Precision
    out_dir: Path
    coreml_layout: str = "multifunction"

    @property
    def bundle_name(self) -> str:
        """Directory name of the bundle, e.g. ``lite0_240x432_fp32_onnx``."""
        return f"{self.model}_{self.height}x{self.width}_{self.precision.value}_{self.target.name}"


def get_target(name: str) -> Target:
    """The target called ``name``, or InputError listing the known ones."""
    if name not in TARGETS:
        raise InputError(f"--target {name!r} is unknown; choose one of {sorted(TARGETS)} or 'all'")
    return TARGETS[name]


def validate_options(
    *,
    target: str,
    model: str,
    height: int,
    width: int,
    precision: str = "fp32",
    checkpoint: str | Path | None = None,
    out_dir: str | Path = "out",
    coreml_layout: str = "multifunction",
) -> ExportOptions:
    """Check every option against the table; raise InputError naming the first bad one."""
    tgt = get_target(target)
    if model not in MODEL_VARIANTS:
        raise InputError(f"--model {model!r} is unknown; choose one of {list(MODEL_VARIANTS)}")
    prec = _parse_precision(precision)
    if prec not in tgt.precisions:
        allowed = [p.value for p in tgt.precisions]
        raise InputError(f"--precision {prec.value} is not supported by --target {tgt.name}; allowed: {allowed}")
    if coreml_layout not in COREML_LAYOUTS:
        raise InputError(f"coreml layout {coreml_layout!r} is unknown; choose one of {list(COREML_LAYOUTS)}")
    if height <= 0 or width <= 0 or height % 32 or width % 32:
        raise InputError(f"--size {height}x{width}: height and width must be positive multiples of 32")
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and not ckpt.is_file():
        raise InputError(f"--checkpoint {str(ckpt)!r} does not exist or is not a file")
    return ExportOptions(tgt, model, ckpt, height, width, prec, Path(out_dir), coreml_layout)


def _parse_precision(text: str) -> Precision:
    try:
        return Precision(text)
    except ValueError:
        raise InputError(f"--precision {text!r} is unknown; choose one of {[p.value for p in Precision]}") from None
