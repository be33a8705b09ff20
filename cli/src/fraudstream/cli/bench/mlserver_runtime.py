"""MLServer custom runtime serving an IsolationForest's score_samples (copied next to the model).

MLServer's scikit-learn runtime only exposes predict and predict_proba; the anomaly score the
fraud ensemble uses is score_samples, so this small runtime serves it. It runs inside MLServer's
own virtual environment and imports nothing from fraudstream.
"""

from __future__ import annotations

import logging

import joblib
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri

logger = logging.getLogger(__name__)


class IsolationForestRuntime(MLModel):
    """One FP64 input tensor (rows x forest inputs) in, one `score_samples` output per row."""

    async def load(self) -> bool:
        self._forest = joblib.load(await get_model_uri(self._settings))
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        rows = NumpyCodec.decode_input(payload.inputs[0])
        scores = self._forest.score_samples(rows)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[NumpyCodec.encode_output("score_samples", scores)],
        )
