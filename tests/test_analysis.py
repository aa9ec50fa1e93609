"""Per-layer analysis against numbers worked out by hand (DESIGN.md's counting conventions)."""

from __future__ import annotations

import io

import numpy as np
import pytest

import profondo
from profondo import nn
from profondo.analysis import analyze, summary
from profondo.nn.graph import Add, Concat, Graph

pytest.importorskip("yaml")
from profondo.architecture import zoo  # noqa: E402  (the zoo's files are YAML)


def rows(a):
    return {r.name: (r.output_shape, r.neurons, r.connections, r.weights, r.macs) for r in a.layers}


def test_lecture_conv_example():
    # 32x32x3 input, 6 filters 5x5, stride 1, pad 0: (32 - 5)/1 + 1 = 28 -> 28x28x6
    a = analyze(nn.Sequential(nn.Conv2d(3, 6, 5)), (3, 32, 32))
    (r,) = a.layers
    assert r.output_shape == (6, 28, 28)
    assert r.neurons == 28 * 28 * 6 == 4704
    assert r.connections == 4704 * 5 * 5 * 3 == 352_800  # each neuron reads a 5x5x3 window
    assert r.weights == 6 * 75 + 6 == 456                # shared filters + one bias each
    assert r.macs == 352_800 and r.flops == 705_600
    assert a.neurons == 3072 + 4704 and a.weighted_neurons == 4704


def test_lenet5_by_hand():
    a = analyze(zoo.load("lenet5"))
    assert rows(a) == {
        # conv1: 6 filters 5x5x1, pad 2 keeps 28x28: 4704 neurons x 25 inputs; 6*25 + 6 weights
        "conv1": ((6, 28, 28), 4704, 117_600, 156, 117_600),
        "conv1_relu": ((6, 28, 28), 0, 0, 0, 0),
        "pool1": ((6, 14, 14), 1176, 1176 * 4, 0, 0),  # 2x2 windows
        # conv2: 16 filters 5x5x6: (14 - 5)/1 + 1 = 10; 1600 x 150 connections; 16*150 + 16 weights
        "conv2": ((16, 10, 10), 1600, 240_000, 2416, 240_000),
        "conv2_relu": ((16, 10, 10), 0, 0, 0, 0),
        "pool2": ((16, 5, 5), 400, 1600, 0, 0),
        "fc1_flatten": ((400,), 0, 0, 0, 0),
        "fc1": ((120,), 120, 48_000, 48_120, 48_000),  # 400*120 + 120
        "fc1_relu": ((120,), 0, 0, 0, 0),
        "fc2": ((84,), 84, 10_080, 10_164, 10_080),     # 120*84 + 84
        "fc2_relu": ((84,), 0, 0, 0, 0),
        "fc3": ((10,), 10, 840, 850, 840),              # 84*10 + 10
    }
    assert a.weights == 156 + 2416 + 48_120 + 10_164 + 850 == 61_706
    assert a.neurons == 784 + 4704 + 1176 + 1600 + 400 + 120 + 84 + 10 == 8878
    assert a.weighted_neurons == 4704 + 1600 + 120 + 84 + 10 == 6518
    assert a.connections == 117_600 + 4704 + 240_000 + 1600 + 48_000 + 10_080 + 840 == 422_824
    assert a.macs == 416_520 and a.flops == 833_040
    # float32 bytes of the input and of every output but the flatten (a view)
    assert a.memory == 4 * (784 + 2 * 4704 + 1176 + 2 * 1600 + 400 + 2 * 120 + 2 * 84 + 10) == 61_544


