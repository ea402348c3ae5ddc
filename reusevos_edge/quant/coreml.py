"""Core ML's int8 recipe (W8A8): ExecuTorch's CoreMLQuantizer, whose quantize/dequantize pairs
coremltools converts into Core ML's own int8 ops.

It differs from XNNPACK's recipe (``quant.xnnpack``: affine int8 activations) in its activations:
the quantizer offers uint8 only, symmetric (zero point 128, which coremltools turns into Core ML
int8 with zero point 0) and affine 0..255 after ReLU / ReLU6. It annotates conv + activation as one
pattern, quantized once after the activation, so XNNPACK's ReLU6 fix is not needed. Weights are symmetric per-channel int8 for both; Core ML stores them as int8 constants
dequantized when the model loads. coremltools' own PT2E quantizer does not import on torch 2.13 and
its ``linear_quantize_activations`` needs Core ML prediction (macOS only), so calibration runs here
in PyTorch, through PT2E, as for every other target.
"""

from __future__ import annotations

import copy
import functools
import warnings

from ..errors import require

_EXTRA = "coreml,executorch"  # the quantizer ships with ExecuTorch and builds on coremltools
_PURPOSE = "int8 quantization for Core ML"
_PATTERN_BUILDERS = ("get_conv_pattern", "get_conv_bn_pattern", "get_linear_pattern", "get_linear_bn_pattern",
                     "get_binary_op_act_pattern")


def coreml_quantizer(*, qat: bool = False):
    """ExecuTorch's CoreMLQuantizer for static W8A8: int8 symmetric per-channel weights, uint8
    activations. Min/max observers for calibration (from a handful of feeds the default moving
    average would keep mostly the first feed's range); moving averages for ``qat``."""
    config = require("coremltools.optimize.torch.quantization", extra=_EXTRA, purpose=_PURPOSE)
    module = require("executorch.backends.apple.coreml.quantizer", extra=_EXTRA, purpose=_PURPOSE)
    _trace_patterns_once(require("executorch.backends.apple.coreml.quantizer._coreml_quantizer_utils",
                                 extra=_EXTRA, purpose=_PURPOSE))
    import torch

    observer = "moving_average_min_max" if qat else "min_max"
    return module.CoreMLQuantizer(config.LinearQuantizerConfig(
        global_config=config.ModuleLinearQuantizerConfig(
            quantization_scheme="symmetric", weight_dtype=torch.qint8, weight_per_channel=True,
            activation_dtype=torch.quint8, weight_observer=observer, activation_observer=observer)))


def _trace_patterns_once(utils) -> None:
    """Make CoreMLQuantizer trace each of its pattern graphs once per process.

    Every ``annotate`` call torch.exports ~400 small patterns (each conv dimension x activation x
    in-place variant, ...): 2-3 minutes per subgraph on 2 busy cores. A pattern depends only on
    its builder's arguments; the matcher edits the graph it is given, so each caller gets a copy.
    """
    for name in _PATTERN_BUILDERS:
        builder = getattr(utils, name)
        if not hasattr(builder, "cache_info"):
            setattr(utils, name, _memoized_copies(builder))


def _memoized_copies(builder):
    """``builder`` computing each result once and returning a deep copy of it on every call."""
    traced = functools.cache(builder)

    @functools.wraps(builder)
    def fresh(*args, **kwargs):
        with warnings.catch_warnings():  # torch's pytree specs warn when copied
            warnings.filterwarnings("ignore", message=".*LeafSpec", category=FutureWarning)
            return copy.deepcopy(traced(*args, **kwargs))

    fresh.cache_info = traced.cache_info
    return fresh
