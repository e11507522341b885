"""Decoder steps with the key/value cache kept on the device (onnxruntime IO binding).

On CUDA the cache would otherwise cross the bus twice a step (present out, past back in),
and the sentence's cross-attention keys/values once a step. Here they stay where the
session runs: ``present_k[:, rows]`` (the decode loop's beam reorder) gathers on the
device through a one-node graph, and only the logits and attention rows, which the search
and the Inspection need on the host, are copied back. The same code runs on the CPU
device, which is how the tests check it against the plain runner.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attnscope.core.inference.engine import EncoderOutput, OrtRunner, StepOutput


class DeviceTensor:
    """A cache tensor that stays on the device; ``[:, rows]`` gathers beams there."""

    def __init__(self, runner: IoBindingRunner, value: Any) -> None:
        self.runner, self.value = runner, value

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape())

    def __getitem__(self, index: tuple[slice, np.ndarray]) -> DeviceTensor:
        whole, rows = index
        if whole != slice(None):
            raise IndexError("a device cache is indexed only as [:, rows]")
        return self.runner.gather(self, np.asarray(rows, np.int64))

    def numpy(self) -> np.ndarray:
        out: np.ndarray = self.value.numpy()
        return out


def _gather_graph() -> bytes:
    """x[L, K, H, T, d] , rows[K'] -> x[:, rows] (Gather on axis 1)."""
    from onnx import TensorProto, helper

    node = helper.make_node("Gather", ["x", "rows"], ["y"], axis=1)
    graph = helper.make_graph(
        [node], "reorder_cache",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["L", "K", "H", "T", "d"]),
         helper.make_tensor_value_info("rows", TensorProto.INT64, ["R"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["L", "R", "H", "T", "d"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


class IoBindingRunner:
    """Wraps an ``OrtRunner``: same sessions, the cache bound on ``device`` ("cuda" or "cpu")."""

    def __init__(self, runner: OrtRunner, device: str | None = None) -> None:
        import onnxruntime as ort

        self.inner = runner
        self.provider = runner.provider
        self.device = device or ("cuda" if runner.provider == "CUDA" else "cpu")
        providers = runner.decoder.get_providers()  # type: ignore[attr-defined]
        self._gather = ort.InferenceSession(_gather_graph(), providers=providers)
        self._cross: tuple[np.ndarray, np.ndarray, Any, Any] | None = None  # host arrays -> device copies
        names = [o.name for o in runner.decoder.get_outputs()]  # type: ignore[attr-defined]
        self._has_norms = "self_vnorm" in names

    def _on_device(self, a: np.ndarray) -> Any:
        import onnxruntime as ort

        return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(a), self.device, 0)

    def encode(self, src_ids: np.ndarray, src_mask: np.ndarray) -> EncoderOutput:
        return self.inner.encode(src_ids, src_mask)

    def gather(self, x: DeviceTensor, rows: np.ndarray) -> DeviceTensor:
        io = self._gather.io_binding()
        io.bind_ortvalue_input("x", x.value)
        io.bind_cpu_input("rows", rows)
        io.bind_output("y", self.device)
        self._gather.run_with_iobinding(io)
        return DeviceTensor(self, io.get_outputs()[0])

    def step(self, token: np.ndarray, position: np.ndarray, src_mask: np.ndarray, cross_k: np.ndarray,
             cross_v: np.ndarray, past_k: Any, past_v: Any) -> StepOutput:
        sess = self.inner.decoder
        io = sess.io_binding()  # type: ignore[attr-defined]
        if self._cross is None or self._cross[0] is not cross_k or self._cross[1] is not cross_v:
            # Copied once per sentence (and when the beam widens), not once per step.
            self._cross = (cross_k, cross_v, self._on_device(cross_k), self._on_device(cross_v))
        io.bind_ortvalue_input("cross_k", self._cross[2])
        io.bind_ortvalue_input("cross_v", self._cross[3])
        for name, a in (("token", token), ("position", position), ("src_mask", src_mask)):
            io.bind_cpu_input(name, np.ascontiguousarray(a))
        for name, past in (("past_k", past_k), ("past_v", past_v)):
            if isinstance(past, DeviceTensor):
                io.bind_ortvalue_input(name, past.value)
            else:  # the first step's empty cache (bind_cpu_input misreads a zero-size shape)
                io.bind_ortvalue_input(name, self._on_device(past))
        host = ["logits", "self_attn", "cross_attn"]
        if self._has_norms:  # the new piece's value norms (norm-based attention), as the plain runner
            host.append("self_vnorm")
        for name in host:
            io.bind_output(name, "cpu")
        for name in ("present_k", "present_v"):
            io.bind_output(name, self.device)
        sess.run_with_iobinding(io)  # type: ignore[attr-defined]
        out = io.get_outputs()  # in binding order
        logits, self_attn, cross_attn = out[0], out[1], out[2]
        cache_k, cache_v = DeviceTensor(self, out[-2]), DeviceTensor(self, out[-1])
        return StepOutput(logits.numpy(), cache_k, cache_v,  # type: ignore[arg-type]  # device-resident
                          self_attn.numpy(), cross_attn.numpy(), out[3].numpy() if self._has_norms else None)
