"""The database layer: label queries and the label registry, on a jobflow ``JobStore``.

Every consumer of stored labels (``query``, ``export``, the fit's training selection, the
active-learning selection, analyses over the database) goes through :func:`find_labels` /
:func:`label_filter`, so they agree on which labels a selection holds. The registry
(:mod:`gst_flows.db.registry`) makes "one label per structure and protocol" a database
guarantee, also under concurrent imports and label jobs.
"""

from gst_flows.db.labels import DatasetError, StoredLabel, find_labels, label_filter
from gst_flows.db.registry import LabelClaim, claim_label, ensure_label_indexes, release_claim

__all__ = [
    "DatasetError",
    "LabelClaim",
    "StoredLabel",
    "claim_label",
    "ensure_label_indexes",
    "find_labels",
    "label_filter",
    "release_claim",
]
