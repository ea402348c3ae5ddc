"""int8 post-training quantization (tiny model): per-subgraph precision, the fake-quantized PyTorch
programs against the ExecuTorch int8 program, tracking parity, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from reusevos_edge.model.registry import build_model
from reusevos_edge.model.subgraphs import build_subgraphs
from reusevos_edge.quant.precision import FLOAT_SUBGRAPHS, INT8_SUBGRAPHS, precision_table
from reusevos_edge.runtime.torch_runner import TorchRunner
from reusevos_edge.tracker.config import TrackerConfig

H, W = 64, 96
CONFIG = TrackerConfig(tau=0.0, keyframe_bound=2, update_every=2)


def test_the_precision_table_covers_the_contract():
    names = [sg.name for sg in build_subgraphs(build_model("tiny"), height=H, width=W)]
    assert sorted(INT8_SUBGRAPHS + FLOAT_SUBGRAPHS) == sorted(names)
    table = precision_table(names, "int8")
    assert {n for n, p in table.items() if p == "fp32"} == {"score_init", "score_refit", "score_gen", "score_update"}
    assert set(precision_table(names, "fp32").values()) == {"fp32"}


@pytest.fixture(scope="module")
def quantized(tiny_calibration):
    pytest.importorskip("executorch.backends.xnnpack.quantizer.xnnpack_quantizer")
    from reusevos_edge.quant.ptq import quantize_subgraphs

    model, subgraphs, _, feeds = tiny_calibration
    assert set(INT8_SUBGRAPHS) <= set(feeds)  # the reuse path ran too
    return model, subgraphs, quantize_subgraphs(subgraphs, feeds, target="executorch"), feeds


@pytest.mark.backend
def test_fake_quant_programs_are_quantized_and_close_to_float(quantized):
    model, float_graphs, int8_graphs, feeds = quantized
    fp32 = TorchRunner(model=model, height=H, width=W, subgraphs=float_graphs)
    int8 = TorchRunner(model=model, height=H, width=W, subgraphs=int8_graphs)
    for sg in int8_graphs:
        ops = {str(n.target) for n in sg.module.graph.nodes} if sg.name in INT8_SUBGRAPHS else set()
        assert (sg.name in INT8_SUBGRAPHS) == any("quantize_per" in op for op in ops), sg.name
        got, ref = int8.run(sg.name, feeds[sg.name][0]), fp32.run(sg.name, feeds[sg.name][0])
        for name in ref:
            scale = max(float(np.abs(ref[name]).max()), 1e-6)
            assert float(np.abs(got[name] - ref[name]).max()) / scale < 0.25, (sg.name, name)


@pytest.mark.backend
def test_executorch_int8_bundle_matches_its_fake_quant_programs(quantized, tmp_path, int8_parity):
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.converters.targets import validate_options

    model, float_graphs, int8_graphs, feeds = quantized
    opts = validate_options(target="executorch", model="tiny", height=H, width=W, precision="int8", out_dir=tmp_path)
    bundle = export_bundle(opts, model=model, subgraphs=int8_graphs, tracker_config=CONFIG,
                           quantization={"method": "ptq"})
    manifest = bundle.manifest
    assert bundle.path.name == "tiny_64x96_int8_executorch" and manifest["precision"] == "int8"
    assert manifest["subgraph_precision"]["backbone_low"] == "int8"
    assert manifest["subgraph_precision"]["score_gen"] == "fp32"
    assert manifest["quantization"] == {"method": "ptq"}
    image = next(e for e in manifest["subgraphs"] if e["name"] == "backbone_low")["inputs"][0]
    assert image["dtype"] == "int8" and "int8 u - 128" in manifest["normalisation"]["host"]  # the frame as codes
    worst = int8_parity(bundle.path, model, int8_graphs, feeds, CONFIG)
    # the reference adds the kernels' int32 biases (quant.integer_bias): the backbone is bit-exact here and
    # the rest within two int8 steps (measured 0.0078); with float biases this needed 0.05
    assert worst["backbone_low"] == worst["backbone_high"] == 0.0, worst
    assert max(worst.values()) < 0.02, worst


@pytest.mark.parametrize("argv, needle", [
    (["--target", "executorch", "--precision", "int8"],
     "--precision int8: --model tiny ships no int8 quantization parameters; pass --calibrate DAVIS_ROOT"),
    (["--target", "onnx", "--precision", "int4"], "--precision 'int4' is unknown"),
    (["--target", "executorch", "--calibrate", "x"], "--calibrate x: only --precision int8 is calibrated"),
])
def test_int8_bad_input_is_one_error_before_work(argv, needle, tmp_path, capsys):
    from reusevos_edge.cli.export import main

    assert main([*argv, "--model", "tiny", "--untrained", "--size", f"{H}x{W}", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_int8_calibration_folder_without_frames(tmp_path, capsys):
    from reusevos_edge.cli.export import main

    empty = tmp_path / "davis"
    (empty / "JPEGImages" / "288p").mkdir(parents=True)
    (empty / "ImageSets" / "288p").mkdir(parents=True)
    (empty / "ImageSets" / "288p" / "train.txt").write_text("")
    assert main(["--target", "executorch", "--precision", "int8", "--calibrate", str(empty), "--model", "tiny",
                 "--untrained", "--size", f"{H}x{W}", "--out", str(tmp_path / "o")]) == 2
    assert "split holds no frames" in capsys.readouterr().err


@pytest.mark.backend
def test_conv_relu6_is_quantized_once_after_the_clamp():
    """XNNPACK's quantizer alone quantizes conv outputs on their full range before ReLU6; ours after the clamp."""
    pytest.importorskip("executorch.backends.xnnpack.quantizer.xnnpack_quantizer")
    import torch

    from reusevos_edge.model.subgraph import Subgraph, TensorSpec
    from reusevos_edge.quant.ptq import quantize_subgraph
    from reusevos_edge.quant.xnnpack import xnnpack_quantizer

    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU6()]
    for _ in range(3):
        layers += [torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU6()]
    net = torch.nn.Sequential(*layers).eval()
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Conv2d):
                m.weight.mul_(4.0)  # wide pre-activation ranges, as in a trained backbone

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, image):
            return (self.net(image),)

    sg = Subgraph("net", Net().eval(), (TensorSpec("image", (1, 3, 16, 16)),), (TensorSpec("out", (1, 16, 16, 16)),))
    feeds = [{"image": torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(i)).numpy()} for i in range(4)]
    q = quantize_subgraph(sg, feeds, xnnpack_quantizer())
    targets = [str(n.target) for n in q.module.graph.nodes if n.op == "call_function"]
    hardtanh = [i for i, t in enumerate(targets) if "hardtanh" in t]
    assert len(hardtanh) == 4 and all("quantize_per_tensor" in targets[i + 1] for i in hardtanh)
    assert all("conv" in targets[i - 1] for i in hardtanh)  # no quantize between conv and clamp
    x = torch.from_numpy(feeds[0]["image"])
    ref, got = net(x), q.module(x)[0]
    assert float((got - ref).abs().mean()) < 0.03 * float(ref.abs().mean())


