"""``manifest.json``: what a bundle holds, how to feed it, and the checksum of every file.

A runtime loads a bundle only through :func:`read_manifest`, which refuses a bundle whose files
do not match their sha256 (or are missing, or extra files pretend to be part of it).
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

from reusevos_edge.errors import InputError

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
_TOOL_PACKAGES = (
    "reusevos-edge", "torch", "numpy", "executorch", "litert-torch", "ai-edge-litert",
    "coremltools", "onnx", "onnxruntime", "onnxscript", "onnxslim",
)


class BundleIntegrityError(InputError):
    """A bundle's files do not match the checksums in its manifest."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of one file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bundle_files(bundle_dir: Path) -> list[str]:
    """Every file under ``bundle_dir`` except the manifest, as sorted POSIX relative paths."""
    paths = (p for p in bundle_dir.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
    return sorted(p.relative_to(bundle_dir).as_posix() for p in paths)


def tool_versions() -> dict[str, str]:
    """Installed versions of the export/runtime tools (absent ones are left out)."""
    versions = {"python": platform.python_version()}
    for name in _TOOL_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write_manifest(bundle_dir: Path, manifest: dict) -> Path:
    """Add ``files`` (sha256 + bytes of every file) and tool versions, write ``manifest.json``."""
    manifest = dict(manifest)
    manifest["format_version"] = FORMAT_VERSION
    manifest["tool_versions"] = tool_versions()
    manifest["files"] = {
        rel: {"sha256": sha256_file(bundle_dir / rel), "bytes": (bundle_dir / rel).stat().st_size}
        for rel in bundle_files(bundle_dir)
    }
    path = bundle_dir / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


def read_manifest(bundle_dir: str | Path, *, verify: bool = True) -> dict:
    """Load ``manifest.json`` from ``bundle_dir``; with ``verify`` check every file's sha256."""
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / MANIFEST_NAME
    if not path.is_file():
        raise InputError(f"bundle {str(bundle_dir)!r} has no {MANIFEST_NAME}: not an exported bundle")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{str(path)!r}: format_version {manifest.get('format_version')!r}, "
                         f"this reader understands {FORMAT_VERSION}")
    if verify:
        verify_files(bundle_dir, manifest)
    return manifest


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


def subgraph_entries(subgraphs, io_names: dict[str, dict]) -> list[dict]:
    """Contract of each subgraph plus the program-side names of its inputs and outputs.

    ``io_names[name] = {"inputs": {contract: program}, "outputs": {contract: program}}``; a
    missing entry means the program uses the contract names.
    """
    entries = []
    for sg in subgraphs:
        entry = sg.to_json()
        names = io_names.get(sg.name, {})
        entry["program_inputs"] = {n: names.get("inputs", {}).get(n, n) for n in sg.input_names}
        entry["program_outputs"] = {n: names.get("outputs", {}).get(n, n) for n in sg.output_names}
        entries.append(entry)
    return entries


def bundle_size_bytes(bundle_dir: Path) -> int:
    """Total bytes of every file in the bundle (manifest included)."""
    return sum(p.stat().st_size for p in Path(bundle_dir).rglob("*") if p.is_file())
