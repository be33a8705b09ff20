"""A fitted Isolation Forest as flat numpy arrays, scored for a whole batch at once.

scikit-learn walks its trees one by one and costs milliseconds per call even for
one row. Here every tree is laid out as a complete binary tree (heap order: the
children of node i are 2i+1 and 2i+2, a leaf above the bottom level is copied
down its left side), so all trees of all rows advance one level per numpy step,
without per-tree Python. Scores equal `IsolationForest.score_samples`.

The arrays (`arrays()`) rebuild the same forest without scikit-learn (`from_arrays`), which
is how a warm scorer start gets it from the engine cache (warm.py) without unpickling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # imported by whoever unpickled the model; scoring never needs it
    from sklearn.ensemble import IsolationForest

_LEAF = -1  # scikit-learn's TREE_LEAF
# Rows walked together: beyond ~512 the (rows x trees) lanes leave the CPU caches and a 4096-row
# batch in one piece ran 3x slower per row than in 512-row pieces.
_CHUNK_ROWS = 512


def average_path_length(n_samples: NDArray[np.floating] | list[float]) -> NDArray[np.float64]:
    """c(n): the average path length of an unsuccessful search in a binary search tree."""
    n = np.asarray(n_samples, dtype=np.float64)
    result = np.zeros_like(n)
    result[n == 2] = 1.0
    big = n > 2
    result[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return result


def _round_down_to_float32(values: NDArray[np.float64]) -> NDArray[np.float32]:
    """For float32 x: x <= t exactly when x <= the result (t rounded towards -inf)."""
    rounded = values.astype(np.float32)
    too_big = rounded.astype(np.float64) > values
    rounded[too_big] = np.nextafter(rounded[too_big], np.float32(-np.inf))
    return rounded


class CompactForest:
    """The trees of a fitted IsolationForest in heap layout, one row of arrays per tree."""

    def __init__(self, model: IsolationForest) -> None:
        trees = model.estimators_
        depth = max(int(tree.tree_.max_depth) for tree in trees)
        inner, width = 2**depth - 1, 2**depth
        feature = np.zeros((len(trees), inner), dtype=np.int32)  # global feature index
        threshold = np.full((len(trees), inner), np.inf)
        leaf_value = np.zeros((len(trees), width))
        for t, (tree, tree_features) in enumerate(
            zip(trees, model.estimators_features_, strict=True)
        ):
            _fill_heap(
                tree.tree_, np.asarray(tree_features), feature[t], threshold[t], leaf_value[t]
            )
        self._setup(
            feature=feature,
            threshold=_round_down_to_float32(threshold.ravel()).reshape(threshold.shape),
            leaf_value=leaf_value,
            n_features=int(model.n_features_in_),
            offset=float(model.offset_),
            max_samples=float(model._max_samples),
        )

    def _setup(
        self,
        *,
        feature: NDArray[np.int32],
        threshold: NDArray[np.float32],
        leaf_value: NDArray[np.float64],
        n_features: int,
        offset: float,
        max_samples: float,
    ) -> None:
        n_trees, inner = feature.shape
        if threshold.shape != feature.shape or leaf_value.shape != (n_trees, inner + 1):
            raise ValueError(
                f"forest arrays do not fit together: feature {feature.shape}, "
                f"threshold {threshold.shape}, leaf_value {leaf_value.shape}"
            )
        if feature.size and not 0 <= int(feature.min()) <= int(feature.max()) < n_features:
            raise ValueError("forest arrays name a feature outside the model's inputs")
        width = inner + 1
        self.depth = int(np.log2(width))
        if 2**self.depth != width:
            raise ValueError(f"forest arrays have {inner} inner nodes, not a complete tree")
        self.n_trees = n_trees
        self.n_features = n_features
        self.offset = offset
        self.max_samples = max_samples
        self._inner = inner
        self._feature = np.ascontiguousarray(feature, dtype=np.int32).ravel()
        self._threshold = np.ascontiguousarray(threshold, dtype=np.float32).ravel()
        self._leaf_value = np.ascontiguousarray(leaf_value, dtype=np.float64).ravel()
        self._tree_inner_base = np.arange(self.n_trees, dtype=np.int32) * inner
        self._tree_leaf_base = np.arange(self.n_trees, dtype=np.int32) * width - inner
        self._denominator = self.n_trees * float(average_path_length([max_samples])[0])
        self._lanes = self._lane_bases(0)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything the forest scores with, as arrays (`from_arrays` rebuilds it)."""
        shape = (self.n_trees, self._inner)
        return {
            "feature": self._feature.reshape(shape),
            "threshold": self._threshold.reshape(shape),
            "leaf_value": self._leaf_value.reshape(self.n_trees, self._inner + 1),
            "shape": np.array([self.n_features, self.offset, self.max_samples]),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> CompactForest:
        """The forest `arrays()` describes; ValueError when the arrays do not fit together."""
        forest = cls.__new__(cls)
        n_features, offset, max_samples = (float(v) for v in arrays["shape"])
        forest._setup(
            feature=arrays["feature"],
            threshold=arrays["threshold"],
            leaf_value=arrays["leaf_value"],
            n_features=int(n_features),
            offset=offset,
            max_samples=max_samples,
        )
        return forest

    def _lane_bases(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per (row, tree) lane: where the row's values, the tree's nodes and its leaves start.

        The arrays for n rows are prefixes of those for more rows, so one set (for the largest
        batch seen) serves every batch size.
        """
        rows = np.arange(n, dtype=np.int32) * self.n_features
        return (
            np.repeat(rows, self.n_trees),
            np.tile(self._tree_inner_base, n),
            np.tile(self._tree_leaf_base, n),
        )

    def score_samples(self, x: NDArray[np.floating]) -> NDArray[np.float64]:
        """Equal to IsolationForest.score_samples: minus the anomaly score (lower = odder)."""
        values = np.ascontiguousarray(x, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != self.n_features:
            raise ValueError(f"expected shape (n, {self.n_features}), got {values.shape}")
        if values.shape[0] > _CHUNK_ROWS:
            return np.concatenate(
                [
                    self._score_chunk(values[start : start + _CHUNK_ROWS])
                    for start in range(0, values.shape[0], _CHUNK_ROWS)
                ]
            )
        return self._score_chunk(values)

    def _score_chunk(self, values: NDArray[np.float32]) -> NDArray[np.float64]:
        n = values.shape[0]
        lanes = n * self.n_trees
        if self._lanes[0].size < lanes:
            self._lanes = self._lane_bases(n)
        row_base, tree_base, leaf_base = (bases[:lanes] for bases in self._lanes)
        flat = values.ravel()
        node = np.zeros(lanes, dtype=np.int32)
        at, index = np.empty_like(node), np.empty_like(node)
        go_right = np.empty(lanes, dtype=bool)
        for _ in range(self.depth):
            np.add(tree_base, node, out=at)
            np.add(row_base, self._feature.take(at), out=index)
            np.greater(flat.take(index), self._threshold.take(at), out=go_right)
            node *= 2
            node += 1
            node += go_right
        path = self._leaf_value.take(leaf_base + node)
        return -(2.0 ** (-path.reshape(n, self.n_trees).sum(axis=1) / self._denominator))

    def decision_function(self, x: NDArray[np.floating]) -> NDArray[np.float64]:
        """Equal to IsolationForest.decision_function (negative = outlier)."""
        return self.score_samples(x) - self.offset

    def split_values(self) -> list[NDArray[np.float32]]:
        """For each feature, the (float32) values the trees split it at."""
        real = np.isfinite(self._threshold)
        return [self._threshold[real & (self._feature == f)] for f in range(self.n_features)]


def _fill_heap(
    tree: object,
    tree_features: NDArray[np.intp],
    feature: NDArray[np.int32],
    threshold: NDArray[np.float64],
    leaf_value: NDArray[np.float64],
) -> None:
    """Copy one scikit-learn tree into heap-ordered rows (leaves carry depth + c(n_samples))."""
    left, right = tree.children_left, tree.children_right  # type: ignore[attr-defined]
    n_samples = tree.n_node_samples  # type: ignore[attr-defined]
    inner = feature.size
    stack = [(0, 0, 0)]  # (sklearn node, heap slot, depth)
    while stack:
        node, slot, depth = stack.pop()
        if slot >= inner:
            leaf_value[slot - inner] = depth + average_path_length([n_samples[node]])[0]
        elif left[node] == _LEAF:
            # A shallow leaf: threshold +inf sends every row left until the bottom level.
            stack.append((node, 2 * slot + 1, depth))
        else:
            feature[slot] = tree_features[tree.feature[node]]  # type: ignore[attr-defined]
            threshold[slot] = tree.threshold[node]  # type: ignore[attr-defined]
            stack.append((left[node], 2 * slot + 1, depth + 1))
            stack.append((right[node], 2 * slot + 2, depth + 1))
