"""reusevos-bench: statistics, energy readings, the host run end to end on a tiny ONNX bundle, and the
Android device driven through a stand-in ``adb`` (what it sends and how it reads the app's result)."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from reusevos_edge.bench.assemble import MEASUREMENT_KEYS, bundle_result, reuse_cost
from reusevos_edge.bench.clips import ClipSpec
from reusevos_edge.bench.energy import RaplCounter, frame_proxies
from reusevos_edge.bench.protocol import BenchPlan
from reusevos_edge.bench.schema import SCHEMA, Latency, check_run
from reusevos_edge.cli import bench as bench_cli
from reusevos_edge.errors import InputError

H, W = 64, 96


def test_latency_statistics_trim_the_ends_and_give_percentiles():
    lat = Latency.from_ms([10.0] * 8 + [1.0, 100.0])  # one fast, one slow outlier
    assert lat.trimmed_mean_ms == 10.0 and lat.p50_ms == 10.0
    assert lat.mean_ms == pytest.approx(18.1) and lat.p99_ms > 90 and lat.fps == pytest.approx(100.0)
    with pytest.raises(InputError, match="no timed frames"):
        Latency.from_ms([])


def test_trimmed_mean_drops_whole_samples_at_each_end():
    from reusevos_edge.bench.schema import trimmed_mean

    assert trimmed_mean([1.0] + [5.0] * 8 + [1000.0]) == 5.0  # 10 samples: one dropped at each end
    assert trimmed_mean([1.0, 2.0, 3.0]) == 2.0  # under 10 samples: nothing dropped
    assert trimmed_mean([]) != trimmed_mean([])  # NaN


def test_reuse_cost_is_the_mean_reused_over_the_mean_computed_frame():
    assert reuse_cost([50, 40, 10, 44, 12], ["init", "computed", "reused", "computed", "reused"]) == pytest.approx(11 / 42)
    assert reuse_cost([50, 40], ["init", "computed"]) is None


def test_rapl_counter_reads_package_domains_and_says_when_there_is_none(tmp_path):
    none = RaplCounter.open(tmp_path / "absent")
    assert none.joules() is None and none.source.startswith("unavailable")
    for name, uj in (("intel-rapl:0", 1_000_000), ("intel-rapl:0:0", 5), ("intel-rapl:1", 2_000_000)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "energy_uj").write_text(str(uj))
    counter = RaplCounter.open(tmp_path)
    assert counter.source.startswith("RAPL") and "intel-rapl:0:0" not in counter.source  # subdomains not double counted
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("3500000")
    (tmp_path / "intel-rapl:1" / "energy_uj").write_text("2500000")
    assert counter.joules() == pytest.approx(3.0)


def test_frame_proxies_count_only_the_calls_that_ran():
    macs, weights = frame_proxies({"a": 4, "b": 1}, frames=2, macs={"a": 10, "b": 100, "c": 1000},
                                  weight_bytes={"a": 1, "b": 2, "c": 3})
    assert (macs, weights) == (70.0, 3.0)


def test_check_run_names_the_source_of_a_bad_result():
    with pytest.raises(InputError, match="phone.json: expected a reusevos-bench/1 result"):
        check_run({"schema": "other"}, where="phone.json")
    with pytest.raises(InputError, match="phone.json: not a valid"):
        check_run({"schema": SCHEMA}, where="phone.json")


@pytest.fixture(scope="module")
def onnx_bundle(tiny_bundles) -> Path:
    return tiny_bundles("onnx").path  # tau 0, keyframe bound 2: both paths run


def test_host_run_writes_schema_json_table_and_plots(onnx_bundle, tmp_path, capsys):
    out = tmp_path / "bench"
    status = bench_cli.main(["--bundle", str(onnx_bundle), "--frames", "9", "--cooldown", "0", "--warmup", "1",
                             "--out", str(out), "--no-progress"])
    assert status == 0, capsys.readouterr().err
    run = check_run(json.loads((out / "bench.json").read_text()), where="bench.json")
    eager, onnx = run.results
    assert (eager.name, onnx.target, onnx.precision) == ("pytorch-eager", "onnx", "fp32")
    for r in run.results:
        assert r.frames == 9 and len(r.per_frame_ms) == 9 and r.per_frame_kind[0] == "init"
        assert {"computed", "reused"} <= set(r.per_frame_kind)  # tau 0 with keyframe bound 2
        assert r.reused > 0 and r.computed > 0 and 0 < r.reuse_cost
        assert r.memory.peak_mb > 50 and r.energy.cpu_seconds_per_frame > 0 and r.load_ms > 0
        assert r.calls["backbone_high"] < r.calls["backbone_low"] == 9  # reuse frames skip the deep backbone
        assert r.energy.macs_per_frame > 0 and r.energy.weight_bytes_per_frame > 0
        assert (r.energy.measured_joules_per_frame is None) == r.energy.measured_source.startswith("unavailable")
    assert eager.per_frame_kind == onnx.per_frame_kind  # the eager row runs the bundle's weights and options
    assert onnx.size_mb > 0 and eager.size_mb is None
    assert run.device.kind == "host" and run.device.cpu_count
    table = (out / "bench.md").read_text()
    assert "| pytorch-eager | pytorch | fp32 |" in table and onnx.name in table
    assert (out / "latency.png").stat().st_size > 1000 and (out / "summary.png").stat().st_size > 1000
    assert not (out / "raw" / "clip").exists()
    assert check_run(run.to_json(), where="round trip") == run  # the schema reads back what it wrote
    assert all(0 <= r.host_share < 1 for r in run.results)


@pytest.mark.backend
def test_op_profile_reads_xnnpack_operator_times_of_each_per_frame_program(tiny_bundles):
    pytest.importorskip("executorch.devtools")
    from reusevos_edge.bench.op_profile import PER_FRAME, markdown, profile_executorch

    bundle = tiny_bundles("executorch")
    profiles = profile_executorch(bundle.path, manifest=bundle.manifest, runs=2)
    assert [p.name for p in profiles] == [n for n in PER_FRAME if n in {s["name"] for s in bundle.manifest["subgraphs"]}]
    for p in profiles:
        assert p.ms > 0 and p.ops, p.name
        assert sum(o.ms for o in p.ops) <= 1.5 * p.ms + 0.05, p.name  # parts of the run, not more
    low = next(p for p in profiles if p.name == "backbone_low")
    assert any(o.kind.startswith("Convolution (NHWC, F32)") for o in low.ops)  # XNNPACK's own operator names
    assert "| backbone_low |" in markdown("tiny", profiles, threads=1, runs=2)


def test_op_profile_needs_an_executorch_bundle(onnx_bundle, tmp_path, capsys):
    out = tmp_path / "bench"
    assert bench_cli.main(["--bundle", str(onnx_bundle), "--op-profile", "--no-plots", "--out", str(out)]) == 2
    assert "--op-profile: no ExecuTorch bundle" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("argv, needle", [
    (["--device", "watch"], "--device watch: expected host, android"),
    (["--bundle", "nowhere"], "nowhere"),
    (["--tau", "2"], "--tau 2: expected a probability"),
    (["--tau", "high"], "--tau high: expected a probability"),
    (["--clip", "my.mp4"], "--clip my.mp4: a video or frame folder needs --mask"),
    (["--frames", "1"], "--frames 1: expected at least 2"),
    (["--device", "android", "--no-plots"], "pass --bundle DIR"),
])
def test_bad_input_fails_before_any_work(argv, needle, tmp_path, capsys):
    out = tmp_path / "bench"
    assert bench_cli.main([*argv, "--out", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def _fake_tool(bin_dir: Path, name: str, source: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(source.replace("PYTHON", sys.executable))
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)


FAKE_ADB = r'''#!PYTHON
import json, os, sys
args = sys.argv[1:]
log = os.environ["FAKE_ADB_LOG"]
with open(log, "a") as f:
    f.write(json.dumps(args) + "\n")
if args[:2] == ["-s", "SERIAL1"]:
    args = args[2:]
joined = " ".join(args)
if joined.startswith("shell getprop"):
    print({"ro.product.manufacturer": "Google", "ro.product.model": "Pixel 8", "ro.build.version.release": "15",
           "ro.build.version.sdk": "35", "ro.soc.model": "Tensor G3"}.get(args[2], ""))
elif joined == "shell dumpsys thermalservice":
    print("IsStatusOverride: false\nThermal Status: 1\n")
elif joined.startswith("shell cat /sys/devices/system/cpu"):
    print("1704000\n2367000\n")
elif joined == "shell dumpsys battery":
    print("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n  level: 80\n")
elif args[0] == "shell" and args[1] == "pidof org.reusevos.demo || true":
    state = log + ".polls"
    polls = int(open(state).read()) if os.path.exists(state) else 0
    open(state, "w").write(str(polls + 1))
    print("4242" if polls == 0 else "")
elif args[0] == "exec-out":
    print(open(os.environ["FAKE_ADB_RESULT"]).read())
'''


def test_android_device_pushes_starts_waits_and_reads_the_app_result(tmp_path, monkeypatch):
    from reusevos_edge.bench.android import AndroidDevice

    bin_dir = tmp_path / "bin"
    _fake_tool(bin_dir, "adb", FAKE_ADB)
    measured = _app_measurement()
    (tmp_path / "result.json").write_text(json.dumps(measured))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_LOG", str(tmp_path / "adb.log"))
    monkeypatch.setenv("FAKE_ADB_RESULT", str(tmp_path / "result.json"))
    monkeypatch.setattr("reusevos_edge.bench.android.POLL_S", 0.01)
    bundle = tmp_path / "b1"
    bundle.mkdir()
    plan = BenchPlan(name="b1", bundle=str(bundle), clip=ClipSpec(kind="synthetic", frames=4, size=(H, W)), tau=0.7)
    device = AndroidDevice(serial="SERIAL1")
    info = device.info()
    assert (info.model, info.os, info.cpu_freq_mhz) == ("Google Pixel 8", "Android 15 (API 35)", [1704.0, 2367.0])
    warnings = device.prepare(tmp_path / "work", [plan])
    assert len(warnings) == 1 and "USB powered" in warnings[0] and "adb tcpip" in warnings[0]
    assert len(list((tmp_path / "work" / "clip" / "frames").glob("*.jpg"))) == 4
    result = bundle_result(device.measure(plan, tmp_path / "work"), tables=None, subgraph_precision={},
                           memory_kind="PSS", where="android b1")
    assert result.reuse_cost == pytest.approx(12 / 40.5) and result.energy.measured_joules_per_frame == 0.2
    assert result.host_share == pytest.approx(1 - 88 / 93)
    calls = [json.loads(line) for line in (tmp_path / "adb.log").read_text().splitlines()]
    assert all(c[:2] == ["-s", "SERIAL1"] for c in calls)
    start = next(c[2:] for c in calls if c[2:4] == ["shell", "am"])
    assert start[:7] == ["shell", "am", "start", "-W", "-S", "-n", "org.reusevos.demo/.BenchmarkActivity"]
    extras = dict(zip(start[8::3], zip(start[7::3], start[9::3])))
    assert extras["bundle"] == ("--es", "/data/local/tmp/reusevos/bundles/b1")
    assert extras["frame_count"] == ("--ei", "4") and extras["tau"] == ("--ef", "0.7")
    assert sum(c[2:4] == ["shell", "pidof org.reusevos.demo || true"] for c in calls) == 2  # polled until it exited
    assert calls[-1][2:] == ["exec-out", "run-as", "org.reusevos.demo", "cat", "files/bench/b1.json"]
    device.measure(dataclasses.replace(plan, tau=1.0), tmp_path / "work")  # the same bundle at another tau
    calls = [json.loads(line) for line in (tmp_path / "adb.log").read_text().splitlines()]
    assert sum(c[2] == "push" and c[3] == str(bundle) for c in calls) == 1  # pushed once
    (tmp_path / "result.json").write_text(json.dumps({"error": "IllegalArgumentException: bundle b1: sha256 mismatch"}))
    with pytest.raises(InputError, match="b1: the app's benchmark failed on the phone: .*sha256 mismatch"):
        device.measure(plan, tmp_path / "work")


def _app_measurement() -> dict:
    """What a demo app's benchmark mode writes (the worker's keys), for one 4-frame run."""
    measured = dict.fromkeys(MEASUREMENT_KEYS, None)
    measured.update(name="b1", target="executorch", precision="int8", bundle="b1", size_mb=4.8, load_ms=120.0,
                    frames=4, per_frame_ms=[90.0, 40.0, 12.0, 41.0], per_frame_subgraph_ms=[80.0, 38.0, 11.0, 39.0],
                    per_frame_kind=["init", "computed", "reused", "computed"], tracker={"tau": 0.7},
                    per_subgraph_ms={"backbone_low": 9.0}, calls={"backbone_low": 4}, computed=2, reused=1,
                    reuse_rate=1 / 3, cpu_seconds_per_frame=0.05, peak_memory_mb=88.0,
                    energy_source="battery charge counter (app)", joules_per_frame=0.2)
    return measured


FAKE_XCRUN = r'''#!PYTHON
import json, os, shutil, sys
args = sys.argv[1:]
with open(os.environ["FAKE_XCRUN_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
assert args[0] == "devicectl", args
if args[1:3] == ["list", "devices"]:
    devices = {"result": {"devices": [{"identifier": "UUID-1", "hardwareProperties": {"udid": "00008120-ABC",
               "marketingName": "iPhone 15 Pro", "cpuType": {"name": "arm64e"}},
               "deviceProperties": {"name": "Lab phone", "osVersionNumber": "18.1"}}]}}
    open(args[args.index("--json-output") + 1], "w").write(json.dumps(devices))
elif args[1:4] == ["device", "copy", "from"]:
    shutil.copy(os.environ["FAKE_XCRUN_RESULT"], args[args.index("--destination") + 1])
'''


def test_ios_device_copies_launches_with_arguments_and_copies_the_result_back(tmp_path, monkeypatch):
    from reusevos_edge.bench.ios import IosDevice

    _fake_tool(tmp_path / "bin", "xcrun", FAKE_XCRUN)
    (tmp_path / "result.json").write_text(json.dumps(_app_measurement()))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_XCRUN_LOG", str(tmp_path / "xcrun.log"))
    monkeypatch.setenv("FAKE_XCRUN_RESULT", str(tmp_path / "result.json"))
    bundle = tmp_path / "b1"
    bundle.mkdir()
    plan = BenchPlan(name="b1", bundle=str(bundle), clip=ClipSpec(kind="synthetic", frames=3, size=(H, W)))
    device = IosDevice(udid="00008120-ABC")
    assert (device.info().model, device.info().os) == ("iPhone 15 Pro", "iOS 18.1")
    with pytest.raises(InputError, match="no such device"):
        IosDevice(udid="other").info()
    device.prepare(tmp_path / "work", [plan])
    result = bundle_result(device.measure(plan, tmp_path / "work"), tables=None, subgraph_precision={},
                           memory_kind="footprint", where="ios b1")
    assert result.computed == 2 and result.latency.trimmed_mean_ms > 0
    calls = [json.loads(line)[1:] for line in (tmp_path / "xcrun.log").read_text().splitlines()]
    launch = next(c for c in calls if c[:3] == ["device", "process", "launch"])
    assert launch[3:5] == ["--device", "00008120-ABC"] and "--console" in launch
    app_args = launch[launch.index("--") + 1:]  # devicectl's options end before the app's own
    assert app_args[0] == "org.reusevos.demo"
    assert dict(zip(app_args[1::2], app_args[2::2]))["--bundle"] == "Documents/reusevos/bundles/b1"
    copies = [c for c in calls if c[:3] == ["device", "copy", "to"]]
    assert [c[c.index("--destination") + 1] for c in copies] == [
        "Documents/reusevos/clip/frames", "Documents/reusevos/clip/mask.png", "Documents/reusevos/bundles/b1"]
    with pytest.raises(InputError, match="--device ios:UDID"):
        IosDevice(udid=None).measure(plan, tmp_path / "work")


def test_a_phone_tool_that_is_not_installed_is_named(monkeypatch, tmp_path):
    from reusevos_edge.bench.android import AndroidDevice

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match="'adb' is not on PATH"):
        AndroidDevice().info()


def test_a_result_missing_keys_names_the_device_and_bundle():
    with pytest.raises(InputError, match=r"android b1: the measurement lacks \['name'"):
        bundle_result({}, tables=None, subgraph_precision={}, memory_kind="PSS", where="android b1")
    assert np.isfinite(Latency.from_ms([1.0, 2.0]).fps)


# ---------------------------------------------------------------- tau calibrated to the device
def test_choose_takes_the_best_jf_among_settings_that_meet_the_target():
    from reusevos_edge.bench.calibrate import SweepRow, Target, choose

    rows = [SweepRow(1.0, 1, 80.0, 0.0, 50.0, 52.0), SweepRow(0.5, 1, 78.0, 0.5, 30.0, 36.0),
            SweepRow(0.7, 2, 79.0, 0.45, 33.0, 29.0), SweepRow(0.4, 2, 70.0, 0.6, 25.0, 25.0)]
    assert choose(rows, Target(reuse=0.4)).tau == 0.7
    assert choose(rows, Target(latency_ms=31.0)).tau == 0.5
    with pytest.raises(InputError, match="closest is tau 0.4"):
        choose(rows, Target(reuse=0.9))
    with pytest.raises(InputError, match="exactly one of --reuse-target"):
        Target(reuse=0.3, latency_ms=10.0)


def test_frame_cost_model_separates_computed_and_reused_objects_from_machine_drift():
    from types import SimpleNamespace

    from reusevos_edge.bench.calibrate import FrameCosts, steady_frames
    from reusevos_edge.tracker.state import FrameRecord, ObjectRecord

    # frame = 2 ms + 10 ms per computed object + 4 ms per reused one, measured with +-1 ms of noise
    rng = np.random.default_rng(0)
    frames = [(c, r, 0.002 + 0.010 * c + 0.004 * r + rng.uniform(-1e-3, 1e-3))
              for c, r in [(1, 0), (0, 1), (2, 0), (1, 1), (0, 2), (3, 1)] * 20]
    costs = FrameCosts.fit(frames)
    assert costs.seconds(1, 0) == pytest.approx(0.012, abs=5e-4) and costs.seconds(0, 2) == pytest.approx(0.010, abs=5e-4)
    # one object throughout: base and per-object costs are not separable, their sums are
    single = FrameCosts.fit([(1, 0, 0.012), (0, 1, 0.006), (1, 0, 0.014), (0, 1, 0.004)])
    assert single.seconds(1, 0) == pytest.approx(0.013) and single.seconds(0, 1) == pytest.approx(0.005)
    # steady frames: the first frame is left out, a frame that starts an object is flagged
    def record(**decisions):
        return FrameRecord(index=0, objects={int(k[1:]): ObjectRecord(p_gate=None, decision=v) for k, v in decisions.items()})
    run = SimpleNamespace(records=[record(o1="init"), record(o1="compute"), record(o1="reuse", o2="init")],
                          seconds=[0.3, 0.02, 0.2])
    assert steady_frames(run) == [(1, 0, False, 0.02), (0, 1, True, 0.2)]


def test_calibrate_tau_writes_the_choice_into_the_manifest_and_the_bundle_still_verifies(
        onnx_bundle, tmp_path, capsys):
    import shutil

    from reusevos_edge.data.synthetic import make_clip
    from reusevos_edge.runtime.bundle import load_bundle_runner
    from conftest import write_davis_tree

    root = write_davis_tree(tmp_path / "davis", {
        "a": make_clip(num_frames=5, height=H, width=W, speed_px=1.0, seed=1),
        "b": make_clip(num_frames=5, height=H, width=W, speed_px=3.0, seed=2),
        "c": make_clip(num_frames=5, height=H, width=W, speed_px=2.0, seed=3)}, res="288p", split="train")
    bundle = tmp_path / "bundle"
    shutil.copytree(onnx_bundle, bundle)
    argv = ["--bundle", str(bundle), "--calibrate-tau", "--reuse-target", "0.3", "--calibration", str(root),
            "--calibration-split", "train", "--taus", "0,0.5,1", "--keyframe-bounds", "2", "--no-progress"]
    before = (bundle / "manifest.json").read_text()
    assert bench_cli.main([*argv[:3], "--reuse-target", "0.99", *argv[5:]]) == 2  # tau 0 with bound 2 reuses 2/3
    assert "no swept setting reaches reuse rate >= 0.99" in capsys.readouterr().err
    assert (bundle / "manifest.json").read_text() == before  # nothing written when nothing qualifies
    assert bench_cli.main(argv) == 0, capsys.readouterr().err
    assert "chose tau" in capsys.readouterr().out
    manifest = load_bundle_runner(bundle).manifest  # checksums renewed: the bundle still verifies
    record = manifest["tracker_calibration"]
    assert record["sequences"] == ["a", "b", "c"] and len(record["sweep"]) == 3
    assert manifest["tracker"]["tau"] == record["chosen"]["tau"] and manifest["tracker"]["keyframe_bound"] == 2
    assert record["chosen"]["reuse_rate"] >= 0.3 and record["chosen"]["tau"] < 1.0


def test_a_phone_that_is_not_connected_is_named(monkeypatch, tmp_path):
    from reusevos_edge.bench.android import AndroidDevice

    _fake_tool(tmp_path / "bin", "adb", "#!PYTHON\nimport sys\nsys.stderr.write(\"adb: device 'XYZ' not found\\n\")\n"
               "sys.exit(1)\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(InputError, match="android device XYZ: `adb -s XYZ get-state` failed \\(exit 1\\): "
                                         "adb: device 'XYZ' not found"):
        AndroidDevice(serial="XYZ").info()
