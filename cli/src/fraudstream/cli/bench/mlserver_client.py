"""Load generator for MLServer's V2 gRPC API, run by the MLServer virtual environment's Python.

Usage: python mlserver_client.py ADDRESS MODEL ROWS.npy PLAN.json -> one JSON object on stdout.
It times its calls with loadgen.py, the same code the fraudstream client uses.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from mlserver.grpc import dataplane_pb2 as pb
from mlserver.grpc import dataplane_pb2_grpc as pb_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import concurrent_throughput, sequential_latency

logger = logging.getLogger(__name__)


def _request(model: str, rows: np.ndarray) -> pb.ModelInferRequest:
    tensor = pb.ModelInferRequest.InferInputTensor(
        name="rows",
        datatype="FP64",
        shape=list(rows.shape),
        contents=pb.InferTensorContents(fp64_contents=rows.ravel().tolist()),
    )
    return pb.ModelInferRequest(model_name=model, inputs=[tensor])


def _scores(reply: pb.ModelInferResponse) -> np.ndarray:
    output = reply.outputs[0]
    if reply.raw_output_contents:
        return np.frombuffer(reply.raw_output_contents[0], dtype=np.float64)
    return np.asarray(output.contents.fp64_contents, dtype=np.float64)


def _wait_ready(stub: Any, model: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if stub.ModelReady(pb.ModelReadyRequest(name=model), timeout=2).ready:
                return
        except grpc.RpcError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"model {model} was not ready within {timeout:.0f} s")
        time.sleep(0.2)


def main() -> None:
    address, model, rows_path, plan_path = sys.argv[1:5]
    rows = np.load(rows_path)
    plan = json.loads(Path(plan_path).read_text())
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        _wait_ready(stub, model, plan["ready_timeout"])
        singles = [_request(model, rows[i : i + 1]) for i in range(min(len(rows), 5000))]
        check = np.concatenate([_scores(stub.ModelInfer(r, timeout=30)) for r in singles[:200]])
        one_row = sequential_latency(
            lambda request: stub.ModelInfer(request, timeout=30),
            singles,
            plan["one_row_calls"],
            warmup=50,
            budget_seconds=plan["budget_seconds"],
        )
        size = plan["rows_per_request"]
        batches = [
            _request(model, rows[i : i + size]) for i in range(0, len(rows) - size + 1, size)
        ]

        def start(request: pb.ModelInferRequest, done: Any) -> None:
            def answered(future: Any) -> None:
                error = future.exception()
                if error is not None:
                    print(f"ModelInfer failed: {error}", file=sys.stderr)
                done(0 if error is not None else len(_scores(future.result())))

            stub.ModelInfer.future(request, timeout=60).add_done_callback(answered)

        batched = concurrent_throughput(
            start,
            batches,
            size,
            plan["requests"],
            plan["in_flight"],
            warmup=10,
            budget_seconds=plan["budget_seconds"],
        )
    json.dump({"one_row": one_row, "batched": batched, "scores": check.tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
