"""The native core cross-compiled for arm64 Linux (what phones run) and run under qemu-user.

ExecuTorch's wheel ships x86-64 libraries only, so the arm64 build is the core without the backend
(``-DREUSEVOS_EXECUTORCH=OFF``): its selftest, and the frame and mask conversions compared byte for byte
with the x86-64 build's (there AVX2 shuffles and gathers, here NEON table lookups and, with
``REUSEVOS_NO_SIMD=1``, the plain loops).
CI installs the toolchain (``REUSEVOS_REQUIRE_ARM64=1``); elsewhere the tests skip without it.
Nothing here is timed: qemu emulates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, missing_toolchain
from reusevos_edge.bench.native import write_pnm

SYSROOT = "/usr/aarch64-linux-gnu"


def _missing(what: str):
    missing_toolchain(f"{what} (apt-get install g++-aarch64-linux-gnu qemu-user)", require="REUSEVOS_REQUIRE_ARM64")


@pytest.fixture(scope="module")
def arm64_build(tmp_path_factory) -> Path:
    for tool in ("aarch64-linux-gnu-g++", "qemu-aarch64"):
        if shutil.which(tool) is None:
            _missing(f"{tool} is not installed")
    cmake = shutil.which("cmake") or str(Path(sys.executable).parent / "cmake")
    build = tmp_path_factory.mktemp("native_arm64")
    steps = [[cmake, "-S", str(REPO_ROOT / "native"), "-B", str(build), "-DREUSEVOS_EXECUTORCH=OFF",
              f"-DCMAKE_TOOLCHAIN_FILE={REPO_ROOT / 'native' / 'cmake' / 'aarch64-linux-gnu.cmake'}"],
             [cmake, "--build", str(build), "-j2", "--target", "reusevos-native-selftest"]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    header = (build / "reusevos-native-selftest").read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183, "not an arm64 ELF (EM_AARCH64)"
    return build


def _arm64(build: Path, *args: str, plain: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "REUSEVOS_NO_SIMD"} | ({"REUSEVOS_NO_SIMD": "1"} if plain else {})
    return subprocess.run(["qemu-aarch64", "-L", SYSROOT, str(build / "reusevos-native-selftest"), *args],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("plain", [False, True], ids=["neon", "plain"])
def test_arm64_selftest_passes(arm64_build, plain):
    """The selftest with the NEON frame conversion and, REUSEVOS_NO_SIMD=1, with the plain loops."""
    done = _arm64(arm64_build, plain=plain)
    assert done.returncode == 0 and "all checks passed" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("size", [(480, 854), (720, 1280), (240, 320), (100, 97)])
def test_arm64_frame_and_mask_conversion_equal_the_x86_build(arm64_build, native_build, tmp_path, size):
    """The model input from a frame (OpenCV's fixed-point bilinear arithmetic) and a mask's area resize: the
    same bytes on arm64 as on this x86-64 host (which tests/test_native.py compares with OpenCV)."""
    rng = np.random.default_rng(size[0])
    frame = write_pnm(tmp_path / "f.ppm", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    yy, xx = np.mgrid[:size[0], :size[1]]
    ellipse = (((yy - size[0] / 2) / (size[0] / 3)) ** 2 + ((xx - size[1] / 2) / (size[1] / 4)) ** 2) < 1
    mask = write_pnm(tmp_path / "m.pgm", ellipse.astype(np.uint8))
    for mode, image, dtype in (("frame", frame, []), ("frame", frame, ["int8"]), ("mask", mask, [])):
        host = subprocess.run([str(native_build / "reusevos-native-selftest"), mode, str(image), "384", "672",
                               str(tmp_path / "host.bin"), *dtype], capture_output=True, text=True)
        assert host.returncode == 0, host.stderr
        for plain in (False, True):
            arm = _arm64(arm64_build, mode, str(image), "384", "672", str(tmp_path / "arm.bin"), *dtype, plain=plain)
            assert arm.returncode == 0, arm.stderr
            assert (tmp_path / "host.bin").read_bytes() == (tmp_path / "arm.bin").read_bytes(), (mode, dtype, size, plain)
