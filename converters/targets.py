"""Up-front validation of export options against the target table (``reusevos_edge.targets``).

Every option is checked here before any work starts; an unsupported combination raises
:class:`reusevos_edge.errors.InputError` naming the option and what is allowed. Nothing is
silently rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reusevos_edge.errors import InputError
from reusevos_edge.model.registry import get_config
from reusevos_edge.model.subgraphs import check_size
from reusevos_edge.targets import Precision, Target, get_target

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
    layout: str | None = None  # for targets with several program layouts (Target.layouts)

    @property
    def bundle_name(self) -> str:
        """Folder name of the bundle, e.g. ``lite0_240x432_fp32_onnx``."""
        return f"{self.model}_{self.height}x{self.width}_{self.precision.value}_{self.target.name}"


def validate_options(
    *,
    target: str,
    model: str,
    height: int,
    width: int,
    precision: str = "fp32",
    checkpoint: str | Path | None = None,
    out_dir: str | Path = "out",
    layout: str | None = None,
) -> ExportOptions:
    """Check every option against the table; raise InputError naming the first bad one."""
    tgt = get_target(target)
    get_config(model)
    prec = parse_precision(precision)
    if prec not in tgt.precisions:
        allowed = [p.value for p in tgt.precisions]
        raise InputError(f"--precision {prec.value} is not supported by --target {tgt.name}; allowed: {allowed}")
    if tgt.layouts:
        layout = layout or tgt.layouts[0]
        if layout not in tgt.layouts:
            raise InputError(f"--{tgt.name}-layout {layout!r} is unknown; choose one of {list(tgt.layouts)}")
    else:
        layout = None  # one layout only: the option does not apply
    check_size(height, width, what=f"--size {height}x{width}")
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and not ckpt.is_file():
        raise InputError(f"--checkpoint {str(ckpt)!r} does not exist or is not a file")
    return ExportOptions(tgt, model, ckpt, height, width, prec, Path(out_dir), layout)


def parse_precision(text: str) -> Precision:
    try:
        return Precision(text)
    except ValueError:
        raise InputError(f"--precision {text!r} is unknown; choose one of {[p.value for p in Precision]}") from None
