"""Export one target into a bundle directory, written atomically (temp dir, then rename).

A bundle is ``<out>/<model>_<H>x<W>_<precision>_<target>/`` holding the artifact(s) and
``manifest.json``. A failed export leaves no partial bundle behind; a re-export replaces the old
bundle only once the new one is complete.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reusevos_edge.errors import require
from reusevos_edge.model.fingerprint import weights_fingerprint

from .export_result import ExportResult
from .manifest import bundle_size_bytes, read_manifest, sha256_file, subgraph_entries, write_manifest
from .targets import ExportOptions

log = logging.getLogger(__name__)

# Per-object tensors the host keeps between frames: (state name, subgraph, "inputs"/"outputs", tensor).
OBJECT_STATE = (
    ("template", "template_build", "outputs", "template"),
    ("score", "score_gen", "outputs", "score"),
    ("refined", "refine_deep", "outputs", "refined"),
    ("proj_w", "score_init", "outputs", "proj_w"),
    ("filter_w", "score_init", "outputs", "filter_w"),
    ("mem_feats", "score_update", "inputs", "mem_feats"),
    ("mem_labels", "score_update", "inputs", "mem_labels"),
    ("mem_weights", "score_update", "inputs", "mem_weights"),
)


@dataclass
class BundleResult:
    """Where a bundle was written, its size and how long the export took."""

    path: Path
    size_bytes: int
    seconds: float
    manifest: dict

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6


def export_bundle(options: ExportOptions, *, model, subgraphs, tracker_config) -> BundleResult:
    """Export ``subgraphs`` of ``model`` for ``options.target`` into ``options.out_dir``."""
    start = time.perf_counter()
    final = options.out_dir / options.bundle_name
    options.out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{options.bundle_name}.", dir=options.out_dir))
    try:
        result = run_exporter(options, subgraphs, staging)
        write_manifest(staging, build_manifest(options, model, subgraphs, result, tracker_config))
        manifest = read_manifest(staging)
        _replace_dir(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    seconds, size = time.perf_counter() - start, bundle_size_bytes(final)
    log.info("%s: success, %.1f s, saved as %s (%.2f MB)", options.target.name, seconds, final, size / 1e6)
    return BundleResult(final, size, seconds, manifest)


def run_exporter(options: ExportOptions, subgraphs, out_dir: Path) -> ExportResult:
    """Dispatch to the target's exporter (each imports its backend lazily)."""
    require(_BACKEND_MODULE[options.target.name], extra=options.target.extra,
            purpose=f"exporting --target {options.target.name}")
    precision = options.precision.value
    if options.target.name == "onnx":
        from .onnx_export import export_onnx
        return export_onnx(subgraphs, out_dir, precision=precision)
    if options.target.name == "executorch":
        from .executorch_export import export_executorch
        return export_executorch(subgraphs, out_dir, precision=precision)
    if options.target.name == "tflite":
        from .tflite_export import export_tflite
        return export_tflite(subgraphs, out_dir, precision=precision)
    from .coreml_export import export_coreml
    return export_coreml(subgraphs, out_dir, precision=precision, layout=options.coreml_layout)


_BACKEND_MODULE = {"onnx": "onnxscript", "executorch": "executorch.exir", "tflite": "litert_torch",
                   "coreml": "coremltools"}


def build_manifest(options: ExportOptions, model, subgraphs, result: ExportResult, tracker_config) -> dict:
    """Everything a runtime or an app needs to drive the bundle (checksums are added on write)."""
    fit = model.config.fit
    return {
        "target": options.target.name,
        "artifact": result.artifact,
        "precision": options.precision.value,
        "model": {**checkpoint_info(options), "weights_sha256": weights_fingerprint(model)},
        "frame_size": [options.height, options.width],
        "normalisation": normalisation(model),
        "tracker": dataclasses.asdict(tracker_config),
        "fit": {"update_every": fit.update_every, "learning_rate": fit.learning_rate,
                "memory_slots": fit.memory_slots},
        "subgraphs": subgraph_entries(subgraphs, result.io_names),
        "object_state": object_state(subgraphs),
        "export": result.to_json(),
    }


def checkpoint_info(options: ExportOptions) -> dict:
    """Variant, and the checkpoint the weights came from (user's, bundled default, or none) with its sha256."""
    from reusevos_edge.model.registry import default_checkpoint

    path = options.checkpoint or default_checkpoint(options.model)
    return {"variant": options.model, "checkpoint": path.name if path else None,
            "checkpoint_sha256": sha256_file(path) if path else None}


def normalisation(model) -> dict:
    """How the host prepares a frame, and the normalisation baked into ``backbone_low``."""
    norm = next((m for m in model.modules() if hasattr(m, "mean") and hasattr(m, "inv_std")), None)
    baked = None if norm is None else {
        "mean": [round(float(v), 6) for v in norm.mean.flatten()],
        "std": [round(1.0 / float(v), 6) for v in norm.inv_std.flatten()],
    }
    return {
        "host": "RGB uint8 HxWx3 -> bilinear resize to frame_size -> float32 / 255 -> 1x3xHxW (NCHW)",
        "in_program": baked,
    }


def object_state(subgraphs) -> list[dict]:
    """Shapes of the per-object state tensors, read off the contract."""
    by_name = {sg.name: sg for sg in subgraphs}
    states = []
    for state, graph, side, tensor in OBJECT_STATE:
        sg = by_name.get(graph)
        spec = next((s for s in getattr(sg, side, ()) if s.name == tensor), None) if sg else None
        if spec is not None:
            states.append({"name": state, "shape": list(spec.shape), "dtype": spec.dtype,
                           "from": f"{graph}.{side[:-1]}.{tensor}"})
    return states


def _replace_dir(staging: Path, final: Path) -> None:
    """Move ``staging`` to ``final``; an existing ``final`` is removed only after the swap."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{time.time_ns()}")
        final.rename(old)
    staging.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
