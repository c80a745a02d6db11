"""K-means clusters on standardised log-RFM features (extra ``cluster``).

Private module; the public names are re-exported by :mod:`loyaltycore.segments`.
scikit-learn is imported only when :func:`cluster_rfm` runs.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from loyaltycore._frames import Col, Frames
from loyaltycore._validate import check_int, freeze, require
from loyaltycore.errors import EmptyData, InvalidArgument, InvalidColumn
from loyaltycore.segments._base import Assignment, names_converter, reduce_value
from loyaltycore.segments._rfm import FloatArray, rfm_columns

#: The features, in column order of ``centroids``.
FEATURES: Final = ("days_since_last", "frequency", "monetary")
#: Words for a centroid very low, low, near, high and very high against the mean.
_WORDS: Final = (
    ("very recent", "recent", "lapsing", "lapsed", "long lapsed"),
    ("very rare", "rare", "occasional", "frequent", "very frequent"),
    ("very low spend", "low spend", "mid spend", "high spend", "very high spend"),
)
#: Band edges in standard deviations of the population: -1.5, -0.5, 0.5, 1.5.
BANDS: Final = (-1.5, -0.5, 0.5, 1.5)


def _float_matrix(value: object) -> FloatArray:
    frozen: FloatArray = freeze(np.asarray(value, dtype=np.float64))
    return frozen


def _labels(value: object) -> npt.NDArray[np.int16]:
    frozen: npt.NDArray[np.int16] = freeze(np.asarray(value, dtype=np.int16))
    return frozen


def _eq() -> Any:
    return attrs.cmp_using(eq=np.array_equal)


def log_features(days: FloatArray, freq: FloatArray, money: FloatArray) -> FloatArray:
    """``log1p`` of the three RFM columns, one row per customer."""
    features: FloatArray = np.log1p(np.column_stack([days, freq, money]))
    return features


@attrs.frozen
class RFMClusters(Frames):
    """Fitted k-means clusters of customers, ordered from most to least valuable.

    ``labels[i]`` is customer ``i``'s cluster; ``centroids`` holds each
    cluster's centre back in original units (days, frequency, money: the
    geometric-style centre of the log features); ``mean`` and ``scale``
    standardise ``log1p`` features. Cluster 0 has the best value score
    (recent, frequent, high spend), the last the worst.

    >>> clusters = cluster_rfm([2, 3, 300, 320], [9, 8, 0, 1], [90, 80, 5, 7], k=2)
    >>> clusters.labels.tolist(), clusters.names
    ([0, 0, 1, 1], ('recent, frequent, high spend', 'lapsed, rare, low spend'))
    """

    labels: npt.NDArray[np.int16] = attrs.field(converter=_labels, eq=_eq())
    centroids: FloatArray = attrs.field(converter=_float_matrix, eq=_eq())
    mean: FloatArray = attrs.field(converter=_float_matrix, eq=_eq())
    scale: FloatArray = attrs.field(converter=_float_matrix, eq=_eq())
    names: tuple[str, ...] = attrs.field(converter=names_converter)
    seed: int = 0

    __reduce__ = reduce_value

    def _columns_for_frames(self) -> tuple[Col, ...]:
        return (Col("cluster", "category", self.labels, labels=self.names),)

    @property
    def k(self) -> int:
        """The number of clusters."""
        return len(self.names)

    def sizes(self) -> dict[str, int]:
        """The number of customers in each cluster.

        >>> cluster_rfm([2, 300], [9, 0], [90, 5], k=2).sizes()
        {'recent, frequent, high spend': 1, 'lapsed, rare, low spend': 1}
        """
        return self.assignment().counts()

    def assignment(self) -> Assignment:
        """The clusters as an :class:`Assignment` named by their descriptions.

        >>> cluster_rfm([2, 300], [9, 0], [90, 5], k=2).assignment().labels().tolist()
        ['recent, frequent, high spend', 'lapsed, rare, low spend']
        """
        return Assignment._trusted(self.labels.copy(), self.names)

    def describe(self) -> list[str]:
        """One line per cluster: its name, size and centre in original units.

        >>> print(*cluster_rfm([2, 300], [9, 0], [90, 5], k=2).describe(), sep="\\n")
        0 recent, frequent, high spend: 1 customers; days 2, frequency 9.0, money 90.00
        1 lapsed, rare, low spend: 1 customers; days 300, frequency 0.0, money 5.00
        """
        sizes = np.bincount(self.labels, minlength=self.k)
        return [
            f"{i} {name}: {sizes[i]} customers; days {days:.0f}, "
            f"frequency {freq:.1f}, money {money:.2f}"
            for i, (name, (days, freq, money)) in enumerate(
                zip(self.names, self.centroids, strict=True)
            )
        ]

    def predict(
        self, days_since_last: object, frequency: object, monetary: object
    ) -> npt.NDArray[np.int16]:
        """The nearest cluster of new customers (no scikit-learn needed).

        >>> clusters = cluster_rfm([2, 3, 300, 320], [9, 8, 0, 1], [90, 80, 5, 7], k=2)
        >>> clusters.predict([1, 400], [12, 0], [100, 1]).tolist()
        [0, 1]
        """
        days, freq, money = rfm_columns(days_since_last, frequency, monetary)
        _check_money(money)
        z = (log_features(days, freq, money) - self.mean) / self.scale
        centres = (np.log1p(self.centroids) - self.mean) / self.scale
        distance = ((z[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        nearest: npt.NDArray[np.int16] = distance.argmin(axis=1).astype(np.int16)
        return nearest


def _check_money(money: FloatArray) -> None:
    if money.size and money.min() < 0:
        low = float(money.min())
        raise InvalidColumn(
            f"monetary holds {low!r}; clusters need monetary >= 0", field="monetary", value=low
        )


def _describe(z: FloatArray) -> str:
    levels = np.searchsorted(np.asarray(BANDS), z, side="left")
    return ", ".join(words[level] for words, level in zip(_WORDS, levels, strict=True))


def _unique(names: list[str]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return tuple(result)


def cluster_rfm(
    days_since_last: object,
    frequency: object,
    monetary: object,
    k: int = 4,
    *,
    seed: int = 0,
    n_init: int = 10,
) -> RFMClusters:
    """Cluster customers with k-means on standardised ``log1p`` RFM features.

    Needs the ``cluster`` extra (scikit-learn), imported only here. The same
    inputs and ``seed`` give the same clusters. Clusters are numbered by value
    (``-days + frequency + monetary`` of the standardised centre, best first)
    and named by how their centre compares with the population: each feature
    is very low, low, mid, high or very high, with band edges at -1.5, -0.5,
    0.5 and 1.5 standard deviations from the mean (``recent``, ``frequent``,
    ``high spend`` ...). k-means runs on one thread, which is faster than
    OpenMP threads on small inputs and keeps results reproducible.

    Args:
        days_since_last: Days since each customer's last purchase (>= 0).
        frequency: Purchase frequency (>= 0).
        monetary: Money per customer (>= 0).
        k: The number of clusters (at least 1, at most the number of
            customers with distinct features).
        seed: The k-means random state.
        n_init: k-means restarts; the best is kept.

    Returns:
        The fitted :class:`RFMClusters`.

    Raises:
        MissingDependency: scikit-learn is not installed.
        InvalidColumn: Bad columns (see :func:`rfm_scores`) or negative money.
        InvalidArgument: ``k`` or ``n_init`` out of range.

    >>> clusters = cluster_rfm([1, 2, 3, 200, 220, 240], [6, 5, 7, 0, 0, 1],
    ...                        [50, 60, 55, 10, 12, 9], k=2, seed=7)
    >>> clusters.sizes()
    {'recent, frequent, high spend': 3, 'lapsed, rare, low spend': 3}
    """
    days, freq, money = rfm_columns(days_since_last, frequency, monetary)
    _check_money(money)
    k = check_int(k, "k", minimum=1)
    n_init = check_int(n_init, "n_init", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if days.size == 0:
        raise EmptyData("cluster_rfm needs at least one customer", field="frequency", value=0)
    if k > days.size:
        raise InvalidArgument(
            f"k={k} must be at most the number of customers ({days.size})", field="k", value=k
        )
    cluster = require("sklearn.cluster", "cluster_rfm")
    features = log_features(days, freq, money)
    distinct = np.unique(features, axis=0).shape[0]
    if k > distinct:
        raise InvalidArgument(
            f"k={k} must be at most the number of distinct customers ({distinct})",
            field="k",
            value=k,
        )
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    z = (features - mean) / scale
    threads = require("threadpoolctl", "cluster_rfm")
    with threads.threadpool_limits(limits=1):
        model = cluster.KMeans(n_clusters=k, random_state=seed, n_init=n_init).fit(z)
    centres = np.asarray(model.cluster_centers_, dtype=np.float64)
    order = np.argsort(-(centres @ np.array([-1.0, 1.0, 1.0])), kind="stable")
    rank = np.empty(k, dtype=np.int16)
    rank[order] = np.arange(k, dtype=np.int16)
    centres = centres[order]
    return RFMClusters(
        labels=rank[np.asarray(model.labels_)],
        centroids=np.expm1(centres * scale + mean),
        mean=mean,
        scale=scale,
        names=_unique([_describe(c) for c in centres]),
        seed=seed,
    )
