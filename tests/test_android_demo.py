"""The Android demo app (android_demo/): its plain-Kotlin logic under JUnit 5 on this JVM, and the signed,
aligned APK that CI builds from a clean checkout without Gradle (aapt2, javac, kotlinc, dx, apksigner).

The toolchain comes from android_demo/tools/install_toolchain.sh (REUSEVOS_ANDROID_TOOLS, default
~/.cache/reusevos-android) and Debian's junit5. Without it these tests skip, unless
REUSEVOS_REQUIRE_ANDROID=1 (CI sets it and installs the toolchain: there a skip would hide a broken app).
Nothing here runs the app: there is no phone or emulator on this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from reusevos_edge.bench.clips import ClipSpec
from reusevos_edge.bench.phone import APP_ID, app_arguments
from reusevos_edge.bench.protocol import BenchPlan
from reusevos_edge.data.masks_io import write_mask

DEMO = Path(__file__).resolve().parents[1] / "android_demo"
TOOLS = Path(os.environ.get("REUSEVOS_ANDROID_TOOLS", Path.home() / ".cache" / "reusevos-android"))
JUNIT = Path("/usr/share/java/junit-platform-console-standalone.jar")


def _toolchain() -> None:
    needed = [TOOLS / "kotlinc/bin/kotlinc", TOOLS / "root/usr/lib/android-sdk/platforms/android-23/android.jar",
              TOOLS / "root/usr/share/java/com.android.dx.jar", JUNIT]
    missing = [str(p) for p in needed if not p.exists()]
    missing += [tool for tool in ("java", "javac", "aapt", "aapt2", "zipalign", "apksigner", "keytool", "zip")
                if shutil.which(tool) is None]
    if missing:
        why = f"Android toolchain missing: {missing} (android_demo/tools/install_toolchain.sh; apt-get install junit5)"
        if os.environ.get("REUSEVOS_REQUIRE_ANDROID") == "1":
            pytest.fail(why + " (REUSEVOS_REQUIRE_ANDROID=1: CI must install it)")
        pytest.skip(why)


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "REUSEVOS_ANDROID_TOOLS": str(TOOLS)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


@pytest.fixture(scope="module")
def apk(tmp_path_factory) -> Path:
    _toolchain()
    out = tmp_path_factory.mktemp("apk")
    _run([str(DEMO / "tools/build_apk.sh"), str(out)])
    return out / "reusevos-demo.apk"


def test_apk_is_signed_aligned_and_declares_both_activities(apk):
    verify = _run(["apksigner", "verify", "--verbose", str(apk)]).stdout
    assert "Verified using v2 scheme (APK Signature Scheme v2): true" in verify
    _run(["zipalign", "-c", "-p", "4", str(apk)])
    badging = _run(["aapt", "dump", "badging", str(apk)]).stdout
    assert f"package: name='{APP_ID}'" in badging
    assert "launchable-activity: name='org.reusevos.demo.MainActivity'" in badging
    assert "sdkVersion:'26'" in badging and "uses-permission: name='android.permission.CAMERA'" in badging
    tree = _run(["aapt", "dump", "xmltree", str(apk), "AndroidManifest.xml"]).stdout
    bench = tree[tree.index('".BenchmarkActivity"'):]
    assert "android:exported" in bench.splitlines()[1], "the benchmark activity must be startable by adb"
    with zipfile.ZipFile(apk) as z:
        names = z.namelist()
        dex = z.read("classes.dex")
    for cls in ("Lorg/reusevos/demo/MainActivity;", "Lorg/reusevos/demo/BenchmarkActivity;",
                "Lorg/reusevos/NativeTracker;", "Lorg/reusevos/demo/core/BenchRequest;", "Lkotlin/collections/CollectionsKt;"):
        assert cls.encode() in dex, f"{cls} is not in classes.dex"
    assert not any(n.startswith("lib/") for n in names), "no NDK here: this APK carries no native library"


def test_app_logic_under_junit(tmp_path):
    """core/ under JUnit 5, with what the Python toolkit writes: a palette PNG mask and the harness's extras."""
    _toolchain()
    rng = np.random.default_rng(0)
    ids = rng.choice(np.array([0, 1, 2, 3, 255], dtype=np.uint8), size=(37, 61), p=[0.5, 0.2, 0.1, 0.1, 0.1])
    write_mask(tmp_path / "mask.png", ids)
    (tmp_path / "ids.raw").write_bytes(ids.tobytes())
    plan = BenchPlan(name="b1", bundle="/b", clip=ClipSpec(kind="synthetic", frames=3, size=(32, 32)), tau=0.6)
    extras = app_arguments(plan, bundle="/data/local/tmp/reusevos/bundles/b", frames="/f", mask="/m.png", count=40,
                           out="b1.json")
    typed = ";".join(f"{k}={'i' if isinstance(v, int) else 'f' if isinstance(v, float) else 's'}:{v}"
                     for k, v in extras.items())
    proc = _run([str(DEMO / "tools/jvm_tests.sh"), str(tmp_path / "jvm"), f"-Dreusevos.mask_png={tmp_path / 'mask.png'}",
                 f"-Dreusevos.mask_ids={tmp_path / 'ids.raw'}", f"-Dreusevos.extras={typed}"])
    assert "[         0 tests failed          ]" in proc.stdout, proc.stdout[-2000:]
    assert "[        11 tests successful      ]" in proc.stdout, proc.stdout[-2000:]
