"""An iPhone over ``xcrun devicectl`` (Xcode 16 or later, on a Mac): install the demo app, copy the
bundle and the clip into its container, launch its benchmark mode with arguments and wait for it to
exit (``--console``), copy the result back.

Readings the app takes itself: memory is its peak physical footprint (``task_vm_info``), energy
proxies its own CPU time; ``ProcessInfo.thermalState`` is recorded before and after. iOS exposes no
energy counter to apps, so the measured energy is None with that reason.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..errors import InputError
from .phone import APP_ID, AppFailed, app_arguments, app_result, require_bundle, run_tool, write_clip_files
from .protocol import BenchPlan
from .schema import DeviceInfo

CONTAINER = "Documents/reusevos"


class IosDevice:
    kind = "ios"
    runs_eager = False

    def __init__(self, *, udid: str | None = None, app: Path | None = None, app_id: str = APP_ID) -> None:
        self.udid, self.app, self.app_id = udid, app, app_id
        self.clip_remote: tuple[str, str, int] | None = None
        self.copied: set[Path] = set()  # bundles already in the app's container (one bundle may run at several taus)

    def devicectl(self, *args: str, what: str, timeout: float = 600) -> str:
        return run_tool(["xcrun", "devicectl", *args], what=what, timeout=timeout)

    def _device(self) -> list[str]:
        if self.udid is None:
            raise InputError("--device ios needs the phone's identifier: --device ios:UDID "
                             "(xcrun devicectl list devices)")
        return ["--device", self.udid]

    def info(self) -> DeviceInfo:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "devices.json"
            self.devicectl("list", "devices", "--json-output", str(out), what="listing iOS devices")
            devices = json.loads(out.read_text())["result"]["devices"]
        for d in devices:
            hw = d.get("hardwareProperties", {})
            if self.udid in (d.get("identifier"), hw.get("udid"), d.get("deviceProperties", {}).get("name")):
                return DeviceInfo(kind=self.kind, model=hw.get("marketingName") or hw.get("productType", "iPhone"),
                                  os=f"iOS {d.get('deviceProperties', {}).get('osVersionNumber', '?')}",
                                  cpu=hw.get("cpuType", {}).get("name", "unknown"), cpu_count=None, thermal=None,
                                  cpu_freq_mhz=None, notes=["thermal state: recorded by the app per result"])
        raise InputError(f"--device ios:{self.udid}: no such device in `xcrun devicectl list devices`")

    def copy_to(self, source: Path, destination: str, what: str) -> None:
        self.devicectl("device", "copy", "to", *self._device(), "--domain-type", "appDataContainer",
                       "--domain-identifier", self.app_id, "--source", str(source), "--destination", destination,
                       what=what, timeout=1800)

    def prepare(self, workdir: Path, plans: list[BenchPlan]) -> list[str]:
        if self.app is not None:
            self.devicectl("device", "install", "app", *self._device(), str(self.app), what=f"installing {self.app}")
        frames, mask, count = write_clip_files(plans[0], workdir / "clip")
        self.copy_to(frames, f"{CONTAINER}/clip/frames", "copying the clip")
        self.copy_to(mask, f"{CONTAINER}/clip/mask.png", "copying the first mask")
        self.clip_remote = (f"{CONTAINER}/clip/frames", f"{CONTAINER}/clip/mask.png", count)
        return []

    def measure(self, plan: BenchPlan, workdir: Path) -> dict:
        bundle = Path(require_bundle(plan, "an iPhone"))
        remote_bundle = f"{CONTAINER}/bundles/{bundle.name}"
        if bundle not in self.copied:
            self.copy_to(bundle, remote_bundle, f"copying {bundle}")
            self.copied.add(bundle)
        frames, mask, count = self.clip_remote
        out = f"{plan.name}.json"
        args = []
        for key, value in app_arguments(plan, bundle=remote_bundle, frames=frames, mask=mask, count=count,
                                        out=out).items():
            args += [f"--{key}", str(value)]
        # "--" ends devicectl's options: the app's own "--bundle ..." must not be parsed as devicectl's.
        try:
            self.devicectl("device", "process", "launch", *self._device(), "--terminate-existing", "--console",
                           "--", self.app_id, *args, what=f"running the benchmark of {plan.name}", timeout=3600)
        except InputError as launch_failed:  # the app exits nonzero after writing {"error": ...}: report that
            try:
                self.fetch(plan.name, out, workdir)
            except AppFailed as app_error:
                raise app_error from None
            except InputError:
                pass
            raise launch_failed from None
        return self.fetch(plan.name, out, workdir)

    def fetch(self, name: str, out: str, workdir: Path) -> dict:
        """The app's result ``out``, copied back from its container."""
        local = workdir / out
        self.devicectl("device", "copy", "from", *self._device(), "--domain-type", "appDataContainer",
                       "--domain-identifier", self.app_id, "--source", f"{CONTAINER}/bench/{out}",
                       "--destination", str(local), what=f"copying {out} back")
        try:
            text = local.read_text()
        except OSError as exc:
            raise InputError(f"{name}: the app's result {CONTAINER}/bench/{out} is unreadable ({exc})") from None
        result = app_result(text, name=name, where=f"{CONTAINER}/bench/{out}")
        result["notes"] = [*result.get("notes", []),
                           f"iOS app benchmark mode; thermal state {result.get('thermal_state', 'not recorded')}"]
        return result

    def finish(self) -> list[str]:
        return []