def test_convnetjs_cifar10_table():
    a = analyze(zoo.load("convnetjs-cifar10"))
    assert rows(a) == {
        "conv1": ((16, 32, 32), 16_384, 16_384 * 75, 16 * 75 + 16, 1_228_800),  # 5x5x3 windows, pad 2
        "conv1_relu": ((16, 32, 32), 0, 0, 0, 0),
        "pool1": ((16, 16, 16), 4096, 4096 * 4, 0, 0),
        "conv2": ((20, 16, 16), 5120, 5120 * 400, 20 * 400 + 20, 2_048_000),     # 5x5x16
        "conv2_relu": ((20, 16, 16), 0, 0, 0, 0),
        "pool2": ((20, 8, 8), 1280, 1280 * 4, 0, 0),
        "conv3": ((20, 8, 8), 1280, 1280 * 500, 20 * 500 + 20, 640_000),         # 5x5x20
        "conv3_relu": ((20, 8, 8), 0, 0, 0, 0),
        "pool3": ((20, 4, 4), 320, 1280, 0, 0),
        "dense1_flatten": ((320,), 0, 0, 0, 0),
        "dense1": ((10,), 10, 3200, 3210, 3200),
    }
    assert a.weights == 1216 + 8020 + 10_020 + 3210 == 22_466


@pytest.fixture(scope="module")
def alexnet():
    return zoo.load("alexnet")


@pytest.fixture(scope="module")
def vgg16():
    return zoo.load("vgg16")


def test_alexnet_totals(alexnet):
    a = analyze(alexnet)
    # (filters x size*size x input depth / groups) + biases, at 227 -> 55 -> 27 -> 13 -> 6
    weights = [96 * 11 * 11 * 3 + 96,        # conv1   34,944
               256 * 5 * 5 * 48 + 256,       # conv2   307,456   (groups 2: 96/2 = 48 input channels)
               384 * 3 * 3 * 256 + 384,      # conv3   885,120
               384 * 3 * 3 * 192 + 384,      # conv4   663,936   (groups 2)
               256 * 3 * 3 * 192 + 256,      # conv5   442,624   (groups 2)
               9216 * 4096 + 4096,           # fc6     37,752,832  (6*6*256 = 9216 inputs)
               4096 * 4096 + 4096,           # fc7     16,781,312
               4096 * 1000 + 1000]           # fc8     4,097,000
    assert a.weights == sum(weights) == 60_965_224
    assert [r.weights for r in a.layers if r.weights] == weights
    macs = [55 * 55 * 96 * 363, 27 * 27 * 256 * 1200, 13 * 13 * 384 * 2304, 13 * 13 * 384 * 1728,
            13 * 13 * 256 * 1728, 9216 * 4096, 4096 * 4096, 4096 * 1000]
    lrn = [5 * 27 * 27 * 96, 5 * 13 * 13 * 256]  # norm1, norm2: the squares of 5 channels per element
    assert a.macs == sum(macs) + sum(lrn) == 724_406_816 + 566_240
    assert [r.macs for r in a.layers if r.name in ("norm1", "norm2")] == lrn
    assert [r.weights for r in a.layers if r.name in ("norm1", "norm2")] == [0, 0]


def test_vgg16_totals(vgg16):
    a = analyze(vgg16)
    convs = [(224, 3, 64), (224, 64, 64), (112, 64, 128), (112, 128, 128), (56, 128, 256), (56, 256, 256),
             (56, 256, 256), (28, 256, 512), (28, 512, 512), (28, 512, 512), (14, 512, 512), (14, 512, 512),
             (14, 512, 512)]  # (output size, input depth, filters), 3x3 pad 1
    fcs = [(7 * 7 * 512, 4096), (4096, 4096), (4096, 1000)]
    weights = sum(9 * i * o + o for _, i, o in convs) + sum(i * o + o for i, o in fcs)
    macs = sum(s * s * o * 9 * i for s, i, o in convs) + sum(i * o for i, o in fcs)
    assert a.weights == weights == 138_357_544
    assert a.macs == macs == 15_470_264_320  # ~15.5 GMACs, ~30.9 GFLOPs
    assert a.layers[-1].output_shape == (1000,)


@pytest.mark.parametrize("name", zoo.names())
def test_weights_are_the_parameters_of_the_built_module(name, alexnet, vgg16):
    m = {"alexnet": alexnet, "vgg16": vgg16}.get(name) or zoo.load(name)
    a = analyze(m)
    assert a.weights == sum(r.weights for r in a.layers) == sum(p.numel() for p in m.parameters())
    assert a.trainable_weights == a.weights
    assert a.output_shape == m.output_shape(m.spec.input)


