"""The bundle format: ``manifest.json`` schema, file names, checksums and verification.

A bundle is a folder holding program file(s) and ``manifest.json``, which says what the bundle
holds, how to feed it and the sha256 of every file. The runtime owns this format; the exporters in
``reusevos_edge.converters`` write it through :func:`write_manifest`, and every reader goes
through :func:`read_manifest`, which refuses:

- a manifest that was edited (``manifest_sha256`` covers the manifest itself),
- files that are missing, extra or altered (per-file sha256),
- a manifest whose target, artifact, frame size and subgraph shapes contradict each other.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

from ..errors import InputError
from ..fileio import write_text
from ..model.subgraph import Subgraph, TensorSpec
from ..targets import TARGETS

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 3  # 3: the first-frame fit is score_init + a repeated score_refit
SUBGRAPH_PLACEHOLDER = "<subgraph>"
_TOOL_PACKAGES = (
    "reusevos-edge", "torch", "numpy", "executorch", "litert-torch", "ai-edge-litert",
    "coremltools", "onnx", "onnxruntime", "onnxscript", "onnxslim",
)


class BundleIntegrityError(InputError):
    """A bundle's manifest or files do not match their checksums, or contradict each other."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of one file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_digest(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON (sorted keys), ``manifest_sha256`` itself left out."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def bundle_files(bundle_dir: Path) -> list[str]:
    """Every file under ``bundle_dir`` except the manifest, as sorted POSIX relative paths."""
    paths = (p for p in bundle_dir.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
    return sorted(p.relative_to(bundle_dir).as_posix() for p in paths)


def bundle_size_bytes(bundle_dir: Path) -> int:
    """Total bytes of every file in the bundle (manifest included)."""
    return sum(p.stat().st_size for p in Path(bundle_dir).rglob("*") if p.is_file())


def tool_versions() -> dict[str, str]:
    """Installed versions of the export/runtime tools (absent ones are left out)."""
    versions = {"python": platform.python_version()}
    for name in _TOOL_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def subgraph_entries(subgraphs, io_names: dict[str, dict], input_dtypes: dict[str, dict[str, str]] | None = None
                     ) -> list[dict]:
    """Contract of each subgraph plus the program-side names of its inputs and outputs.

    ``io_names[name] = {"inputs": {contract: program}, "outputs": {contract: program}}``; a
    missing entry means the program uses the contract names. ``input_dtypes[name][input]``: the dtype a
    program input takes instead of the contract's (an int8 bundle's image codes).
    """
    entries = []
    for sg in subgraphs:
        entry = sg.to_json()
        for spec in entry["inputs"]:
            spec["dtype"] = (input_dtypes or {}).get(sg.name, {}).get(spec["name"], spec["dtype"])
        names = io_names.get(sg.name, {})
        entry["program_inputs"] = {n: names.get("inputs", {}).get(n, n) for n in sg.input_names}
        entry["program_outputs"] = {n: names.get("outputs", {}).get(n, n) for n in sg.output_names}
        entries.append(entry)
    return entries


def subgraphs_from_manifest(manifest: dict) -> dict[str, Subgraph]:
    """The contract entries of a manifest as Subgraphs (specs only; they execute in the bundle's runtime)."""
    def specs(items) -> tuple[TensorSpec, ...]:
        return tuple(TensorSpec(s["name"], tuple(s["shape"]), s["dtype"]) for s in items)

    return {e["name"]: Subgraph(e["name"], None, specs(e["inputs"]), specs(e["outputs"]), e.get("doc", ""),
                                int(e.get("repeat", 1)))
            for e in manifest["subgraphs"]}


def write_manifest(bundle_dir: Path, manifest: dict) -> Path:
    """Add format version, tool versions, ``files`` (sha256 + bytes) and ``manifest_sha256``; write it."""
    manifest = dict(manifest)
    manifest["format_version"] = FORMAT_VERSION
    manifest["tool_versions"] = tool_versions()
    manifest["files"] = {
        rel: {"sha256": sha256_file(bundle_dir / rel), "bytes": (bundle_dir / rel).stat().st_size}
        for rel in bundle_files(bundle_dir)
    }
    manifest["manifest_sha256"] = manifest_digest(manifest)
    return write_text(bundle_dir / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")


def read_manifest(bundle_dir: str | Path, *, verify: bool = True) -> dict:
    """Load ``manifest.json`` from ``bundle_dir``; with ``verify`` check the manifest, every file and their
    consistency (see the module doc). Raises BundleIntegrityError / InputError naming the problem."""
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / MANIFEST_NAME
    if not bundle_dir.is_dir():
        raise InputError(f"bundle {str(bundle_dir)!r} is not a folder (expected an exported bundle folder)")
    if not path.is_file():
        raise InputError(f"bundle {str(bundle_dir)!r} has no {MANIFEST_NAME}: not an exported bundle")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleIntegrityError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        version = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise InputError(f"{str(path)!r}: format_version {version!r}, this reader understands "
                         f"{FORMAT_VERSION}; re-export the bundle with this version of reusevos-edge")
    if verify:
        verify_manifest(bundle_dir, manifest)
        verify_files(bundle_dir, manifest)
        verify_consistency(bundle_dir, manifest)
    return manifest


def verify_manifest(bundle_dir: Path, manifest: dict) -> None:
    """The manifest must hash to its own ``manifest_sha256`` (an edited manifest is refused)."""
    if manifest.get("manifest_sha256") != manifest_digest(manifest):
        raise BundleIntegrityError(
            f"bundle {str(bundle_dir)!r}: {MANIFEST_NAME} was modified after export (its manifest_sha256 "
            "does not match its content); re-export the bundle or copy it again")


def verify_files(bundle_dir: Path, manifest: dict) -> None:
    """Raise BundleIntegrityError naming each file missing, extra or with a wrong sha256."""
    listed = manifest.get("files", {})
    present = set(bundle_files(bundle_dir))
    problems = [f"missing: {rel}" for rel in sorted(set(listed) - present)]
    problems += [f"not in manifest: {rel}" for rel in sorted(present - set(listed))]
    problems += [
        f"sha256 mismatch: {rel}" for rel in sorted(set(listed) & present)
        if sha256_file(bundle_dir / rel) != listed[rel]["sha256"]
    ]
    if problems:
        raise BundleIntegrityError(
            f"bundle {str(bundle_dir)!r} does not match its manifest ({'; '.join(problems)}); "
            "re-export it or copy it again"
        )


def program_files(manifest: dict) -> list[str]:
    """The program file(s) the manifest's artifact names (one per subgraph for ``<subgraph>``)."""
    artifact = manifest["artifact"]
    if SUBGRAPH_PLACEHOLDER in artifact:
        return [artifact.replace(SUBGRAPH_PLACEHOLDER, e["name"]) for e in manifest["subgraphs"]]
    return [artifact]


def verify_consistency(bundle_dir: Path, manifest: dict) -> None:
    """Target, artifact, files, frame size and subgraph shapes must agree with each other."""
    where = f"bundle {str(bundle_dir)!r}"
    target = TARGETS.get(manifest.get("target"))
    if target is None:
        raise BundleIntegrityError(f"{where}: unknown target {manifest.get('target')!r} in {MANIFEST_NAME}; "
                                   f"known: {sorted(TARGETS)}")
    artifact = str(manifest.get("artifact", ""))
    if not artifact.endswith(target.suffix):
        raise BundleIntegrityError(f"{where}: target {target.name!r} runs {target.suffix} programs but the "
                                   f"artifact is {artifact!r}")
    listed = {rel.split("/")[0] for rel in manifest.get("files", {})}
    missing = [name for name in program_files(manifest) if name not in listed]
    if missing:
        raise BundleIntegrityError(f"{where}: the {target.name} program file(s) {missing} are not in the bundle")
    _check_frame_size(where, manifest)


def _check_frame_size(where: str, manifest: dict) -> None:
    entries = {e["name"]: e for e in manifest.get("subgraphs", [])}
    low = entries.get("backbone_low")
    if low is None:
        raise BundleIntegrityError(f"{where}: its manifest has no backbone_low subgraph")
    shape = list(low["inputs"][0]["shape"])
    if shape[2:] != list(manifest.get("frame_size", [])):
        raise BundleIntegrityError(f"{where}: frame_size {manifest.get('frame_size')} contradicts the "
                                   f"backbone_low input shape {shape}")
