"""Quantization-aware training (tiny model): the fake-quantized heads train, checkpoints carry the
quantization state and rebuild the same int8 programs, DDP ranks end identical, and QAT / float
checkpoints are refused by the wrong export with one clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reusevos_edge.data.clip import parity_clip
from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.model.registry import build_model
from reusevos_edge.tracker.config import TrackerConfig

H, W = 64, 96
REPO_ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.backend


@pytest.fixture(scope="module")
def qat():
    """A tiny model, its calibrated QAT programs and one synthetic clip cached with the int8 backbone."""
    pytest.importorskip("executorch.backends.xnnpack.quantizer.xnnpack_quantizer")
    from reusevos_edge.quant.calibration import calibrated_programs
    from reusevos_edge.training.feature_cache import cache_sequence

    model = build_model("tiny", use_default_checkpoint=False, seed=0)
    programs = calibrated_programs(model, [parity_clip(height=H, width=W, num_frames=6)], height=H, width=W,
                                   config=TrackerConfig(), target="executorch", qat=True)
    frames, masks = make_clip(num_frames=8, height=48, width=72, speed_px=3.0, seed=1)
    seq = cache_sequence(model, "clip", frames, masks, height=H, width=W, backbone=programs.backbone())
    enabled = [int(v) for k, v in programs.prepared["match_gate"].state_dict().items() if k.endswith("observer_enabled")]
    assert enabled and all(enabled)  # caching int8 features froze the backbone's observers, not the heads'
    return model, programs, seq


def _loss(model, programs, seq):
    from reusevos_edge.training.unroll import unroll_clip

    return unroll_clip(model, seq, [0, 1, 2, 3], tau=0.5, m=0.0, m2=0.0, heads=programs.heads()).total


def test_qat_heads_are_the_models_own_fake_quantized_weights(qat):
    model, programs, _ = qat
    params = {id(p) for p in programs.head_parameters()}
    assert params and params <= {id(p) for p in model.parameters()}
    assert not params & {id(p) for p in model.backbone_parameters()}
    ops = {str(n.target) for n in programs.prepared["match_gate"].graph.nodes}
    assert any("fake_quantize" in op for op in ops) or any(
        "FakeQuantize" in type(m).__name__ for m in programs.prepared["match_gate"].modules())


def test_one_qat_step_lowers_the_loss(qat):
    model, programs, seq = qat
    before = {id(p): p.detach().clone() for p in programs.head_parameters()}
    opt = torch.optim.SGD(programs.head_parameters(), lr=0.05)
    loss = _loss(model, programs, seq)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    with torch.no_grad():
        after = _loss(model, programs, seq)
        for p in programs.head_parameters():  # leave the shared fixture as it was
            p.copy_(before[id(p)])
    assert float(after) < float(loss)


def test_the_qat_gate_follows_its_float_teacher(qat):
    """The gate's teacher term is zero when student and teacher are the same float heads, positive (and
    small) for the fake-quantized heads, and training never moves the frozen teacher."""
    from reusevos_edge.training.trainer import frozen_heads
    from reusevos_edge.training.unroll import unroll_clip

    model, programs, seq = qat
    teacher = frozen_heads(model)
    same = unroll_clip(model, seq, [0, 1, 2, 3], tau=0.5, m=0.0, m2=0.0, teacher=teacher)
    assert float(same.gate) == 0.0
    iou_target = unroll_clip(model, seq, [0, 1, 2, 3], tau=0.5, m=0.0, m2=0.0)
    assert float(iou_target.gate) > 0.0  # without a teacher the IoU-margin loss applies
    quantized = unroll_clip(model, seq, [0, 1, 2, 3], tau=0.5, m=0.0, m2=0.0, heads=programs.heads(), teacher=teacher)
    assert 0.0 < float(quantized.gate) < 0.01
    teacher_params = {id(p) for head in teacher.values() for p in head.parameters()}
    assert teacher_params and not teacher_params & {id(p) for p in model.parameters()}  # a copy, frozen
    assert not any(p.requires_grad for head in teacher.values() for p in head.parameters())
    assert all(p.requires_grad for p in programs.head_parameters())


def test_the_mask_teacher_makes_the_float_models_outputs_the_targets(qat):
    """With the mask teacher the float model's own heads reproduce their targets (delta term zero, mask
    term its targets' entropy: lower than against the labels), the fake-quantized heads are close to them,
    and one step on the distillation loss lowers it."""
    from reusevos_edge.training.trainer import frozen_heads
    from reusevos_edge.training.unroll import unroll_clip

    model, programs, seq = qat
    teacher = frozen_heads(model)
    run = lambda **kw: unroll_clip(model, seq, [0, 1, 2, 3], tau=0.5, m=0.0, m2=0.0, teacher=teacher, **kw)  # noqa: E731
    same, labels = run(mask_teacher=True), run()
    assert float(same.delta) == 0.0 and float(same.gate) == 0.0
    assert float(same.bce) != float(labels.bce)
    quantized = run(mask_teacher=True, heads=programs.heads())
    assert 0.0 < float(quantized.delta) < 0.01
    before = {id(p): p.detach().clone() for p in programs.head_parameters()}
    opt = torch.optim.SGD(programs.head_parameters(), lr=0.05)
    (quantized.bce + quantized.delta + quantized.gate).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    with torch.no_grad():
        after = run(mask_teacher=True, heads=programs.heads())
        for p in programs.head_parameters():  # leave the shared fixture as it was
            p.copy_(before[id(p)])
    assert float(after.total) < float(quantized.total)


def test_the_lowered_int8_backbone_computes_its_pytorch_reference(qat, tmp_path):
    """QAT caches features with the backbone lowered to ExecuTorch (XNNPACK int8): the same features as the
    converted PyTorch programs to within a couple of quantization steps, under a cache tag of their own."""
    model, programs, _ = qat
    x = torch.rand(2, 3, H, W, generator=torch.Generator().manual_seed(3))
    eager, lowered = programs.backbone()(x), programs.backbone(lowered_in=tmp_path)(x)
    assert [t.shape for t in lowered] == [t.shape for t in eager]
    for ref, got in zip(eager, lowered):
        assert float((got - ref).abs().max()) <= 0.05 * float(ref.abs().max())
    assert programs.backbone_tag(lowered=True) != programs.backbone_tag()


def test_qat_checkpoint_round_trip_keeps_weights_and_scales(qat, tmp_path):
    from reusevos_edge.model.checkpoint import read_checkpoint_info, read_quantization
    from reusevos_edge.model.subgraphs import build_subgraphs
    from reusevos_edge.quant.programs import QuantizedPrograms
    from reusevos_edge.training.trainer import TrainConfig, Trainer

    model, programs, seq = qat
    Trainer(model=model, data=[seq], config=TrainConfig(epochs=1, clips_per_epoch=1, batch=1, clip_len=3),
            out=tmp_path, progress=False, programs=programs).train()
    path = tmp_path / "last.safetensors"
    info = read_checkpoint_info(path)["quantization"]
    assert info["method"] == "qat" and info["recipe"] == "executorch"
    assert info["activation_scales"]["match_gate"]  # per-tensor (scale, zero point) pairs, readable JSON
    with pytest.raises(Exception, match="int8 QAT checkpoint"):
        build_model("tiny", checkpoint=path)  # a float user of the weights is told what they are
    again = build_model("tiny", checkpoint=path, quantized=True)
    rebuilt = QuantizedPrograms.prepare(build_subgraphs(again, height=H, width=W), target="executorch", qat=True)
    rebuilt.load_state_dict(read_quantization(path), source=str(path))
    want, got = programs.convert(), rebuilt.convert()
    for a, b in zip(want, got):
        inputs = a.example_inputs()
        for x, y in zip(a.module(*inputs), b.module(*inputs)):
            assert torch.equal(x, y), a.name


def test_qat_state_of_another_model_is_one_clear_error(qat):
    from reusevos_edge.errors import InputError

    _, programs, _ = qat
    state = programs.state_dict()
    state.pop(next(iter(state)))
    with pytest.raises(InputError, match="do not fit the executorch int8 recipe"):
        programs.load_state_dict(state, source="x")


def test_ddp_qat_two_ranks_end_identical(tmp_path):
    pytest.importorskip("executorch.backends.xnnpack.quantizer.xnnpack_quantizer")
    from safetensors.torch import load_file

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "reusevos_edge.training.ddp_smoke", str(tmp_path), "--qat"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    scales = [k for k in r0 if k.startswith("quant.") and k.endswith(".scale")]
    assert scales and set(r0) == set(r1)
    for key in r0:
        assert torch.equal(r0[key], r1[key]), key
    assert (tmp_path / "out" / "last.safetensors").is_file()


@pytest.mark.parametrize("precision, needle", [
    ("fp32", "is an int8 QAT checkpoint: export it with --precision int8"),
    ("int8", None),
])
def test_export_refuses_the_wrong_kind_of_checkpoint(precision, needle, tmp_path, capsys):
    """A QAT checkpoint given to a float export, and a float checkpoint to an int8 export without --calibrate."""
    from reusevos_edge.cli.export import main
    from reusevos_edge.model.checkpoint import save_checkpoint

    model = build_model("tiny", use_default_checkpoint=False)
    path = tmp_path / "ckpt.safetensors"
    quant = {"quant.match_gate.activation_post_process_0.scale": torch.ones(1)} if precision == "fp32" else None
    save_checkpoint(model, path, quantization=quant)
    argv = ["--target", "executorch", "--precision", precision, "--model", "tiny", "--checkpoint", str(path),
            "--size", f"{H}x{W}", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    needle = needle or f"--checkpoint {path} holds no int8 quantization parameters; pass --calibrate DAVIS_ROOT"
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_qat_programs_export_to_onnx_with_uint8_activations(qat, tmp_path):
    """A QAT checkpoint's programs carry XNNPACK's recipe (int8 activations); the ONNX exporter moves
    them to uint8 exactly, so ONNX Runtime fuses QLinearConv and still computes the fake-quant result."""
    pytest.importorskip("onnxruntime")
    import onnx

    from reusevos_edge.converters import parity
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.converters.targets import validate_options
    from reusevos_edge.runtime.bundle import load_bundle_runner
    from reusevos_edge.runtime.torch_runner import TorchRunner

    model, programs, _ = qat
    converted = programs.convert()
    opts = validate_options(target="onnx", model="tiny", height=H, width=W, precision="int8", out_dir=tmp_path)
    bundle = export_bundle(opts, model=model, subgraphs=converted, tracker_config=TrackerConfig(),
                           quantization={"method": "qat"})
    graph = onnx.load(str(bundle.path / "match_gate.onnx"))
    inits = {i.name: i for i in graph.graph.initializer}
    zps = [inits[n.input[2]].data_type for n in graph.graph.node if n.op_type == "QuantizeLinear"]
    assert zps and set(zps) == {onnx.TensorProto.UINT8}
    runner = load_bundle_runner(bundle.path)
    fake_quant = TorchRunner(model=model, height=H, width=W, subgraphs=converted)
    feeds = {sg.name: {spec.name: x.numpy() for spec, x in zip(sg.inputs, sg.example_inputs())} for sg in converted}
    worst = max(d.max_rel for d in parity.compare_subgraphs(runner, fake_quant, feeds))
    assert worst < 0.05  # float biases: ONNX Runtime quantizes them itself, a step at most


def test_int8_export_defaults_to_the_bundled_qat_checkpoint():
    """lite0 ships a QAT checkpoint: ``--precision int8`` needs neither --checkpoint nor --calibrate."""
    from reusevos_edge.cli.export import _int8_source, build_parser
    from reusevos_edge.model.checkpoint import is_quantized, read_checkpoint_info
    from reusevos_edge.model.registry import default_checkpoint

    args = build_parser().parse_args(["--target", "executorch", "--precision", "int8"])
    path = _int8_source(args, "lite0")
    assert path == default_checkpoint("lite0", precision="int8") and is_quantized(path)
    info = read_checkpoint_info(path)
    assert info["quantization"]["method"] == "qat" and info["tracker"] == read_checkpoint_info(
        default_checkpoint("lite0"))["tracker"]
    assert not is_quantized(default_checkpoint("lite0"))
    from reusevos_edge.cli.export import _qat_lowerable
    from reusevos_edge.targets import TARGETS

    assert _qat_lowerable(list(TARGETS), path, single=False) == list(TARGETS)  # LiteRT too: its recorded ranges


def test_head_observers_follow_ranges_until_frozen(qat):
    """Caching int8 backbone features freezes the backbone's observers only; the heads' freeze on schedule."""
    _, programs, _ = qat
    state = lambda name: {k: v for k, v in programs.prepared[name].state_dict().items()  # noqa: E731
                          if k.endswith("observer_enabled")}
    assert all(int(v) == 0 for v in state("backbone_low").values())
    programs.freeze_observers()
    assert all(int(v) == 0 for v in state("match_gate").values())


def test_litert_refuses_a_qat_checkpoint_without_recorded_parameters(tmp_path, capsys):
    """LiteRT's recipe needs parameters the QAT recipe does not have: a checkpoint that does not record
    them is one clear error before any work."""
    from reusevos_edge.cli.export import main
    from reusevos_edge.model.checkpoint import save_checkpoint

    path = tmp_path / "qat.safetensors"
    save_checkpoint(build_model("tiny", use_default_checkpoint=False), path,
                    quantization={"quant.match_gate.activation_post_process_0.scale": torch.ones(1)})
    assert main(["--target", "tflite", "--precision", "int8", "--model", "tiny", "--checkpoint", str(path),
                 "--size", f"{H}x{W}", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "cannot export the QAT checkpoint qat.safetensors: it records no parameters" in err
    assert "--calibrate DAVIS_ROOT" in err
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def transferred(qat):
    """LiteRT's recipe over the tiny QAT model with the QAT parameters carried over (``quant.transfer``);
    what its recipe quantizes beyond them recorded from a calibration run."""
    pytest.importorskip("litert_torch")
    from reusevos_edge.quant.programs import QuantizedPrograms
    from reusevos_edge.quant.transfer import record_for_checkpoint, transfer

    model, programs, _ = qat
    clip = parity_clip(height=H, width=W, num_frames=6)
    recorded = record_for_checkpoint(programs, model, [clip], config=TrackerConfig(), height=H, width=W)
    assert sorted(recorded) == ["tflite"]  # the one target that does not lower the QAT programs
    recorded = recorded["tflite"]
    own = QuantizedPrograms.prepare(programs.subgraphs, target="tflite")
    report = transfer(programs, own, recorded=recorded)
    return model, programs, own, report, recorded


def _activation_scales(program) -> set[float]:
    """The per-tensor scales of ``program``'s activation observers (weights left out)."""
    from reusevos_edge.quant.programs import STATE_MARK, _qparams

    out = set()
    for node in program.graph.nodes:
        if node.op == "call_module" and STATE_MARK in node.target and node.args[0].op != "get_attr":
            scale, _ = _qparams(program.get_submodule(node.target))
            if scale.numel() == 1:  # (a QAT conv's BatchNorm-scaled weight is a per-channel computed tensor)
                out.add(round(float(scale), 6))
    return out


