"""Gradient averaging across processes, in buckets that are sent while backward still runs.

The parameters are packed, in reverse order of ``model.parameters()`` (the order in which a
feed-forward network's gradients become final during backward, as in PyTorch's DDP), into
buckets of at most ``bucket_cap_mb``. Each parameter gets a post-accumulate-grad hook from the
autograd engine: when the last gradient of a bucket is final, the bucket is copied into one
flat buffer and its all-reduce is started, non-blocking, while backward computes the gradients
of the earlier layers. Every later hook lets the started reductions progress (MPI moves a
non-blocking collective on only inside MPI calls). After backward, the training step's
gradient hook waits for the rest and writes the averages back into ``p.grad``.

    reducer = GradientAllReduce(model.parameters(), get_world())
    step = TrainStep(model, optimizer, gradient_hooks=[reducer])
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..tensor import Tensor
from .world import Communicator, get_world

DEFAULT_BUCKET_CAP_MB = 1.0


class _Bucket:
    __slots__ = ("params", "offsets", "buffer", "ready", "request")

    def __init__(self, params: list[Tensor], xp) -> None:
        self.params = params
        self.offsets, total = [], 0
        for p in params:
            self.offsets.append(total)
            total += p.data.size
        self.buffer = xp.zeros(total, dtype=params[0].data.dtype)
        self.ready = 0
        self.request = None


class GradientAllReduce:
    """A gradient hook (for ``TrainStep.gradient_hooks`` or ``Trainer(gradient_hooks=...)``) that
    replaces every gradient by its mean over the processes of ``comm``.

    ``overlap=False`` sends every bucket only after backward (for measuring what the overlap
    hides). The hook keeps timings: ``wait_seconds`` (time spent waiting after backward, i.e. the
    communication that was not hidden) and ``steps``.
    """

    def __init__(self, parameters: Iterable[Tensor], comm: Communicator | None = None,
                 bucket_cap_mb: float = DEFAULT_BUCKET_CAP_MB, overlap: bool = True) -> None:
        self.comm = get_world() if comm is None else comm
        params = [p for p in parameters if p.requires_grad]
        if not params:
            raise ValueError("GradientAllReduce: received no parameter that requires grad")
        dtypes = {p.data.dtype for p in params}
        if len(dtypes) > 1:
            raise TypeError(f"GradientAllReduce: parameters of one dtype expected, received {sorted(map(str, dtypes))}")
        if bucket_cap_mb <= 0:
            raise ValueError(f"GradientAllReduce: bucket_cap_mb must be > 0, received {bucket_cap_mb!r}")
        self.parameters, self.overlap = params, overlap
        cap = bucket_cap_mb * 2**20
        xp = params[0].xp
        self.buckets: list[_Bucket] = []
        group: list[Tensor] = []
        size = 0
        for p in reversed(params):
            if group and size + p.data.nbytes > cap:
                self.buckets.append(_Bucket(group, xp))
                group, size = [], 0
            group.append(p)
            size += p.data.nbytes
        self.buckets.append(_Bucket(group, xp))
        self._bucket_of = {id(p): b for b in self.buckets for p in b.params}
        self._started: list = []
        self._handles = [p.register_post_accumulate_grad_hook(self._ready) for p in params] if overlap else []
        self.wait_seconds, self.steps = 0.0, 0

    @property
    def gradient_bytes(self) -> int:
        """Bytes each process sends into the all-reduce per step."""
        return sum(b.buffer.nbytes for b in self.buckets)

    def _ready(self, p: Tensor) -> None:
        """A post-accumulate-grad hook: ``p.grad`` is final for this backward."""
        bucket = self._bucket_of[id(p)]
        if bucket.request is not None:
            raise RuntimeError("GradientAllReduce: a second backward before the gradients were averaged; "
                               "data-parallel training averages once per step (backward, then the step's "
                               "gradient hook)")
        bucket.ready += 1
        if bucket.ready == len(bucket.params):
            self._start(bucket)
        elif self._started:
            self.comm.test(self._started)

    def _start(self, bucket: _Bucket) -> None:
        buffer = bucket.buffer
        for p, offset in zip(bucket.params, bucket.offsets):
            part = buffer[offset:offset + p.data.size]
            if p.grad is None:  # a parameter this batch did not reach contributes zero
                part[...] = 0
            else:
                part[...] = p.grad.data.reshape(-1)
        bucket.request = self.comm.iallreduce_(buffer)
        if bucket.request is not None:
            self._started.append(bucket.request)

    def __call__(self, parameters: list[Tensor] | None = None) -> None:
        """After backward: start what is not started, wait, and write back the means."""
        started = time.perf_counter()
        for bucket in self.buckets:
            if bucket.ready < len(bucket.params) or not self.overlap:
                self._start(bucket)
        self.comm.wait(self._started)
        self._started = []
        scale = 1.0 / self.comm.size
        for bucket in self.buckets:
            bucket.ready, bucket.request = 0, None
            buffer = bucket.buffer
            for p, offset in zip(bucket.params, bucket.offsets):
                mean = buffer[offset:offset + p.data.size].reshape(p.data.shape)
                if p.grad is None:
                    p.grad = Tensor(mean * scale)
                else:
                    p.xp.multiply(mean, scale, out=p.grad.data)
        self.wait_seconds += time.perf_counter() - started
        self.steps += 1

    def remove(self) -> None:
        """Unregister the engine hooks (the reducer then sends everything after backward)."""
        for handle in self._handles:
            handle.remove()
        self._handles, self.overlap = [], False

    def __repr__(self) -> str:
        return (f"GradientAllReduce({len(self.parameters)} parameters in {len(self.buckets)} buckets, "
                f"{self.gradient_bytes / 2**20:.2f} MiB, {self.comm!r})")