@pytest.mark.backend
def test_a_padded_stride2_conv_keeps_its_pad_inside_the_int8_conv(tmp_path):
    """EfficientNet-Lite's 'SAME' stride-2 convs pad explicitly: the conv reads the pad on the pad input's
    scale, so the requantization between them is an exact identity that the exporter folds away."""
    pytest.importorskip("executorch.backends.xnnpack.quantizer.xnnpack_quantizer")
    import copy
    import dataclasses

    import torch

    from conftest import stride2_block
    from reusevos_edge.quant.ptq import quantize_subgraph
    from reusevos_edge.quant.xnnpack import fold_pad_requantize, xnnpack_quantizer

    sg, feeds = stride2_block(32, 32)
    q = quantize_subgraph(sg, feeds, xnnpack_quantizer())
    nodes = [n for n in q.module.graph.nodes if n.op == "call_function"]
    (pad,) = [n for n in nodes if "pad" in str(n.target)]
    (requant,) = pad.users
    assert tuple(requant.args[1:]) == tuple(pad.args[0].args[1:])  # the pad input's scale and zero point
    folded = copy.deepcopy(q.module)
    assert fold_pad_requantize(folded) == 1
    assert [str(u.target) for n in folded.graph.nodes if "pad" in str(n.target) for u in n.users] == [
        "aten.conv2d.default"]
    x = torch.from_numpy(feeds[0]["x"])
    assert torch.equal(folded(x)[0], q.module(x)[0])
    from executorch.runtime import Runtime

    from reusevos_edge.converters.executorch_export import PTE_NAME, export_executorch

    result = export_executorch([dataclasses.replace(sg, module=q.module)], tmp_path, precision="int8")
    assert result.undelegated_ops["block"] == []
    method = Runtime.get().load_program(tmp_path / PTE_NAME).load_method("block")
    got, ref = method.execute([x])[0], q.module(x)[0]
    out_scale = [n for n in nodes if str(n.target) == "quantized_decomposed.quantize_per_tensor.default"][-1].args[1]
    assert float((got - ref).abs().max()) <= 2 * out_scale  # XNNPACK's rounding: at most a step or two


