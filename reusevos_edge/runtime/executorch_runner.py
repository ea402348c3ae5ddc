"""ExecuTorch runner for an ``executorch`` bundle: one ``model.pte``, one method per subgraph."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import require
from .bundle import BundleRunner


class ExecuTorchRunner(BundleRunner):
    """Runs methods of ``model.pte`` (XNNPACK + portable kernels); all methods load up front.

    ``num_threads`` is accepted for a uniform interface; XNNPACK sizes its own thread pool.
    """

    def __init__(self, bundle_dir: Path, manifest: dict, *, num_threads: int | None = None) -> None:
        super().__init__(bundle_dir, manifest)
        runtime = require("executorch.runtime", extra="executorch", purpose="running an ExecuTorch bundle")
        self._torch = require("torch", extra="executorch", purpose="running an ExecuTorch bundle")
        program = runtime.Runtime.get().load_program(str(self.bundle_dir / manifest["artifact"]))
        # every method loads now: no load cost inside a timed frame
        self._methods = {name: program.load_method(name) for name in self.subgraphs}

    def _execute(self, name: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        outs = self._methods[name].execute([self._torch.from_numpy(a) for a in arrays])
        return [o.detach().numpy().copy() for o in outs]
