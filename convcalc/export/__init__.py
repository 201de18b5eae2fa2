"""From an analysed spec to a framework: PyTorch source (``torch_source``), the weights of a
``convcalc run --seed`` pass in PyTorch's layout (``weights``), and an ONNX model
(``onnx_model``).

A stage after the engine: it reads the analysis's rows (names, arguments, shapes) and the
engine's weights. Nothing here is imported by ``check``; the ONNX writer imports ``onnx``
only when called.
"""
