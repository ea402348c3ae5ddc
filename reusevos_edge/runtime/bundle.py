"""Run an exported bundle (a folder with ``manifest.json``) as a :class:`Runner`.

``load_bundle_runner(path)`` reads and verifies the manifest (``bundle_format.read_manifest``:
manifest checksum, every file's sha256, target/artifact/shape consistency), then opens the backend
that the target table (``reusevos_edge.targets``) names for the manifest's target. Backends are
imported only here, lazily, never when ``reusevos_edge`` is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from ..targets import get_target
from .base import check_feeds
from .bundle_format import read_manifest, subgraphs_from_manifest


class BundleRunner:
    """The contract of a bundle, its feed validation, and a backend that executes its programs.

    ``backend.execute(name, arrays) -> list[np.ndarray]`` takes arrays in contract input order
    (float32, C-contiguous, NCHW) and returns outputs in contract output order.
    """

    def __init__(self, *, bundle_dir: Path, manifest: dict, num_threads: int | None = None) -> None:
        self.bundle_dir = Path(bundle_dir)
        self.manifest = manifest
        self.target = get_target(manifest["target"], what=f"bundle {str(self.bundle_dir)!r} target")
        self.subgraphs = subgraphs_from_manifest(manifest)
        backend = self.target.load_backend()
        self.backend = backend(bundle_dir=self.bundle_dir, manifest=manifest, subgraphs=self.subgraphs,
                               num_threads=num_threads)

    @property
    def frame_size(self) -> tuple[int, int]:
        height, width = self.manifest["frame_size"]
        return int(height), int(width)

    @property
    def variant(self) -> str | None:
        return (self.manifest.get("model") or {}).get("variant")

    def run(self, name: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        arrays = check_feeds(self.subgraphs, name, feeds, where=f"bundle {str(self.bundle_dir)!r}")
        outs = self.backend.execute(name, arrays)
        return {spec.name: np.asarray(out, dtype=np.float32).reshape(spec.shape)
                for spec, out in zip(self.subgraphs[name].outputs, outs)}


def load_bundle_runner(path: str | Path, *, num_threads: int | None = None) -> BundleRunner:
    """Open the bundle at ``path`` with the runtime its manifest names (after verifying it)."""
    manifest = read_manifest(path)
    return BundleRunner(bundle_dir=Path(path), manifest=manifest, num_threads=num_threads)
