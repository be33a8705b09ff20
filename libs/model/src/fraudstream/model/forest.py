"""A fitted Isolation Forest as flat numpy arrays, scored for a whole batch at once.

scikit-learn walks its trees one by one and costs milliseconds per call even for
one row. Here every tree is laid out as a complete binary tree (heap order: the
children of node i are 2i+1 and 2i+2, a leaf above the bottom level is copied
down its left side), so all trees of all rows advance one level per numpy step,
without per-tree Python. Scores equal `IsolationForest.score_samples`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import IsolationForest

_LEAF = -1  # scikit-learn's TREE_LEAF


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
        self.depth = max(int(tree.tree_.max_depth) for tree in trees)
        inner, width = 2**self.depth - 1, 2**self.depth
        feature = np.zeros((len(trees), inner), dtype=np.int32)
        threshold = np.full((len(trees), inner), np.inf)
        leaf_value = np.zeros((len(trees), width))
        for t, (tree, tree_features) in enumerate(
            zip(trees, model.estimators_features_, strict=True)
        ):
            _fill_heap(
                tree.tree_, np.asarray(tree_features), feature[t], threshold[t], leaf_value[t]
            )
        self.n_trees = len(trees)
        self.n_features = int(model.n_features_in_)
        self.offset = float(model.offset_)
        self._inner = inner
        self._feature = feature.ravel()
        self._threshold = _round_down_to_float32(threshold.ravel())
        self._leaf_value = leaf_value.ravel()
        self._tree_inner_base = np.arange(self.n_trees, dtype=np.int64) * inner
        self._tree_leaf_base = np.arange(self.n_trees, dtype=np.int64) * width - inner
        self._denominator = self.n_trees * float(average_path_length([model._max_samples])[0])

    def score_samples(self, x: NDArray[np.floating]) -> NDArray[np.float64]:
        """Equal to IsolationForest.score_samples: minus the anomaly score (lower = odder)."""
        values = np.ascontiguousarray(x, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != self.n_features:
            raise ValueError(f"expected shape (n, {self.n_features}), got {values.shape}")
        n = values.shape[0]
        flat = values.ravel()
        # One lane per (row, tree): where the row's values start, where the tree starts.
        row_base = np.repeat(np.arange(n, dtype=np.int64) * self.n_features, self.n_trees)
        tree_base = np.tile(self._tree_inner_base, n)
        node = np.zeros(n * self.n_trees, dtype=np.int64)
        for _ in range(self.depth):
            at = tree_base + node
            go_right = flat.take(row_base + self._feature.take(at)) > self._threshold.take(at)
            node = 2 * node + 1 + go_right
        path = self._leaf_value.take(np.tile(self._tree_leaf_base, n) + node)
        return -(2.0 ** (-path.reshape(n, self.n_trees).sum(axis=1) / self._denominator))

    def decision_function(self, x: NDArray[np.floating]) -> NDArray[np.float64]:
        """Equal to IsolationForest.decision_function (negative = outlier)."""
        return self.score_samples(x) - self.offset


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