def test_graph_and_nested_containers():
    block = Graph([("conv", nn.Conv2d(4, 4, 3, padding=1), "input"), ("bn", nn.BatchNorm2d(4), "conv"),
                   ("sum", Add(), ["bn", "input"]), ("cat", Concat(1), ["sum", "input"])], outputs="cat")
    net = nn.Sequential(nn.Sequential(nn.Conv2d(1, 4, 1), nn.ReLU()), block, nn.GlobalAvgPool2d())
    a = analyze(net, (1, 6, 6))
    assert [(r.name, r.inputs) for r in a.layers] == [
        ("0.0", ()), ("0.1", ()), ("1.conv", ("input",)), ("1.bn", ("conv",)), ("1.sum", ("bn", "input")),
        ("1.cat", ("sum", "input")), ("2", ())]
    r = rows(a)
    assert r["1.conv"] == ((4, 6, 6), 144, 144 * 36, 4 * 36 + 4, 144 * 36)
    assert r["1.bn"] == ((4, 6, 6), 0, 0, 8, 144)          # scale and shift: one MAC per element
    assert r["1.sum"] == ((4, 6, 6), 144, 288, 0, 0)        # each output reads two inputs
    assert r["1.cat"] == ((8, 6, 6), 0, 0, 0, 0)
    assert r["2"] == ((8,), 8, 8 * 36, 0, 0)                 # a window of the whole 6x6 map
    assert a.weights == sum(p.numel() for p in net.parameters())


def test_frozen_weights_and_other_layers():
    net = nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(40, 3))
    net[0].requires_grad_(False)
    a = analyze(net, (5,))
    assert rows(a)["0"] == ((5, 8), 40, 0, 400, 0)  # a lookup: neurons and weights, no connections
    assert a.weights == 400 + 123 and a.trainable_weights == 123


def test_errors_name_the_layer():
    class NoShape(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(NotImplementedError, match=r"analysis of 1 \(NoShape\) with input \[4\]"):
        analyze(nn.Sequential(nn.ReLU(), NoShape()), (4,))
    with pytest.raises(ValueError, match=r"analysis of 0 \(Linear\) with input \[5\]"):
        analyze(nn.Sequential(nn.Linear(4, 2)), (5,))
    with pytest.raises(ValueError, match="pass input_shape"):
        analyze(nn.Sequential(nn.Linear(4, 2)))


def test_summary_prints_and_returns_the_table(capsys):
    out = io.StringIO()
    text = summary(zoo.load("lenet5"), file=out)
    assert out.getvalue() == text + "\n"
    lines = text.splitlines()
    assert lines[0] == "Model: lenet5, input (1, 28, 28), output (10,)"
    conv1 = next(line for line in lines if line.startswith("conv1 "))
    assert conv1.split() == ["conv1", "Conv2d", "(6,", "28,", "28)", "4,704", "117,600", "156", "117,600", "18.4",
                             "KiB"]
    assert "Neurons:           8,878 (input 784 + layers 8,094); in layers with weights: 6,518" in lines
    assert "Weights:           61,706 (trainable 61,706, non-trainable 0), 241.0 KiB" in lines
    assert "Connections:       422,824" in lines
    assert any(line.startswith("MACs:              416,520 (416.52 k); FLOPs: 833,040") for line in lines)
    widths = {len(line) for line in lines[1:4]}
    assert len(widths) == 1  # the rules are as wide as the header
    profondo.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3))
    assert net.summary((4,)) == capsys.readouterr().out.rstrip("\n")  # Module.summary prints it too
    assert "Weights:           15 " in net.summary((4,))


def test_summary_of_a_graph_lists_the_inputs():
    text = summary(zoo.load("resnet-small"), file=io.StringIO())
    assert "Inputs" in text.splitlines()[2]
    add = next(line for line in text.splitlines() if line.startswith("s1_add"))
    assert add.endswith("s1_bn2, stem_out") and "32,768" in add
    assert np.isclose(float(text.split("Weights:")[1].split()[0].replace(",", "")), 78_042)


