"""ReuseVOSKit (ios_demo/ReuseVOSKit), the Swift package of the iOS demo: `swift build` and `swift test` on
Linux with Swift 6 in a Debian trixie chroot (ios_demo/tools/swift_chroot.sh; bookworm has no Swift). Its
Tracker runs the native core through the C API (libreusevos_c, built by the native_build fixture) over the
tiny ExecuTorch bundle, and must make the Python tracker's decisions on every frame.

Without the chroot (or root, which chroot needs) this test skips, unless REUSEVOS_REQUIRE_SWIFT=1 (CI sets
it and installs the chroot: there a skip would hide a broken package). Nothing here runs on Apple platforms.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import missing_toolchain
from test_native import python_track, write_clip

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "ios_demo" / "ReuseVOSKit"
SWIFT_ROOT = Path(os.environ.get("SWIFT_ROOT", "/opt/trixie"))


def test_swift_package_tracks_like_the_python_tracker(native_build, tiny_bundles, tmp_path, tmp_path_factory):
    from reusevos_edge.data.synthetic import make_clip

    if not (SWIFT_ROOT / ".reusevos-swift").exists() or os.geteuid() != 0:
        missing_toolchain(f"no Swift chroot at {SWIFT_ROOT} (ios_demo/tools/swift_chroot.sh install, as root)",
                          require="REUSEVOS_REQUIRE_SWIFT")
    bundle = tiny_bundles("executorch").path
    frames, masks = make_clip(num_frames=6, height=64, width=96, num_objects=2, speed_px=1.0, seed=7)
    starts = {0: {1: masks[0] == 1, 2: masks[0] == 2}}
    clip = tmp_path / "clip"
    write_clip(clip, list(frames), starts)
    records, _ = python_track(bundle, list(frames), starts)
    lines = [" ".join(f"{k}:{v['decision']}" for k, v in sorted(r["objects"].items(), key=lambda kv: int(kv[0])))
             for r in records]
    (clip / "decisions.txt").write_text("\n".join(lines) + "\n")
    env = f"REUSEVOS_NATIVE_LIB={native_build} REUSEVOS_TEST_BUNDLE={bundle} REUSEVOS_TEST_CLIP={clip}"
    binds = sorted({str(REPO / "native"), str(tmp_path_factory.getbasetemp()), sys.prefix})
    proc = subprocess.run([str(REPO / "ios_demo/tools/swift_chroot.sh"), "run", str(PACKAGE),
                           f"{env} swift build -j 2 && {env} swift test -j 2 2>&1", *binds],
                          capture_output=True, text=True, timeout=1200)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Executed 4 tests, with 0 failures" in out, out[-3000:]
    assert "skipped" not in out.lower(), out[-3000:]
