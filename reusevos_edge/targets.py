"""The one table of export targets. A row names everything about a target; adding one is one row.

Each :class:`Target` names its exporter (``reusevos_edge.converters``) and its runtime backend
(``reusevos_edge.runtime``) as ``"module:attribute"`` strings, imported only when used, so this
table (and the runtime that reads it) never imports the exporters or any heavy backend.
"""

from __future__ import annotations

import enum
import importlib
import sys
from dataclasses import dataclass
from typing import Any

from .errors import InputError, require


class Precision(str, enum.Enum):
    """Numeric precision of the exported programs. int8 bundles are mixed: ``quant.precision`` says
    which subgraphs run int8 (the score generator stays float32)."""

    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"


@dataclass(frozen=True)
class Target:
    """One export format.

    suffix: the program files' suffix; extra: the pip extra that installs its tools;
    export_module / runtime_module: modules that must import for exporting / running it;
    exporter / backend: ``"module:attribute"`` of the export function and the runtime backend class;
    runnable_here: whether its programs execute on this platform (Core ML: Apple only);
    layouts: the program layouts its exporter can write (first = default), passed as ``layout=``;
    quantizer: ``"module:attribute"`` of the function returning its int8 PT2E quantizer (int8 targets);
    lowers_qat: whether it lowers a QAT checkpoint's int8 programs (ExecuTorch/XNNPACK's recipe) as they
    are; else its own recipe takes their parameters (``reusevos_edge.quant.transfer``);
    native_core: whether the native tracker core (``native/``) has a backend for its bundles;
    op_profile: ``"module:attribute"`` of the function timing every operator inside its programs
    (``reusevos-bench --op-profile``), where the runtime reports them.
    """

    name: str
    suffix: str
    precisions: tuple[Precision, ...]
    extra: str
    export_module: str
    runtime_module: str
    exporter: str
    backend: str
    runnable_here: bool
    description: str
    layouts: tuple[str, ...] = ()
    quantizer: str | None = None
    lowers_qat: bool = True
    native_core: bool = False
    op_profile: str | None = None

    def load_exporter(self):
        """The export function ``(subgraphs, out_dir, *, precision, **options) -> ExportResult``."""
        require(self.export_module, extra=self.extra, purpose=f"exporting --target {self.name}")
        return _attribute(self.exporter)

    def load_quantizer(self, *, qat: bool = False):
        """A fresh PT2E quantizer for this target's int8 kernels (``reusevos_edge.quant``); ``qat``: with
        trainable fake quantization (targets whose recipe supports quantization-aware training)."""
        if self.quantizer is None or Precision.INT8 not in self.precisions:
            raise InputError(f"--precision int8 is not available for --target {self.name}")
        return _attribute(self.quantizer)(**({"qat": True} if qat else {}))

    def load_op_profiler(self):
        """``(bundle_dir, *, manifest, runs, threads) -> list[ProgramProfile]`` (``reusevos_edge.bench.op_profile``)."""
        if self.op_profile is None:
            raise InputError(f"--op-profile: {self.name} bundles report no per-operator times")
        return _attribute(self.op_profile)  # the function requires its runtime's extra itself

    def load_backend(self):
        """The backend class ``(*, bundle_dir, manifest, subgraphs, num_threads)`` with ``execute``."""
        require(self.runtime_module, extra=self.extra, purpose=f"running a {self.name} bundle")
        return _attribute(self.backend)


def _attribute(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


_ON_APPLE = sys.platform == "darwin"
_CONVERTERS, _RUNTIME, _QUANT = "reusevos_edge.converters", "reusevos_edge.runtime", "reusevos_edge.quant"

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("executorch", ".pte", (Precision.FP32, Precision.INT8), "executorch", "executorch.exir",
               "executorch.runtime", f"{_CONVERTERS}.executorch_export:export_executorch",
               f"{_RUNTIME}.executorch_backend:ExecuTorchBackend", True,
               "ExecuTorch .pte, one method per subgraph, XNNPACK-delegated",
               quantizer=f"{_QUANT}.xnnpack:xnnpack_quantizer", native_core=True,
               op_profile="reusevos_edge.bench.op_profile:profile_executorch"),
        Target("tflite", ".tflite", (Precision.FP32, Precision.INT8), "tflite", "litert_torch",
               "ai_edge_litert.interpreter", f"{_CONVERTERS}.tflite_export:export_tflite",
               f"{_RUNTIME}.tflite_backend:TFLiteBackend", True,
               "LiteRT .tflite, one signature per subgraph",
               # LiteRT's converter needs equal input/output scales around resize and concat, which
               # XNNPACK's recipe does not give (measured on lite0): its own recipe, QAT scales carried over
               quantizer=f"{_QUANT}.litert:litert_quantizer", lowers_qat=False),
        Target("coreml", ".mlpackage", (Precision.FP32, Precision.FP16, Precision.INT8), "coreml",
               "coremltools", "coremltools", f"{_CONVERTERS}.coreml_export:export_coreml",
               f"{_RUNTIME}.coreml_backend:CoreMLBackend", _ON_APPLE,
               "Core ML mlprogram, one multifunction .mlpackage (iOS 18) or one per subgraph (iOS 17)",
               ("multifunction", "per_subgraph"), quantizer=f"{_QUANT}.coreml:coreml_quantizer"),
        Target("onnx", ".onnx", (Precision.FP32, Precision.INT8), "onnx", "onnxscript", "onnxruntime",
               f"{_CONVERTERS}.onnx_export:export_onnx", f"{_RUNTIME}.onnx_backend:OnnxBackend", True,
               "ONNX (opset 20, onnxslim-simplified), one file per subgraph; int8 as QDQ",
               quantizer=f"{_QUANT}.onnx_qdq:onnx_quantizer"),
    )
}


def get_target(name: str, *, what: str = "--target") -> Target:
    """The target called ``name``, or InputError listing the known ones."""
    if name not in TARGETS:
        raise InputError(f"{what} {name!r} is unknown; choose one of {sorted(TARGETS)}")
    return TARGETS[name]
