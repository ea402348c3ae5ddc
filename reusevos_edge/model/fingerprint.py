"""Which weights a bundle holds: the fingerprint written into ``manifest.json`` and its check.

Light on purpose (hashlib only, no backend): the exporter writes ``model.weights_sha256`` with
:func:`weights_fingerprint`; wherever a bundle is used next to a PyTorch model (parity against
eager, a CLI given ``--bundle`` and ``--checkpoint``), :func:`check_bundle_weights` refuses a
bundle exported from other weights. Running a bundle on its own needs only the file checksums.
"""

from __future__ import annotations

import hashlib
import logging

from ..errors import InputError
from .config import HeadConfig

log = logging.getLogger(__name__)


class WeightsMismatchError(InputError):
    """A bundle was exported from other weights than the PyTorch model it is used with."""


def weights_fingerprint(model) -> str:
    """sha256 over the model's floating-point state (names and raw bytes, sorted): which weights a bundle holds.

    Integer buffers (BatchNorm's ``num_batches_tracked``) are left out: checkpoints do not store them, so
    a model fresh from training and the same weights reloaded from its checkpoint get one fingerprint.
    The decoder's reach (``config.head.residual_bound``) and the object gate's window are no tensors but
    change what the programs compute: each is hashed too where it differs from the default (so fingerprints
    taken before they existed hold).
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if not tensor.is_floating_point():
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    bound = model.config.head.residual_bound
    if bound != HeadConfig.residual_bound:
        digest.update(f"residual_bound={float(bound)!r}".encode())
    if model.config.head.gate == "object":
        digest.update(f"gate_window={model.config.head.gate_window}".encode())
    return digest.hexdigest()


def check_bundle_weights(manifest: dict, model, *, bundle: str | None = None, checkpoint: str | None = None,
                         missing_ok: bool = False) -> str | None:
    """Raise WeightsMismatchError unless ``model`` has the weights the bundle's manifest records.

    ``bundle`` (its folder) and ``checkpoint`` (what ``model`` was loaded from; None: the caller's
    in-memory model) only make the message precise. A manifest without ``weights_sha256`` cannot be
    checked: with ``missing_ok`` that is logged and None returned, else it raises. Returns the fingerprint.
    """
    info = manifest.get("model") or {}
    expected = info.get("weights_sha256")
    where = f"bundle {str(bundle)!r}" if bundle is not None else "the bundle"
    theirs = f"checkpoint {str(checkpoint)!r}" if checkpoint is not None else "the PyTorch model"
    if not expected:
        message = f"{where}: its manifest records no weights_sha256, so it cannot be checked against {theirs}"
        if missing_ok:
            log.warning("%s", message)
            return None
        raise WeightsMismatchError(f"{message}; re-export the bundle")
    got = weights_fingerprint(model)
    if got != expected:
        source = info.get("checkpoint")
        exported_from = (f"checkpoint {source!r} (sha256 {info.get('checkpoint_sha256')})" if source
                         else "no checkpoint (initial weights)")
        raise WeightsMismatchError(
            f"{where} holds other weights than {theirs}: manifest weights_sha256 {expected} "
            f"(exported from {exported_from}, variant {info.get('variant')!r}) != {got} computed from {theirs}; "
            "re-export the bundle from these weights or compare it with the checkpoint it was exported from"
        )
    return got
