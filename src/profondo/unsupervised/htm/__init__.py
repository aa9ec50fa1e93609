"""Hierarchical Temporal Memory after Numenta's published algorithm descriptions ("Biological
and Machine Intelligence", BAMI): encoders to sparse distributed representations, the spatial
pooler, the temporal memory, the SDR classifier and the anomaly likelihood. NumPy,
vectorised where the algorithm allows, deterministic for a seed.

>>> encoder = ScalarEncoder(0, 100, size=400, active_bits=21)
>>> sp = SpatialPooler(encoder.size, columns=1024, active_columns=20)
>>> tm = TemporalMemory(1024, cells_per_column=16)
>>> score = tm.compute(sp.compute(encoder.encode(42.0)))     # 1.0: nothing was predicted yet
"""

from .anomaly import AnomalyLikelihood
from .classifier import SDRClassifier
from .encoders import CategoryEncoder, DateEncoder, ScalarEncoder
from .spatial_pooler import SpatialPooler
from .temporal_memory import TemporalMemory

__all__ = ["AnomalyLikelihood", "CategoryEncoder", "DateEncoder", "SDRClassifier", "ScalarEncoder", "SpatialPooler",
           "TemporalMemory"]