@pytest.mark.backend
def test_the_reference_adds_the_int32_biases_the_int8_kernels_add(tmp_path):
    """XNNPACK holds a conv's bias as int32 at input scale x weight scale; the PyTorch reference rounds
    its biases to that grid (``quant.integer_bias``) and then computes what the kernel computes, where
    the float biases PT2E leaves make it part from the kernel on many more outputs."""
    pytest.importorskip("executorch.backends.xnnpack.quantizer.xnnpack_quantizer")
    import copy
    import dataclasses

    import torch
    from executorch.runtime import Runtime
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    from conftest import stride2_block
    from reusevos_edge.converters.executorch_export import PTE_NAME, export_executorch
    from reusevos_edge.quant import integer_bias
    from reusevos_edge.quant.programs import prepare_program
    from reusevos_edge.quant.xnnpack import xnnpack_quantizer

    sg, feeds = stride2_block(32, 32)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # trained-looking BatchNorm statistics: folded into the convs, nonzero biases
        for bn in (m for m in sg.module.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.copy_(torch.randn(bn.num_features, generator=gen))
            bn.bias.copy_(torch.randn(bn.num_features, generator=gen))
    prepared = prepare_program(sg, xnnpack_quantizer(), qat=False)
    with torch.no_grad():
        for feed in feeds:
            prepared(torch.from_numpy(feed["x"]))
    float_bias = convert_pt2e(copy.deepcopy(prepared))
    rounded = integer_bias.convert(copy.deepcopy(prepared))
    assert integer_bias.round_biases(copy.deepcopy(float_bias)) == 3  # expand, depthwise, project convs
    methods = {}
    for name, module in (("rounded", rounded), ("float", float_bias)):
        (tmp_path / name).mkdir()
        export_executorch([dataclasses.replace(sg, module=module)], tmp_path / name, precision="int8")
        methods[name] = Runtime.get().load_program(tmp_path / name / PTE_NAME).load_method("block")
    for feed in feeds:  # the lowering quantizes both biases to the same int32: the same program
        x = torch.from_numpy(feed["x"])
        assert torch.equal(methods["rounded"].execute([x])[0], methods["float"].execute([x])[0])
    x = torch.from_numpy(feeds[0]["x"])
    got = methods["rounded"].execute([x])[0]
    differing = {name: float(((got - module(x)[0]).abs() > 1e-6).float().mean())
                 for name, module in (("rounded", rounded), ("float", float_bias))}
    # measured here: rounded 0 (bit-identical), float 0.27 % of the outputs a step off
    assert differing["rounded"] <= 0.001 and differing["float"] > 2 * differing["rounded"], differing
