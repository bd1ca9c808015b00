"""Generates the ONNX models that Sluice's PREDICT tests and benchmark use, and the
outputs Python onnxruntime computes for them on fixed inputs (the tests' reference).

Usage: python gen_test_models.py OUT_DIR

Writes OUT_DIR/<model>.onnx for each model below and OUT_DIR/references.json:
{ model: { "inputs": {input name: rows}, "outputs": {output name: rows},
           "alone": {output name: rows, each row predicted by itself} } }.
Everything is seeded, so the files are the same on every run.

Models:
  logreg      scikit-learn LogisticRegression, 4 features -> label, probabilities[3]
  forest      scikit-learn RandomForestClassifier, same interface
  mlp         scikit-learn MLPRegressor, 4 features -> variable[1]
  mlp_int8    mlp quantized to int8 by onnxruntime.quantization.quantize_dynamic
  bench_mlp   a wider MLP (10 -> 256 -> 128 -> 1) for the PREDICT benchmark
  bench_mlp_int8  bench_mlp quantized to int8
  cnn         a small CNN over [3, 8, 8] images -> scores[3] (onnx.helper)
  qnet        a Q-network, state[4] -> q_values[2] (onnx.helper)
  qnet_fixed8 the same network with a fixed batch dimension of 8
  qnet_v2     a Q-network with the same interface and other weights (a model swap)
  two_inputs  inputs a[2] and b[1] -> y (shape [batch]): y = a . w + b
"""

import json
import logging
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from skl2onnx import to_onnx
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPRegressor

OPSET = 17
ML_OPSET = 3
ROWS = 16


def classification_data(rng):
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = (x[:, 0] + 2 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return x, y


def regression_data(rng, features=4):
    x = rng.normal(size=(400, features)).astype(np.float32)
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, -1]
    return x, y


def sklearn_model(path, model, sample):
    onx = to_onnx(
        model,
        sample[:1],
        options={id(model): {"zipmap": False}} if hasattr(model, "predict_proba") else None,
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
    )
    onnx.save(onx, path)


def dense(name, rng, fan_in, fan_out):
    weight = (rng.normal(size=(fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32)
    bias = rng.normal(scale=0.1, size=(fan_out,)).astype(np.float32)
    return [
        numpy_helper.from_array(weight, f"{name}_w"),
        numpy_helper.from_array(bias, f"{name}_b"),
    ]


def save_graph(path, nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, os.path.basename(path), inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def qnet(path, rng, batch):
    weights = dense("l1", rng, 4, 16) + dense("l2", rng, 16, 2)
    nodes = [
        helper.make_node("Gemm", ["state", "l1_w", "l1_b"], ["h"]),
        helper.make_node("Relu", ["h"], ["h_relu"]),
        helper.make_node("Gemm", ["h_relu", "l2_w", "l2_b"], ["q_values"]),
    ]
    save_graph(
        path,
        nodes,
        [helper.make_tensor_value_info("state", TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info("q_values", TensorProto.FLOAT, [batch, 2])],
        weights,
    )


def cnn(path, rng):
    conv_w = rng.normal(scale=0.3, size=(4, 3, 3, 3)).astype(np.float32)
    conv_b = rng.normal(scale=0.1, size=(4,)).astype(np.float32)
    weights = [
        numpy_helper.from_array(conv_w, "conv_w"),
        numpy_helper.from_array(conv_b, "conv_b"),
    ] + dense("fc", rng, 4, 3)
    nodes = [
        helper.make_node("Conv", ["image", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["c_relu"]),
        helper.make_node("GlobalAveragePool", ["c_relu"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["scores"]),
    ]
    save_graph(
        path,
        nodes,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3])],
        weights,
    )


def two_inputs(path, rng):
    w = rng.normal(size=(2, 1)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["a", "w"], ["aw"]),
        helper.make_node("Add", ["aw", "b"], ["sum"]),
        helper.make_node("Squeeze", ["sum", "axes"], ["y"]),
    ]
    save_graph(
        path,
        nodes,
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 2]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 1]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch"])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([1], np.int64), "axes")],
    )


def reference(path, inputs):
    """The outputs for all rows in one batch ("outputs") and for each row predicted
    alone ("alone"): they differ where the model's result depends on the batch
    (mlp_int8's dynamic quantization)."""
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    results = session.run(names, inputs)
    rows = len(next(iter(inputs.values())))
    alone = [
        session.run(names, {name: value[row : row + 1] for name, value in inputs.items()})
        for row in range(rows)
    ]
    return {
        "inputs": {name: value.tolist() for name, value in inputs.items()},
        "outputs": {name: value.tolist() for name, value in zip(names, results)},
        "alone": {
            name: np.concatenate([one[i] for one in alone]).tolist()
            for i, name in enumerate(names)
        },
    }


def main():
    # Convergence and "pre-process before quantizing" notices are expected here.
    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.ERROR)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.RandomState(7)
    references = {}
    probe = rng.normal(size=(ROWS, 4)).astype(np.float32)

    x, y = classification_data(rng)
    for name, model in [
        ("logreg", LogisticRegression(max_iter=500)),
        ("forest", RandomForestClassifier(n_estimators=10, max_depth=5, random_state=7)),
    ]:
        path = os.path.join(out, f"{name}.onnx")
        sklearn_model(path, model.fit(x, y), x)
        references[name] = reference(path, {"X": probe})

    x, y = regression_data(rng)
    mlp = MLPRegressor(hidden_layer_sizes=(16, 8), max_iter=800, random_state=7).fit(x, y)
    sklearn_model(os.path.join(out, "mlp.onnx"), mlp, x)
    x, y = regression_data(rng, features=10)
    bench = MLPRegressor(hidden_layer_sizes=(256, 128), max_iter=30, random_state=7).fit(x, y)
    sklearn_model(os.path.join(out, "bench_mlp.onnx"), bench, x)
    for name in ["mlp", "bench_mlp"]:
        quantize_dynamic(
            os.path.join(out, f"{name}.onnx"),
            os.path.join(out, f"{name}_int8.onnx"),
            weight_type=QuantType.QInt8,
        )
    for name in ["mlp", "mlp_int8"]:
        references[name] = reference(os.path.join(out, f"{name}.onnx"), {"X": probe})

    cnn(os.path.join(out, "cnn.onnx"), rng)
    images = rng.uniform(size=(ROWS, 3, 8, 8)).astype(np.float32)
    references["cnn"] = reference(os.path.join(out, "cnn.onnx"), {"image": images})

    qnet(os.path.join(out, "qnet.onnx"), np.random.RandomState(11), "batch")
    qnet(os.path.join(out, "qnet_fixed8.onnx"), np.random.RandomState(11), 8)
    qnet(os.path.join(out, "qnet_v2.onnx"), np.random.RandomState(12), "batch")
    for name in ["qnet", "qnet_v2"]:
        references[name] = reference(os.path.join(out, f"{name}.onnx"), {"state": probe})

    two_inputs(os.path.join(out, "two_inputs.onnx"), rng)
    pair = {"a": probe[:, :2].copy(), "b": probe[:, 2:3].copy()}
    references["two_inputs"] = reference(os.path.join(out, "two_inputs.onnx"), pair)

    with open(os.path.join(out, "references.json"), "w") as f:
        json.dump(references, f)


if __name__ == "__main__":
    main()
