"""The one device interface of ``reusevos-bench`` and ``--device`` parsing.

A device has ``kind``, ``runs_eager`` (whether it can run the PyTorch reference row), ``memory_kind``
(what its memory reading is) and four calls: ``info() -> DeviceInfo``, ``prepare(workdir, plans) ->
warnings`` (install, push the clip), ``measure(plan, workdir) -> measurement dict`` (one bundle through
the protocol, the keys of ``assemble.MEASUREMENT_KEYS``) and ``finish() -> warnings``. A third kind of
device is one more class with those members.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..errors import InputError
from .protocol import BenchPlan
from .schema import DeviceInfo

MEMORY_KIND = {
    "host": "peak RSS of the process that ran the bundle (VmHWM; getrusage where /proc is not readable)",
    "android": "peak PSS of the app, sampled during the run (Debug.getPss)",
    "ios": "peak physical footprint of the app (task_vm_info phys_footprint)",
}


class Device(Protocol):
    kind: str
    runs_eager: bool

    def info(self) -> DeviceInfo: ...

    def prepare(self, workdir: Path, plans: list[BenchPlan]) -> list[str]: ...

    def measure(self, plan: BenchPlan, workdir: Path) -> dict: ...

    def finish(self) -> list[str]: ...


def open_device(spec: str, *, apk: Path | None = None, app: Path | None = None) -> Device:
    """``host``, ``android[:SERIAL]`` or ``ios[:UDID]`` (``apk`` / ``app``: install this build first)."""
    kind, _, ident = spec.partition(":")
    if kind == "host" and not ident:
        from .host import HostDevice

        return HostDevice()
    if kind == "android":
        from .android import AndroidDevice

        return AndroidDevice(serial=ident or None, apk=apk)
    if kind == "ios":
        from .ios import IosDevice

        return IosDevice(udid=ident or None, app=app)
    raise InputError(f"--device {spec}: expected host, android[:SERIAL] or ios[:UDID]")
