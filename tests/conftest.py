"""Shared test fixtures: tiny DAVIS-layout trees written to tmp_path, and the real shared data.

Other test modules may append fixtures here.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from reusevos_edge.data.masks_io import write_mask
from reusevos_edge.data.synthetic import make_clip

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DAVIS = REPO_ROOT.parent / "shared" / "data" / "davis2016"


def load_benchmark(name: str):
    """``benchmarks/<name>.py`` as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def write_davis_tree(
    root: Path,
    clips: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    res: str = "480p",
    split: str = "val",
    grayscale_255: bool = False,
) -> Path:
    """Write ``clips`` (name -> (frames NxHxWx3 uint8 RGB, masks NxHxW uint8 ids)) in DAVIS layout.

    Frames go to JPEGImages/<res>/<name>/00000.jpg, masks to Annotations/<res>/<name>/00000.png
    (palette PNGs, or grayscale 0/255 PNGs when ``grayscale_255``), names to
    ImageSets/<res>/<split>.txt.
    """
    for name, (frames, masks) in clips.items():
        frame_dir = root / "JPEGImages" / res / name
        mask_dir = root / "Annotations" / res / name
        frame_dir.mkdir(parents=True)
        mask_dir.mkdir(parents=True)
        for index, (frame, mask) in enumerate(zip(frames, masks)):
            cv2.imwrite(str(frame_dir / f"{index:05d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            if grayscale_255:
                Image.fromarray((mask > 0).astype(np.uint8) * 255, mode="L").save(
                    mask_dir / f"{index:05d}.png"
                )
            else:
                write_mask(mask_dir / f"{index:05d}.png", mask)
    sets = root / "ImageSets" / res
    sets.mkdir(parents=True, exist_ok=True)
    (sets / f"{split}.txt").write_text("".join(f"{name}\n" for name in clips))
    return root


def stride2_block(height: int, width: int):
    """(subgraph, feeds) of one EfficientNet-Lite MBConv block with a 5x5 stride-2 'SAME' depthwise conv
    (8 -> 16 channels, seeded): the explicit-pad pattern the int8 exporters handle; 4 seeded feeds."""
    import torch

    from reusevos_edge.model.backbone_lite0 import BlockSpec, MBConv
    from reusevos_edge.model.subgraph import Subgraph, TensorSpec

    torch.manual_seed(0)

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.block = MBConv(spec=BlockSpec(kernel=5, stride=2, expand=6, in_ch=8, out_ch=16))

        def forward(self, x):
            return (self.block(x),)

    sg = Subgraph("block", Block().eval(), (TensorSpec("x", (1, 8, height, width)),),
                  (TensorSpec("y", (1, 16, height // 2, width // 2)),))
    feeds = [{"x": torch.randn(1, 8, height, width, generator=torch.Generator().manual_seed(i)).numpy()}
             for i in range(4)]
    return sg, feeds


@pytest.fixture
def davis2016_tree(tmp_path: Path) -> Path:
    """A DAVIS 2016-style tree (480p, val): two single-object clips of 6 frames, 48x64.

    ``slow`` has palette 0/1 masks; ``fast`` is written as grayscale 0/255 masks in a second
    pass, like the original DAVIS 2016 release.
    """
    root = tmp_path / "davis2016"
    slow = make_clip(num_frames=6, height=48, width=64, speed_px=1.0, seed=1)
    fast = make_clip(num_frames=6, height=48, width=64, speed_px=4.0, seed=2)
    write_davis_tree(root, {"slow": slow, "fast": fast})
    for path in (root / "Annotations" / "480p" / "fast").glob("*.png"):
        ids = np.array(Image.open(path))
        Image.fromarray((ids > 0).astype(np.uint8) * 255, mode="L").save(path)
    return root


@pytest.fixture
def davis2017_tree(tmp_path: Path) -> Path:
    """A DAVIS 2017-style tree (480p, val): one clip ``multi`` of 6 frames, 48x64, with
    objects 1 and 2 from frame 0 and object 3 appearing at frame 2."""
    root = tmp_path / "davis2017"
    clip = make_clip(num_frames=6, height=48, width=64, num_objects=3, seed=3, appear_at=2)
    return write_davis_tree(root, {"multi": clip})


@pytest.fixture
def shared_davis() -> Path:
    """The real DAVIS 2016 data next to the repo (``../shared/data/davis2016``); skip if absent."""
    if not SHARED_DAVIS.is_dir():
        pytest.skip(f"shared DAVIS data not found at {SHARED_DAVIS}")
    return SHARED_DAVIS


# ---------------------------------------------------------------- int8 (tiny model)
INT8_SIZE = (64, 96)


@pytest.fixture(scope="session")
def tiny_calibration():
    """(tiny model, its float contract at 64x96, the tracker config, the calibration feeds every
    subgraph saw on a synthetic clip): what every int8 test quantizes from."""
    from reusevos_edge.data.clip import parity_clip
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.model.subgraphs import build_subgraphs
    from reusevos_edge.quant.calibration import collect_feeds
    from reusevos_edge.runtime.torch_runner import TorchRunner
    from reusevos_edge.tracker.config import TrackerConfig

    height, width = INT8_SIZE
    config = TrackerConfig(tau=0.0, keyframe_bound=2, update_every=2)
    model = build_model("tiny")
    subgraphs = build_subgraphs(model, height=height, width=width)
    reference = TorchRunner(model=model, height=height, width=width, subgraphs=subgraphs)
    feeds = collect_feeds(reference, [parity_clip(height=height, width=width, num_frames=6)], config, limit=8)
    return model, subgraphs, config, feeds


@pytest.fixture(scope="session")
def int8_parity():
    """``check(bundle_dir, model, int8_graphs, feeds, config) -> {subgraph: worst max_rel}``: runs the int8
    bundle and its fake-quantized PyTorch programs on the calibration feeds (worst relative drift over each
    subgraph's outputs) and asserts tracking parity at the int8 floors on an 8-frame clip."""
    def check(bundle_dir, model, int8_graphs, feeds, config) -> dict[str, float]:
        from reusevos_edge.converters import parity
        from reusevos_edge.data.clip import parity_clip
        from reusevos_edge.runtime.bundle import load_bundle_runner
        from reusevos_edge.runtime.torch_runner import TorchRunner

        height, width = INT8_SIZE
        runner = load_bundle_runner(bundle_dir)
        fake_quant = TorchRunner(model=model, height=height, width=width, subgraphs=int8_graphs)
        worst: dict[str, float] = {}
        for d in parity.compare_subgraphs(runner, fake_quant, {name: f[0] for name, f in feeds.items()}):
            worst[d.subgraph] = max(worst.get(d.subgraph, 0.0), d.max_rel)
        report = parity.measure_parity(runner, fake_quant, parity_clip(height=height, width=width, num_frames=8),
                                       config, floors=parity.INT8_FLOORS)
        assert report.passed, report.summary()
        return worst
    return check


# ---------------------------------------------------------------- fp32 bundles of the tiny model
TINY_BUNDLE_SIZE = (64, 96)


@pytest.fixture(scope="session")
def tiny_bundles(tmp_path_factory):
    """``get(target, **options) -> BundleResult``: the tiny model (64x96) exported once per target and
    options per test session, with tracker options that run both paths (tau 0, keyframe bound 2)."""
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.converters.targets import validate_options
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.model.subgraphs import build_subgraphs
    from reusevos_edge.tracker.config import TrackerConfig

    height, width = TINY_BUNDLE_SIZE
    model = build_model("tiny")
    subgraphs = build_subgraphs(model, height=height, width=width)
    config = TrackerConfig(tau=0.0, keyframe_bound=2, update_every=2)
    out, cache = tmp_path_factory.mktemp("bundles"), {}
    backend_modules = {"onnx": "onnxruntime", "executorch": "executorch.runtime", "tflite": "litert_torch",
                       "coreml": "coremltools"}

    def get(target: str, **kw):
        key = (target, tuple(sorted(kw.items())))
        if key not in cache:
            pytest.importorskip(backend_modules[target])
            opts = validate_options(target=target, model="tiny", height=height, width=width, out_dir=out, **kw)
            cache[key] = export_bundle(opts, model=model, subgraphs=subgraphs, tracker_config=config)
        return cache[key]

    return get


def missing_toolchain(what: str, *, require: str = "REUSEVOS_REQUIRE_NATIVE"):
    """Skip for lack of a tool, or fail when the environment variable ``require`` is 1 (CI sets it:
    there a skip would hide a broken build)."""
    if os.environ.get(require) == "1":
        pytest.fail(f"{what} ({require}=1: CI must install it)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def native_build(tmp_path_factory) -> Path:
    """The native/ CMake project built in Release; returns the build folder."""
    cmake = shutil.which("cmake") or str(Path(sys.executable).parent / "cmake")
    if not Path(cmake).exists() and shutil.which("cmake") is None:
        missing_toolchain("cmake is not installed (pip install 'cmake>=3.28')")
    if shutil.which("c++") is None:
        missing_toolchain("no C++ compiler (c++) on PATH")
    pytest.importorskip("executorch.runtime")
    import executorch

    prefix = Path(list(executorch.__path__)[0]) / "share" / "cmake"
    build = tmp_path_factory.mktemp("native_build")
    configure = subprocess.run([cmake, "-S", str(REPO_ROOT / "native"), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}"],
                               capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    made = subprocess.run([cmake, "--build", str(build), "-j2"], capture_output=True, text=True)
    assert made.returncode == 0, made.stdout[-4000:] + made.stderr[-4000:]
    return build
