"""An Android phone over ``adb``: push the bundle and the clip, start the demo app's benchmark mode with
intent extras, wait for it to exit, read its result; battery state before and after.

Readings: memory is the app's PSS (``Debug.getPss``, sampled by the app); energy is the battery's
charge counter (µAh x voltage) sampled by the app, meaningful only on battery power: a phone on USB
or AC power charges while it runs, so every run on one gets a loud warning (use adb over Wi-Fi:
``adb tcpip 5555; adb connect PHONE_IP``, then unplug). ``perfetto.pbtxt`` in the run folder records
the battery counters and power rails (Pixel 6 and later) for a deeper look.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from ..errors import InputError
from .phone import APP_ID, app_arguments, app_result, require_bundle, run_tool, write_clip_files
from .protocol import BenchPlan
from .schema import DeviceInfo

REMOTE = "/data/local/tmp/reusevos"
POLL_S = 2.0
RUN_TIMEOUT_S = 3600
PERFETTO_CONFIG = """\
duration_ms: 600000
buffers { size_kb: 8192 fill_policy: RING_BUFFER }
data_sources { config { name: "android.power" android_power_config {
    battery_poll_ms: 250
    battery_counters: BATTERY_COUNTER_CAPACITY_PERCENT
    battery_counters: BATTERY_COUNTER_CHARGE
    battery_counters: BATTERY_COUNTER_CURRENT
    collect_power_rails: true } } }
"""
POWER_KEYS = ("AC powered", "USB powered", "Wireless powered", "Dock powered")


class AndroidDevice:
    kind = "android"
    runs_eager = False

    def __init__(self, *, serial: str | None = None, apk: Path | None = None, app_id: str = APP_ID) -> None:
        self.serial, self.apk, self.app_id = serial, apk, app_id
        self.clip_remote: tuple[str, str, int] | None = None
        self.pushed: set[Path] = set()  # bundles already on the phone (one bundle may run at several taus)

    def adb(self, *args: str, what: str, timeout: float = 600) -> str:
        serial = ["-s", self.serial] if self.serial else []
        return run_tool(["adb", *serial, *args], what=what, timeout=timeout)

    def info(self) -> DeviceInfo:
        self.adb("get-state", what=f"android device {self.serial or '(the only one connected)'}")  # connected?
        prop = lambda key: self.adb("shell", "getprop", key, what="android device").strip()  # noqa: E731
        thermal = re.search(r"Thermal Status: (\d+)", self.adb("shell", "dumpsys", "thermalservice", what="thermal"))
        freqs = self.adb("shell", "cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq", what="cpu frequencies")
        khz = [int(v) for v in freqs.split() if v.isdigit()]
        return DeviceInfo(kind=self.kind, model=f"{prop('ro.product.manufacturer')} {prop('ro.product.model')}",
                          os=f"Android {prop('ro.build.version.release')} (API {prop('ro.build.version.sdk')})",
                          cpu=prop("ro.soc.model") or prop("ro.board.platform"), cpu_count=len(khz) or None,
                          thermal=None if thermal is None else f"thermal status {thermal.group(1)} (0 none .. 6 shutdown)",
                          cpu_freq_mhz=[k / 1e3 for k in khz] or None)

    def prepare(self, workdir: Path, plans: list[BenchPlan]) -> list[str]:
        """Install the app (``apk``), push the clip once, write the Perfetto config; warnings for the user."""
        if self.apk is not None:
            self.adb("install", "-r", str(self.apk), what=f"installing {self.apk}")
        frames, mask, count = write_clip_files(plans[0], workdir / "clip")
        self.adb("shell", "mkdir", "-p", f"{REMOTE}/clip", f"{REMOTE}/bundles", what="android device")
        self.adb("push", str(frames), str(mask), f"{REMOTE}/clip/", what="pushing the clip", timeout=1800)
        self.clip_remote = (f"{REMOTE}/clip/frames", f"{REMOTE}/clip/mask.png", count)
        (workdir / "perfetto.pbtxt").write_text(PERFETTO_CONFIG)
        return self.power_warnings("before the run")

    def power_warnings(self, when: str) -> list[str]:
        battery = parse_battery(self.adb("shell", "dumpsys", "battery", what="battery state"))
        powered = [k for k in POWER_KEYS if battery.get(k) == "true"]
        if not powered:
            return []
        return [f"WARNING {when}: the phone is on external power ({', '.join(powered)}): it charges while it runs, so "
                "battery readings are meaningless. Use adb over Wi-Fi (adb tcpip 5555; adb connect PHONE_IP) and unplug."]

    def measure(self, plan: BenchPlan, workdir: Path) -> dict:
        bundle = Path(require_bundle(plan, "an Android phone"))
        remote_bundle = f"{REMOTE}/bundles/{bundle.name}"
        if bundle not in self.pushed:
            self.adb("push", str(bundle), f"{REMOTE}/bundles/", what=f"pushing {bundle}", timeout=1800)
            self.pushed.add(bundle)
        frames, mask, count = self.clip_remote
        out = f"{plan.name}.json"
        extras = []
        for key, value in app_arguments(plan, bundle=remote_bundle, frames=frames, mask=mask, count=count,
                                        out=out).items():
            flag = "--ei" if isinstance(value, int) else "--ef" if isinstance(value, float) else "--es"
            extras += [flag, key, str(value)]
        self.adb("shell", "am", "start", "-W", "-S", "-n", f"{self.app_id}/.BenchmarkActivity", *extras,
                 what=f"starting the benchmark of {plan.name}")
        self.wait_for_exit(plan.name)
        text = self.adb("exec-out", "run-as", self.app_id, "cat", f"files/bench/{out}", what=f"reading {out}")
        return app_result(text, name=plan.name, where=f"files/bench/{out}")

    def wait_for_exit(self, name: str) -> None:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        # pidof exits 1 once the app is gone, and adb shell passes that on: "|| true" keeps it a plain answer
        while self.adb("shell", f"pidof {self.app_id} || true", what="android device").strip():
            if time.monotonic() > deadline:
                raise InputError(f"{name}: the app still runs after {RUN_TIMEOUT_S} s")
            time.sleep(POLL_S)

    def finish(self) -> list[str]:
        return self.power_warnings("after the run")


def parse_battery(text: str) -> dict[str, str]:
    """``dumpsys battery`` -> {key: value} ("AC powered": "false", "level": "87", ...)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and value.strip():
            out[key.strip()] = value.strip()
    return out
