"""Registered variants: ``tiny`` (tests), ``lite0`` (default, EfficientNet-Lite0) and ``r18`` (the paper's G-FRTM-fast)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
import torch

from ..errors import InputError
from .backbone_lite0 import LITE0_CHANNELS, build_lite0, load_lite0_imagenet
from .backbone_resnet18 import R18_CHANNELS, ResNet18High, ResNet18Low
from .backbone_tiny import TINY_CHANNELS, TinyHigh, TinyLow
from .checkpoint import load_checkpoint
from .config import HeadConfig, ModelConfig, ScoreFitConfig
from .reusevos import ReuseVOS
from .subgraphs import check_size

DEFAULT_MODEL = "lite0"
# Default model frame size (H, W), multiples of 32: the size the bundled heads were trained at
# (DAVIS 288p upsampled; 5 val sequences at 480p: J&F 63 at 288x512 vs 69 at 384x672 for the
# previous heads). Frames are resized to it and masks are resized back.
DEFAULT_SIZE = (384, 672)

CONFIGS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(
        name="tiny", backbone="tiny", channels=TINY_CHANNELS,
        head=HeadConfig(proj_ch=8, deep_ch=8, shallow_ch=(8, 8), head_ch=4, tm_ch=8, tm_groups=2, blend_groups=4,
                        gate_hidden=4, translator_ch=4),
        fit=ScoreFitConfig(init_cg_iters=(3, 3), update_cg_iters=2, aug_copies=3, memory_slots=6, update_every=2),
    ),
    "lite0": ModelConfig(
        name="lite0", backbone="lite0", channels=LITE0_CHANNELS,
        head=HeadConfig(proj_ch=64, deep_ch=32, shallow_ch=(16, 8), head_ch=8, tm_ch=32, tm_groups=8,
                        blend_groups=16, gate_hidden=16, translator_ch=16),
    ),
    "r18": ModelConfig(name="r18", backbone="r18", channels=R18_CHANNELS, head=HeadConfig()),
}


def _backbone(name: str, pretrained: bool) -> tuple[torch.nn.Module, torch.nn.Module]:
    if name == "lite0":
        low, high = build_lite0()
        if pretrained:
            load_lite0_imagenet(low, high)
        return low, high
    if name == "r18":
        return ResNet18Low(), ResNet18High()
    if name == "tiny":
        return TinyLow(), TinyHigh()
    raise InputError(f"backbone {name!r} is unknown; known: lite0, r18, tiny")


def get_config(name: str) -> ModelConfig:
    """The configuration of registered variant ``name``, or InputError listing the registered ones."""
    if name not in CONFIGS:
        raise InputError(f"--model {name!r} is not registered; choose one of {sorted(CONFIGS)}")
    return CONFIGS[name]


def default_checkpoint(name: str, *, precision: str = "fp32") -> Path | None:
    """The checkpoint bundled in the package for a variant (``precision`` int8: its QAT checkpoint), if one ships."""
    stem = f"{name}_int8" if precision == "int8" else name
    path = Path(str(resources.files("reusevos_edge"))) / "weights" / f"{stem}.safetensors"
    return path if path.is_file() else None


def build_model(name: str = DEFAULT_MODEL, *, checkpoint: str | Path | None = None, pretrained: bool = True,
                use_default_checkpoint: bool = True, seed: int = 0, quantized: bool = False) -> ReuseVOS:
    """Build a registered variant in eval mode.

    checkpoint: a user checkpoint, loaded strictly; else the bundled one when it ships and
    ``use_default_checkpoint``; else heads stay at their (seeded) initialisation. ``quantized``: accept
    a QAT checkpoint (its quantization state is read with :func:`~.checkpoint.read_quantization`).
    """
    config = get_config(name)
    torch.manual_seed(seed)
    low, high = _backbone(config.backbone, pretrained)
    model = ReuseVOS(config=config, backbone_low=low, backbone_high=high)
    path = checkpoint or (default_checkpoint(name) if use_default_checkpoint else None)
    if path is not None:
        load_checkpoint(model, path, quantized=quantized)
    return model.eval()


def parse_size(text: str) -> tuple[int, int]:
    """'HxW' -> (H, W), both positive multiples of 32."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size '{text}': expected HxW, e.g. 288x512") from None
    check_size(h, w, what=f"--size '{text}'")
    return h, w
