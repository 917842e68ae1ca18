"""How alike two embeddings are, as the API's `looks_like_confidence` (0..1, 1.0: the same embedding).

The index ranks by squared Euclidean distance for every kind; each kind maps it to a confidence:
- faces (128-D dlib embeddings, norms about 1.41): `1 - distance / 1.2`, a straight line, so a
  threshold reads back as a distance (0.5 is 0.6, dlib's own same-person line on LFW). On real
  faces (tests/gateway/test_search_faces.py) one person's pairs were 0.12 to 0.48 apart
  (confidence 0.60 to 0.90), two people's 0.83 to 0.96 (0.20 to 0.31).
- bodies and cars (L2-normalised MobileNetV2 appearance vectors): their cosine similarity,
  `1 - distance² / 2`; the default threshold 0.85 is the clustering's cosine distance 0.15.
"""

from dataclasses import dataclass

import numpy as np

from vidar.models.stream_settings import DetectorType

FACE_ZERO_DISTANCE = 1.2


@dataclass(frozen=True)
class Similarity:
    """One kind's map between squared distances and confidences."""

    kind: DetectorType

    @property
    def is_face(self) -> bool:
        return self.kind == "face"

    def confidence(self, squared: np.ndarray) -> np.ndarray:
        squared = np.maximum(squared, 0)
        raw = 1 - np.sqrt(squared) / FACE_ZERO_DISTANCE if self.is_face else 1 - squared / 2
        return np.clip(raw, 0, 1)

    def max_squared_distance(self, min_confidence: float) -> float:
        """The largest squared distance whose confidence is still `min_confidence`."""
        if self.is_face:
            return ((1 - min_confidence) * FACE_ZERO_DISTANCE) ** 2
        return 2 * (1 - min_confidence)

    def query_vector(self, vectors: np.ndarray) -> np.ndarray:
        """One vector standing for several (a cluster's members): their mean, back on the unit
        sphere for appearance vectors, whose similarity is their angle."""
        mean = vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
        if self.is_face:
            return mean
        return mean / max(float(np.linalg.norm(mean)), 1e-12)
