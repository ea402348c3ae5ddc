"""Send what third-party libraries print (warnings, C++ logs, progress) to a log file instead of the terminal.

The exporters' toolchains (torch.export, torchao, ExecuTorch, litert-torch, coremltools, torch.onnx)
print dozens of lines of their own, some from native code; the user sees this package's lines and
finds the rest in the log. Redirection is at the file-descriptor level so native output is caught too.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def output_to(log_path: Path | None) -> Iterator[None]:
    """Within the block, stdout and stderr (file descriptors 1 and 2) append to ``log_path``; None: unchanged."""
    if log_path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(log_path, "a") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
