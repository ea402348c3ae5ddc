"""ExecuTorch backend for an ``executorch`` bundle: one ``.pte``, one method per subgraph."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from ..model.subgraph import Subgraph


class ExecuTorchBackend:
    """Runs methods of the bundle's ``.pte`` (XNNPACK + portable kernels); all methods load up front.

    ``num_threads`` sizes ExecuTorch's thread pool, which is one per process (XNNPACK otherwise takes
    one thread per core): the last bundle opened with a thread count sets it for all.
    """

    def __init__(self, *, bundle_dir: Path, manifest: dict, subgraphs: Mapping[str, Subgraph],
                 num_threads: int | None = None) -> None:
        import torch
        from executorch.runtime import Runtime

        if num_threads:
            set_executorch_threads(num_threads)
        self._from_numpy = torch.from_numpy
        program = Runtime.get().load_program(str(bundle_dir / manifest["artifact"]))
        # every method loads now: no load cost inside a timed frame
        self.methods = {name: program.load_method(name) for name in subgraphs}

    def execute(self, name: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """The outputs as NumPy views of the tensors ExecuTorch returns: its Python binding copies each
        output out of the method's planned memory into a fresh tensor, so a later call never changes
        them (``tests/test_converters.py``) and a second copy here cost 0.4 ms per lite0 frame."""
        outs = self.methods[name].execute([self._from_numpy(a) for a in arrays])
        return [o.detach().numpy() for o in outs]


def set_executorch_threads(threads: int) -> None:
    """Size ExecuTorch's process-wide thread pool (XNNPACK's threads) to ``threads``."""
    from executorch.extension.pybindings import portable_lib

    if portable_lib._threadpool_get_thread_count() != threads:
        portable_lib._unsafe_reset_threadpool(threads)