def test_recurrent_layers_by_hand():
    profondo.manual_seed(0)
    net = nn.Sequential(nn.Embedding(100, 16), nn.Recurrent("lstm", 16, 32, 2, bidirectional=True, output="sequence"),
                        nn.Recurrent("rnn", 64, 8, nonlinearity="relu"))
    a = analyze(net, (10,))
    # LSTM: 4 gates x hidden x (inputs + hidden) per direction per layer and step:
    # layer 0: 2 x 4*32*(16 + 32) = 12,288; layer 1 reads both directions (64): 2 x 4*32*(64 + 32) = 24,576
    lstm_step = 2 * 4 * 32 * (16 + 32) + 2 * 4 * 32 * (64 + 32)
    assert lstm_step == 36_864 == net[1].macs_per_step()
    # weights: W_ih, W_hh and two biases of 4*32 rows, per direction and layer
    lstm_weights = 2 * (128 * 16 + 128 * 32 + 2 * 128) + 2 * (128 * 64 + 128 * 32 + 2 * 128)
    rnn_step = 8 * (64 + 8)  # one gate
    assert rows(a) == {
        "0": ((10, 16), 160, 0, 100 * 16, 0),  # a lookup: no MACs
        "1": ((10, 64), 640, 10 * lstm_step, lstm_weights, 10 * lstm_step),
        "2": ((8,), 8, 10 * rnn_step, 8 * 64 + 8 * 8 + 16, 10 * rnn_step),
    }
    assert lstm_weights == 37_888 and a.weights == 1600 + 37_888 + 592 == sum(p.numel() for p in net.parameters())
    assert (a.layers[1].macs_per_step, a.layers[1].steps) == (36_864, 10)
    text = summary(net, (10,), file=io.StringIO())
    assert "Recurrent 1: 36,864 MACs per time step x 10 steps = 368,640" in text.splitlines()
    assert "Recurrent 2: 576 MACs per time step x 10 steps = 5,760" in text.splitlines()


def test_imdb_bigru_by_hand():
    a = analyze(zoo.load("imdb-bigru"))
    gru_step = 2 * 3 * 64 * (64 + 64)  # both directions, 3 gates (r, z, n) of 64 over 64 inputs + 64 hidden
    assert rows(a) == {
        "embedding1": ((400, 64), 25_600, 0, 20_002 * 64, 0),
        "gru1": ((128,), 128, 400 * gru_step, 2 * (192 * 64 + 192 * 64 + 2 * 192), 400 * gru_step),  # max over steps
        "dense1": ((2,), 2, 256, 258, 256),
    }
    assert gru_step == 49_152 and a.macs == 19_660_800 + 256 and a.weights == 1_280_128 + 49_920 + 258


def test_a_subclassed_module_is_traced_layer_by_layer():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 8 * 8, 10)

        def forward(self, x):
            x = self.conv(x).relu()
            return self.fc(x.reshape(x.shape[0], -1))

    net = Net()
    traced = analyze(net, (1, 8, 8))
    chain = analyze(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10)),
                    (1, 8, 8))
    assert [r.name for r in traced.layers] == ["conv", "fc"] and traced.output_shape == (10,)
    assert (traced.connections, traced.macs, traced.weights) == (chain.connections, chain.macs, chain.weights)
    assert "conv" in net.summary((1, 8, 8)) and net.training  # the mode is put back


def test_running_statistics_are_listed_as_non_trainable(capsys):
    text = summary(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)), (1, 8, 8))
    assert "plus 8 non-trainable running statistics (batch norm's mean and variance)" in text


def test_recurrent_rows_name_the_cell_direction_and_output():
    net = nn.Sequential(nn.Embedding(20, 8), nn.Recurrent("gru", 8, 16, num_layers=2, bidirectional=True,
                                                          output="max"))
    assert analyze(net, (5,)).layers[1].kind == "GRU, bidirectional, 2 layers, output max"
    assert analyze(nn.Sequential(nn.LSTM(8, 16, batch_first=True)), (5, 8)).layers[0].kind == "LSTM"
