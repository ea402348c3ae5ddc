"""Exact rewrites of a written ``.tflite`` flatbuffer where litert-torch's converter leaves slow patterns.

:func:`rewrite` folds pads: a stride-2 'SAME' convolution of EfficientNet-Lite is an explicit asymmetric
pad before the conv (``StaticSamePadConv2d``). In fp32 the converter folds the pad into the conv
(padding SAME); in a static int8 graph it does not: the pad stays in NCHW between two layout
transposes, ``TRANSPOSE -> PAD -> TRANSPOSE -> (DEPTHWISE_)CONV_2D(VALID)``, three full copies of the
widest activation of the backbone, which XNNPACK runs outside the conv. The lite0 int8
``backbone_low`` held two such chains and ran no faster than fp32 (49.5 vs 49.4 ms per call at
384x672, one thread). Folding a chain back into ``conv(padding=SAME)`` is exact when the pad amounts
are TensorFlow's 'SAME' amounts for that kernel, stride and input size: both pad with the value that
stands for real zero (an int8 pad pads with its zero point, which equals the conv input's).

:func:`rewrite` also writes every equal vector of the flatbuffer once (flatbuffers tables may point at
the same vector). litert-torch writes a per-channel int8 weight's and its int32 bias's quantization
parameters as one float32 scale and one int64 zero point per output channel, each tensor its own
arrays: 43,196 channels, 0.52 MB of the 4.35 MB lite0 int8 model, of which the zero points (all zero
for symmetric weights, 0.35 MB) repeat one array per channel count. Shared, the model is 4.00 MB; the
interpreter reads the same tables, and every signature computes bit-identical outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reusevos_edge.errors import require
from reusevos_edge.fileio import atomic_write

_NCHW = (0, 3, 1, 2)
_NHWC = (0, 2, 3, 1)


@dataclass(frozen=True)
class Rewrite:
    """What :func:`rewrite` changed: 'SAME' pad chains folded into their convs, vector references that
    now share an equal earlier vector, the file size before and after, and whether ``backbone_low`` now
    takes int8 image codes."""

    folded_same_pads: int
    shared_vectors: int
    bytes_before: int
    bytes_after: int
    image_codes: bool = False


def rewrite(path: Path) -> Rewrite:
    """Rewrite ``path`` in place (temp file, then rename): fold every ``TRANSPOSE -> PAD -> TRANSPOSE ->
    conv(VALID)`` chain whose pad is the conv's 'SAME' padding into ``conv(SAME)``, let an int8
    ``backbone_low`` take the frame as int8 codes (:func:`_take_image_codes`), and store equal vectors
    (quantization scales and zero points, shapes) once."""
    schema = require("ai_edge_litert.schema_py_generated", extra="tflite", purpose="LiteRT graph rewrite")
    flatbuffers = require("flatbuffers", extra="tflite", purpose="LiteRT graph rewrite")
    data = path.read_bytes()
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    folded = sum(_fold_subgraph(model, schema, graph) for graph in model.subgraphs)
    image_codes = _take_image_codes(model, schema)
    builder = _sharing_builder(flatbuffers, 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    packed = bytes(builder.Output())
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(packed))
    return Rewrite(folded_same_pads=folded, shared_vectors=builder.shared, bytes_before=len(data),
                   bytes_after=len(packed), image_codes=image_codes)


def _sharing_builder(flatbuffers, size: int):
    """A flatbuffers builder whose ``CreateNumpyVector`` returns the earlier vector for equal contents
    (dtype and bytes); tensor buffers (uint8 payloads) are written as they come. ``shared`` counts the
    reuses. (Defined on use: flatbuffers comes with the tflite extra.)"""

    class SharingBuilder(flatbuffers.Builder):
        def __init__(self) -> None:
            super().__init__(size)
            self.memo: dict[tuple[str, bytes], int] = {}
            self.shared = 0

        def CreateNumpyVector(self, x):  # noqa: N802 (flatbuffers' name)
            if x.dtype == np.uint8:
                return super().CreateNumpyVector(x)
            key = (x.dtype.str, x.tobytes())
            if key not in self.memo:
                self.memo[key] = super().CreateNumpyVector(x)
            else:
                self.shared += 1
            return self.memo[key]

    return SharingBuilder()


def _fold_subgraph(model, schema, graph) -> int:
    ops = graph.operators
    producer = {out: op for op in ops for out in op.outputs}
    consumers: dict[int, list] = {}
    for op in ops:
        for i in op.inputs:
            consumers.setdefault(i, []).append(op)
    names = builtin_names(schema)

    def kind(op) -> str:
        return op_name(model, op, names)

    def only_consumer(tensor: int, op) -> bool:
        return consumers.get(tensor) == [op] and tensor not in graph.outputs

    dropped = []
    for conv in ops:
        if kind(conv) not in ("CONV_2D", "DEPTHWISE_CONV_2D") or conv.builtinOptions.padding != schema.Padding.VALID:
            continue
        back = producer.get(conv.inputs[0])
        pad = producer.get(back.inputs[0]) if back is not None and kind(back) == "TRANSPOSE" else None
        front = producer.get(pad.inputs[0]) if pad is not None and kind(pad) == "PAD" else None
        if front is None or kind(front) != "TRANSPOSE":
            continue
        chain_ok = (only_consumer(back.outputs[0], conv) and only_consumer(pad.outputs[0], back)
                    and only_consumer(front.outputs[0], pad)
                    and _constant(model, graph, front.inputs[1]) == _NCHW
                    and _constant(model, graph, back.inputs[1]) == _NHWC)
        source = front.inputs[0]
        if not chain_ok or not _is_same_padding(model, graph, conv, pad, source):
            continue
        conv.inputs = np.array(conv.inputs, dtype=np.int32)  # the reader's arrays are read-only views
        conv.inputs[0] = source
        conv.builtinOptions.padding = schema.Padding.SAME
        dropped += [front, pad, back]
    graph.operators = [op for op in ops if not any(op is d for d in dropped)]
    return len(dropped) // 3


def _take_image_codes(model, schema) -> bool:
    """``backbone_low`` takes the frame as int8 codes u - 128 (:mod:`reusevos_edge.quant.image_codes`)
    instead of float u / 255, where its int8 graph begins ``SUB(image, m) -> QUANTIZE`` with one mean m
    for every channel and 255 m an integer k (lite0: 127): the image tensor becomes int8 on scale 1/255,
    zero point k - 128 (the code u - 128 then stands for (u - k) / 255 = u / 255 - m, the SUB's output),
    and the QUANTIZE requantizes it, int8 to int8. Both paths round the same real value (u - k) / 255 / s to
    a step, so they agree wherever it is not a rounding tie; for lite0 (255 s within 0.001 of 1) every value
    lies within 0.06 of an integer and both give u - 128 (a test checks the outputs bit for bit). Returns
    whether it applied."""
    signature = next((sig for sig in model.signatureDefs if sig.signatureKey.decode() == "backbone_low"), None)
    if signature is None or len(signature.inputs) != 1:
        return False
    graph = model.subgraphs[signature.subgraphIndex]
    image = signature.inputs[0].tensorIndex
    names = builtin_names(schema)
    users = [op for op in graph.operators if image in op.inputs]
    sub = users[0] if len(users) == 1 else None
    if sub is None or op_name(model, sub, names) != "SUB" or list(sub.inputs).index(image) != 0:
        return False
    if getattr(sub.builtinOptions, "fusedActivationFunction", 0) != schema.ActivationFunctionType.NONE:
        return False
    data = model.buffers[graph.tensors[sub.inputs[1]].buffer].data
    mean = np.frombuffer(bytes(data), dtype=np.float32) if data is not None and len(data) else np.empty(0)
    k = float(mean[0]) * 255.0 if mean.size else -1.0
    if not mean.size or np.any(mean != mean[0]) or abs(k - round(k)) > 1e-4 or not 0 <= round(k) <= 255:
        return False
    after = [op for op in graph.operators if sub.outputs[0] in op.inputs]
    quantize = after[0] if len(after) == 1 else None
    if (quantize is None or op_name(model, quantize, names) != "QUANTIZE" or sub.outputs[0] in graph.outputs
            or graph.tensors[quantize.outputs[0]].type != schema.TensorType.INT8):
        return False
    tensor = graph.tensors[image]
    tensor.type = schema.TensorType.INT8
    tensor.quantization = schema.QuantizationParametersT()
    tensor.quantization.scale = [1.0 / 255.0]
    tensor.quantization.zeroPoint = [round(k) - 128]
    quantize.inputs = np.array(quantize.inputs, dtype=np.int32)
    quantize.inputs[0] = image
    graph.operators = [op for op in graph.operators if op is not sub]
    return True


def builtin_names(schema) -> dict[int, str]:
    """Builtin operator code -> name (``CONV_2D``, ...) from the flatbuffer schema module."""
    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def op_name(model, op, names: dict[int, str]) -> str:
    """Builtin name of ``op`` (its code may sit in the deprecated field); ``CUSTOM`` for others."""
    code = model.operatorCodes[op.opcodeIndex]
    return names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")


def _constant(model, graph, tensor: int) -> tuple | None:
    """The int32 values of a constant tensor, flattened; None if it has no data."""
    data = model.buffers[graph.tensors[tensor].buffer].data
    return None if data is None or not len(data) else tuple(np.frombuffer(bytes(data), dtype=np.int32).tolist())


def _same_amounts(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) of one spatial axis."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _is_same_padding(model, graph, conv, pad, source: int) -> bool:
    """The NCHW ``pad`` adds exactly the conv's 'SAME' padding to the NHWC ``source`` (undilated conv)."""
    amounts = _constant(model, graph, pad.inputs[1])
    options = conv.builtinOptions
    if amounts is None or len(amounts) != 8 or any(amounts[:4]) or (options.dilationHFactor, options.dilationWFactor) != (1, 1):
        return False
    _, height, width, _ = graph.tensors[source].shape
    _, kh, kw, _ = graph.tensors[conv.inputs[1]].shape  # OHWI (conv) / 1HWO (depthwise)
    return (amounts[4:6] == _same_amounts(height, kh, options.strideH)
            and amounts[6:8] == _same_amounts(width, kw, options.strideW))
