"""Import ONNX models as trainable profondo networks (needs ``pip install onnx``).

Every ONNX node becomes a module, built from the one table :data:`CONVERTERS` (op type ->
:class:`Converter`): the layers of :mod:`profondo.nn` where one matches (Conv -> Conv2d, Gemm
or MatMul[+Add] with constant weights -> Linear, BatchNormalization -> BatchNorm1d/2d, pools,
activations, Flatten, Dropout, Gather of a table -> Embedding, LSTM/GRU ->
:class:`OnnxLSTM`/:class:`OnnxGRU`), and :class:`OnnxOp` for the rest (arithmetic with
broadcasting, Reshape, Transpose, Concat, Gather, Shape, ...). Float initializers become
Parameters (trainable), Constant nodes buffers; nodes whose inputs are all constant are
folded at import. A chain of nodes becomes a ``Sequential``, a graph of one input a
:class:`~profondo.nn.graph.Graph` with one node per ONNX node, and any other graph (several
inputs, an output that is an input or a constant) an :class:`OnnxGraph`, which takes its
inputs by position or by name. Every attribute is checked against the entry's ``attrs``
before anything is built: what is not supported is named with the node, attribute and value. A model written by
:func:`~profondo.io.onnx_export.export_onnx` comes back with its module names, state-dict
keys and ``spec`` (so :func:`profondo.architecture.to_dict` writes its architecture file).

>>> net = import_onnx("model.onnx")                 # or bytes, or an onnx.ModelProto
>>> loss = F.cross_entropy(net(x), y); loss.backward()   # trainable

Files: ``converters.py`` (the table), ``ops.py`` (operators on Tensors), ``layers.py``
(nodes to profondo layers), ``recurrent.py`` (LSTM/GRU in ONNX's layout), ``onnx_op.py``
(the general node), ``windows.py`` (pooling and convolutions in ONNX's general forms),
``attributes.py`` (the attribute checks), ``graph.py`` (:class:`OnnxGraph`), ``importer.py``
(the graph walk).
"""

from .context import OnnxImportError, UnsupportedOperatorError
from .converters import CONVERTERS, OPS, SUPPORTED, Converter, supported_ops
from .graph import OnnxGraph
from .importer import import_onnx
from .onnx_op import OnnxOp
from .recurrent import OnnxGRU, OnnxLSTM

__all__ = ["CONVERTERS", "OPS", "SUPPORTED", "Converter", "OnnxGRU", "OnnxGraph", "OnnxImportError", "OnnxLSTM", "OnnxOp",
           "UnsupportedOperatorError", "import_onnx", "supported_ops"]