def test_litert_recipe_takes_the_qat_parameters(transferred):
    """Every activation observer of LiteRT's recipe gets a QAT parameter (most of them the same tensor's);
    the recorded ones are only tensors the QAT recipe leaves float; without them it is one clear error."""
    from reusevos_edge.errors import InputError
    from reusevos_edge.quant.programs import QuantizedPrograms
    from reusevos_edge.quant.transfer import transfer

    _, programs, own, report, recorded = transferred
    assert not report.missing and report.weights > 0
    assert report.same_tensor > 10 * max(report.recorded, 1)
    assert recorded and all(key.split("/")[0] in own.prepared for key in recorded)
    for name, program in own.prepared.items():
        theirs = _activation_scales(programs.prepared[name])
        recorded_here = {round(s, 6) for key, (s, _) in recorded.items() if key.startswith(f"{name}/")}
        assert _activation_scales(program) <= theirs | {round(1 / 256, 6)} | recorded_here, name  # + sigmoid's fixed
    fresh = QuantizedPrograms.prepare(programs.subgraphs, target="tflite")
    with pytest.raises(InputError, match=r"do not cover \d+ tensors of the tflite int8 recipe .*--calibrate"):
        transfer(programs, fresh, recorded={})


def test_litert_bundle_of_a_qat_checkpoint_tracks_like_the_qat_programs(transferred, tmp_path, int8_parity):
    """The .tflite of the transferred programs computes them (int8 parity floors), and tracks like the
    ExecuTorch recipe's QAT programs it took its parameters from."""
    pytest.importorskip("ai_edge_litert")
    from reusevos_edge.converters import parity
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.converters.targets import validate_options
    from reusevos_edge.runtime.torch_runner import TorchRunner

    model, programs, own, report, _ = transferred
    converted = own.convert()
    opts = validate_options(target="tflite", model="tiny", height=H, width=W, precision="int8", out_dir=tmp_path)
    bundle = export_bundle(opts, model=model, subgraphs=converted, tracker_config=TrackerConfig(),
                           quantization={"method": "qat", "transfer": report.to_json()})
    feeds = {sg.name: [{spec.name: x.numpy() for spec, x in zip(sg.inputs, sg.example_inputs())}] for sg in converted}
    worst = int8_parity(bundle.path, model, converted, feeds, TrackerConfig(tau=0.0, keyframe_bound=2))
    assert max(worst.values()) < 0.04, worst  # a few int8 steps (measured 0.019)
    xnnpack = TorchRunner(model=model, height=H, width=W, subgraphs=programs.convert())
    litert = TorchRunner(model=model, height=H, width=W, subgraphs=converted)
    report = parity.measure_parity(litert, xnnpack, parity_clip(height=H, width=W, num_frames=8), TrackerConfig())
    assert report.mean_iou >= 0.95, report.summary()
