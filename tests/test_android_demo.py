"""The Android demo app (android_demo/): its plain-Kotlin logic under JUnit 5 on this JVM, and the signed,
aligned APK that CI builds from a clean checkout without Gradle (aapt2, javac, kotlinc, dx, apksigner).

The toolchain comes from android_demo/tools/install_toolchain.sh (REUSEVOS_ANDROID_TOOLS, default
~/.cache/reusevos-android) and Debian's junit5. Without it these tests skip, unless
REUSEVOS_REQUIRE_ANDROID=1 (CI sets it and installs the toolchain: there a skip would hide a broken app).
Nothing here runs the app: there is no phone or emulator on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import missing_toolchain
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
        missing_toolchain(f"Android toolchain missing: {missing} (android_demo/tools/install_toolchain.sh; "
                          "apt-get install junit5)", require="REUSEVOS_REQUIRE_ANDROID")


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


@pytest.fixture(scope="module")
def jvm(tmp_path_factory) -> tuple[Path, str]:
    """core/ and the app's tests compiled, core/ under JUnit 5 with what the Python toolkit writes (a palette
    PNG mask, the harness's extras); (classes folder, JUnit's summary)."""
    _toolchain()
    tmp = tmp_path_factory.mktemp("jvm")
    rng = np.random.default_rng(0)
    ids = rng.choice(np.array([0, 1, 2, 3, 255], dtype=np.uint8), size=(37, 61), p=[0.5, 0.2, 0.1, 0.1, 0.1])
    write_mask(tmp / "mask.png", ids)
    (tmp / "ids.raw").write_bytes(ids.tobytes())
    plan = BenchPlan(name="b1", bundle="/b", clip=ClipSpec(kind="synthetic", frames=3, size=(32, 32)), tau=0.6)
    extras = app_arguments(plan, bundle="/data/local/tmp/reusevos/bundles/b", frames="/f", mask="/m.png", count=40,
                           out="b1.json")
    typed = ";".join(f"{k}={'i' if isinstance(v, int) else 'f' if isinstance(v, float) else 's'}:{v}"
                     for k, v in extras.items())
    proc = _run([str(DEMO / "tools/jvm_tests.sh"), str(tmp / "out"), f"-Dreusevos.mask_png={tmp / 'mask.png'}",
                 f"-Dreusevos.mask_ids={tmp / 'ids.raw'}", f"-Dreusevos.extras={typed}"])
    return tmp / "out" / "classes", proc.stdout


def test_app_logic_under_junit(jvm):
    summary = jvm[1]
    assert "[         0 tests failed          ]" in summary, summary[-2000:]
    assert "[        11 tests successful      ]" in summary, summary[-2000:]


FAKE_ADB = r'''#!PYTHON
"""A stand-in adb: a folder as the phone's file system, the demo app's BenchmarkRun on this JVM as the app."""
import json, os, shutil, subprocess, sys
root, app = os.environ["FAKE_PHONE"], "org.reusevos.demo"
args = sys.argv[1:]
with open(root + ".log", "a") as f:
    f.write(json.dumps(args) + "\n")
phone = lambda path: os.path.join(root, path.lstrip("/"))
files = phone(f"data/data/{app}/files")
if args == ["get-state"]:
    print("device")
elif args[:2] == ["shell", "getprop"]:
    print({"ro.product.manufacturer": "Stand-in", "ro.product.model": "JVM", "ro.build.version.release": "15",
           "ro.build.version.sdk": "35"}.get(args[2], ""))
elif args == ["shell", "dumpsys", "thermalservice"]:
    print("Thermal Status: 0")
elif args == ["shell", "dumpsys", "battery"]:
    print("Current Battery Service state:\n  AC powered: false\n  USB powered: false\n  level: 90")
elif args[0] == "shell" and args[1].startswith("cat /sys/devices/system/cpu"):
    print("1800000")
elif args[:3] == ["shell", "mkdir", "-p"]:
    for path in args[3:]:
        os.makedirs(phone(path), exist_ok=True)
elif args[0] == "push":
    *sources, dest = args[1:]
    for source in sources:
        target = os.path.join(phone(dest), os.path.basename(source.rstrip("/")))
        (shutil.copytree if os.path.isdir(source) else shutil.copy2)(source, target)
elif args[:3] == ["shell", "am", "start"]:
    at = args.index("-n")
    assert args[at + 1] == f"{app}/.BenchmarkActivity", args
    extras = args[at + 2:]
    for k in range(0, len(extras), 3):  # the app sees the phone's paths
        if extras[k] == "--es" and extras[k + 2].startswith("/"):
            extras[k + 2] = phone(extras[k + 2])
    sys.exit(subprocess.run(["java", f"-Djava.library.path={os.environ['FAKE_JNI']}", f"-Dreusevos.files={files}/bench",
                             "-cp", os.environ["FAKE_CP"], "org.reusevos.demo.host.HostBenchmarkKt", *extras]).returncode)
elif args[0] == "shell" and args[1] == f"pidof {app} || true":
    print("")
elif args[:4] == ["exec-out", "run-as", app, "cat"]:
    print(open(os.path.join(files, args[4].removeprefix("files/"))).read(), end="")
else:
    sys.exit(f"stand-in adb: unknown command {args}")
'''


def test_reusevos_bench_android_through_a_stand_in_adb(jvm, native_build, tiny_bundles, tmp_path, monkeypatch):
    """reusevos-bench --device android end to end: push, launch, wait, pull and parse are the harness's own; the
    app is its BenchmarkRun (extras, bundle check, mask reader) on this JVM over the native core's JNI
    benchmark runner. Same decisions and subgraph calls as the host's Python tracker on the same clip."""
    from reusevos_edge.bench.schema import check_run
    from reusevos_edge.cli.bench import main

    bundle = tiny_bundles("executorch").path
    (tmp_path / "bin").mkdir()
    adb = tmp_path / "bin" / "adb"
    adb.write_text(FAKE_ADB.replace("PYTHON", sys.executable))
    adb.chmod(0o755)
    kotlin = TOOLS / "kotlinc" / "lib" / "kotlin-stdlib.jar"
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PHONE", str(tmp_path / "phone"))
    monkeypatch.setenv("FAKE_JNI", str(native_build))
    monkeypatch.setenv("FAKE_CP", f"{jvm[0]}{os.pathsep}{kotlin}")
    common = ["--bundle", str(bundle), "--frames", "6", "--no-eager", "--no-plots", "--cooldown", "0", "--warmup", "1",
              "--no-progress"]
    assert main(["--device", "android", *common, "--out", str(tmp_path / "android")]) == 0
    assert main([*common, "--out", str(tmp_path / "host")]) == 0
    phone = check_run(json.loads((tmp_path / "android" / "bench.json").read_text()), where="android").results[0]
    host = check_run(json.loads((tmp_path / "host" / "bench.json").read_text()), where="host").results[0]
    assert (phone.frames, phone.computed, phone.reused, phone.calls) == (6, host.computed, host.reused, host.calls)
    assert "native tracker core (C++) over ExecuTorch, Android app" in phone.notes
    assert phone.energy.measured_joules_per_frame is None and phone.energy.measured_source.startswith("unavailable")
    calls = [json.loads(line) for line in (tmp_path / "phone.log").read_text().splitlines()]
    start = next(c for c in calls if c[:3] == ["shell", "am", "start"])
    assert ["--es", "bundle", f"/data/local/tmp/reusevos/bundles/{bundle.name}"] == start[7:10]
    assert (tmp_path / "phone" / f"data/data/{APP_ID}/files/bench/{phone.name}.json").is_file()
