"""Data pipelines: datasets, batching with prefetch, augmentation, standard data sets."""

from profondo.data import datasets, transforms
from profondo.data.dataset import ArrayDataset, Dataset, Subset, TensorDataset, random_split
from profondo.data.datasets import DatasetNotFoundError, load_dataset
from profondo.data.loader import DataLoader
from profondo.data.sampler import DistributedSampler

__all__ = [
    "ArrayDataset",
    "DataLoader",
    "Dataset",
    "DatasetNotFoundError",
    "DistributedSampler",
    "Subset",
    "TensorDataset",
    "datasets",
    "load_dataset",
    "random_split",
    "transforms",
]
