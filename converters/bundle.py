"""Export one target into a bundle folder, written atomically (hidden temporary folder, then rename).

A bundle is ``<out>/<model>_<H>x<W>_<precision>_<target>/`` holding the program file(s) and
``manifest.json`` in the format the runtime owns (``reusevos_edge.runtime.bundle_format``). A failed
or interrupted export leaves no partial bundle behind; a re-export replaces the old bundle only
once the new one is complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from reusevos_edge.fileio import staged_dir
from reusevos_edge.model.fingerprint import weights_fingerprint
from reusevos_edge.model.registry import default_checkpoint
from reusevos_edge.quant.image_codes import CODE_DTYPE, IMAGE_PROGRAM
from reusevos_edge.quant.precision import precision_table
from reusevos_edge.runtime.bundle_format import (bundle_size_bytes, read_manifest, sha256_file, subgraph_entries,
                                                 write_manifest)

from .export_result import ExportResult
from .targets import ExportOptions

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


def export_bundle(options: ExportOptions, *, model, subgraphs, tracker_config,
                  quantization: dict | None = None) -> BundleResult:
    """Export ``subgraphs`` of ``model`` for ``options.target`` into ``options.out_dir`` (which must exist).

    ``tracker_config`` (a TrackerConfig): the options the bundle runs with by default, stored in its manifest.
    ``quantization``: how int8 subgraphs were quantized (method, quantizer, calibration), for the manifest.
    """
    start = time.perf_counter()
    final = options.out_dir / options.bundle_name
    exporter = options.target.load_exporter()
    with staged_dir(final, replace=True) as staging:
        kwargs = {"layout": options.layout} if options.layout else {}
        result = exporter(subgraphs, staging, precision=options.precision.value, **kwargs)
        manifest = build_manifest(options, model, subgraphs, result, tracker_config)
        if quantization is not None:
            manifest["quantization"] = quantization
        write_manifest(staging, manifest)
        manifest = read_manifest(staging)
    return BundleResult(final, bundle_size_bytes(final), time.perf_counter() - start, manifest)


def build_manifest(options: ExportOptions, model, subgraphs, result: ExportResult, tracker_config) -> dict:
    """Everything a runtime or an app needs to drive the bundle (checksums are added on write)."""
    return {
        "target": options.target.name,
        "artifact": result.artifact,
        "precision": options.precision.value,
        "subgraph_precision": precision_table([sg.name for sg in subgraphs], options.precision.value),
        "model": {**checkpoint_info(options), "weights_sha256": weights_fingerprint(model)},
        "frame_size": [options.height, options.width],
        "normalisation": normalisation(model, codes=result.input_dtypes.get(IMAGE_PROGRAM, {}).get("image") == CODE_DTYPE),
        "tracker": tracker_config.to_json(),
        "subgraphs": subgraph_entries(subgraphs, result.io_names, result.input_dtypes),
        "object_state": object_state(subgraphs),
        "export": result.to_json(),
    }


def checkpoint_info(options: ExportOptions) -> dict:
    """Variant, and the checkpoint the weights came from (user's, bundled default, or none) with its sha256."""
    path = options.checkpoint or default_checkpoint(options.model)
    return {"variant": options.model, "checkpoint": path.name if path else None,
            "checkpoint_sha256": sha256_file(path) if path else None}


def normalisation(model, *, codes: bool) -> dict:
    """How the host prepares a frame (float32, or int8 codes where the program takes them: ``codes``), and
    the normalisation baked into ``backbone_low``."""
    norm = next((m for m in model.modules() if hasattr(m, "mean") and hasattr(m, "inv_std")), None)
    baked = None if norm is None else {
        "mean": [round(float(v), 6) for v in norm.mean.flatten()],
        "std": [round(1.0 / float(v), 6) for v in norm.inv_std.flatten()],
    }
    scaled = "int8 u - 128 (codes, u / 255 on scale 1/255, zero point -128)" if codes else "float32 / 255"
    return {
        "host": f"RGB uint8 HxWx3 -> bilinear resize to frame_size -> {scaled} -> 1x3xHxW (NCHW)",
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
