"""The temporal memory (BAMI, "Temporal Memory Algorithm"): columns of cells whose distal
segments learn the transitions between successive inputs, so that the cells active in a
column say in which context its input came, and the cells with active segments predict the
next input.

Per step, for the active columns of the input: a column with predicted cells (cells with an
active segment) activates only those, and their segments learn; a column without any bursts
(all its cells become active), and its best matching segment (or a new one on its least-used
cell) learns and becomes the winner. Learning raises the permanences of synapses from the
previously active cells, lowers the others, and grows synapses to previous winner cells.
Segments of columns that were predicted but did not become active are punished.

Synapses are held in fixed-width arrays (segments x ``max_synapses_per_segment``), so that
the activity of every segment is one vectorised gather per step.
"""

from __future__ import annotations

import numpy as np


class TemporalMemory:
    """``columns`` x ``cells_per_column`` cells; defaults are NuPIC's."""

    def __init__(self, columns: int, cells_per_column: int = 32, activation_threshold: int = 13,
                 min_threshold: int = 10, new_synapse_count: int = 20, initial_permanence: float = 0.21,
                 connected: float = 0.5, increment: float = 0.1, decrement: float = 0.1,
                 predicted_segment_decrement: float = 0.0, max_segments_per_cell: int = 255,
                 max_synapses_per_segment: int = 32, seed: int = 0) -> None:
        if min_threshold > activation_threshold:
            raise ValueError(f"TemporalMemory: expected min_threshold <= activation_threshold, received "
                             f"{min_threshold} and {activation_threshold}")
        if new_synapse_count > max_synapses_per_segment:
            raise ValueError(f"TemporalMemory: new_synapse_count ({new_synapse_count}) exceeds "
                             f"max_synapses_per_segment ({max_synapses_per_segment})")
        self.columns, self.cells_per_column = int(columns), int(cells_per_column)
        self.cells = self.columns * self.cells_per_column
        self.activation_threshold, self.min_threshold = activation_threshold, min_threshold
        self.new_synapse_count, self.initial_permanence, self.connected = new_synapse_count, initial_permanence, connected
        self.increment, self.decrement = increment, decrement
        self.predicted_segment_decrement = predicted_segment_decrement
        self.max_segments_per_cell, self.width = max_segments_per_cell, max_synapses_per_segment
        self.rng = np.random.default_rng(seed)
        self.n_segments = 0
        self.segment_cell = np.zeros(0, np.int64)
        self.presynaptic = np.full((0, self.width), -1, np.int64)
        self.permanence = np.zeros((0, self.width), np.float32)
        self.last_used = np.zeros(0, np.int64)
        self.segments_per_cell = np.zeros(self.cells, np.int64)
        self.iteration = 0
        self.reset()

    def reset(self) -> None:
        """Forget the current context (the start of a new sequence); learned synapses stay."""
        self.active_cells = np.zeros(self.cells, bool)
        self.winner_cells = np.zeros(0, np.int64)
        self.active_segments = np.zeros(self.n_segments, bool)
        self.matching_segments = np.zeros(self.n_segments, bool)
        self.potential_counts = np.zeros(self.n_segments, np.int64)
        self.predictive_cells = np.zeros(self.cells, bool)

    # --- segments and synapses -----------------------------------------------------------------
    def _new_segment(self, cell: int) -> int:
        if self.segments_per_cell[cell] >= self.max_segments_per_cell:  # reuse the least recently used
            own = np.flatnonzero(self.segment_cell[:self.n_segments] == cell)
            segment = int(own[np.argmin(self.last_used[own])])
            self.presynaptic[segment] = -1
            self.permanence[segment] = 0
            self.last_used[segment] = self.iteration
            return segment
        if self.n_segments == len(self.segment_cell):
            grow = max(64, len(self.segment_cell))
            self.segment_cell = np.concatenate([self.segment_cell, np.zeros(grow, np.int64)])
            self.presynaptic = np.concatenate([self.presynaptic, np.full((grow, self.width), -1, np.int64)])
            self.permanence = np.concatenate([self.permanence, np.zeros((grow, self.width), np.float32)])
            self.last_used = np.concatenate([self.last_used, np.zeros(grow, np.int64)])
        segment = self.n_segments
        self.n_segments += 1
        self.segment_cell[segment] = cell
        self.last_used[segment] = self.iteration
        self.segments_per_cell[cell] += 1
        return segment

    def _adapt(self, segments: np.ndarray, previous_active: np.ndarray, increment: float, decrement: float) -> None:
        """Hebbian learning on ``segments`` at once: +increment on synapses from previously active
        cells, -decrement on the others; synapses that reach zero are destroyed."""
        if len(segments) == 0:
            return
        pre = self.presynaptic[segments]
        valid = pre >= 0
        hit = valid & previous_active[np.maximum(pre, 0)]
        perm = self.permanence[segments] + np.where(hit, np.float32(increment), np.float32(-decrement)) * valid
        np.clip(perm, 0, 1, out=perm)
        pre[valid & (perm <= 0)] = -1
        self.permanence[segments] = perm
        self.presynaptic[segments] = pre

    def _grow(self, segment: int, candidates: np.ndarray, n: int) -> None:
        if n <= 0 or len(candidates) == 0:
            return
        pre = self.presynaptic[segment]
        candidates = candidates[~np.isin(candidates, pre)]
        if len(candidates) == 0:
            return
        chosen = self.rng.choice(candidates, size=min(n, len(candidates)), replace=False)
        empty = np.flatnonzero(pre < 0)
        if len(empty) < len(chosen):  # full: replace the weakest synapses
            used = np.flatnonzero(pre >= 0)
            weakest = used[np.argsort(self.permanence[segment, used], kind="stable")[:len(chosen) - len(empty)]]
            empty = np.concatenate([empty, weakest])
        slots = empty[:len(chosen)]
        pre[slots] = chosen
        self.permanence[segment, slots] = self.initial_permanence

    # --- one step ------------------------------------------------------------------------------
    def compute(self, active_columns: np.ndarray, learn: bool = True) -> float:
        """Feed one input (the indices of its active columns); returns its anomaly score, the
        fraction of active columns that were not predicted (1 when none were predicted)."""
        active_columns = np.unique(np.asarray(active_columns, np.int64))
        if len(active_columns) and (active_columns[0] < 0 or active_columns[-1] >= self.columns):
            raise ValueError(f"TemporalMemory: column indices must lie in [0, {self.columns}), received "
                             f"{active_columns.min()}..{active_columns.max()}")
        k = self.cells_per_column
        predicted_columns = np.unique(np.flatnonzero(self.predictive_cells) // k)
        score = 1.0 if len(active_columns) == 0 else \
            1.0 - len(np.intersect1d(active_columns, predicted_columns, assume_unique=True)) / len(active_columns)
        previous_active, previous_winners = self.active_cells, self.winner_cells
        n = self.n_segments
        cell_of = self.segment_cell[:n]
        active_by_column = _group(np.flatnonzero(self.active_segments), cell_of // k)
        matching_by_column = _group(np.flatnonzero(self.matching_segments), cell_of // k)
        active_cells = np.zeros(self.cells, bool)
        winners = []
        learning: list[np.ndarray] = []  # segments that learn this step (adapt, then grow)
        for column in active_columns:
            column = int(column)
            segments = active_by_column.get(column)
            if segments is not None:  # predicted: the predicted cells fire
                cells = np.unique(cell_of[segments])
                active_cells[cells] = True
                winners.extend(cells.tolist())
                if learn:
                    learning.append(segments)
                continue
            active_cells[column * k:(column + 1) * k] = True  # burst
            matching = matching_by_column.get(column)
            if matching is not None:
                best = int(matching[np.argmax(self.potential_counts[matching])])
                winner = int(cell_of[best])
                if learn:
                    learning.append(np.array([best]))
            else:
                counts = self.segments_per_cell[column * k:(column + 1) * k]
                fewest = np.flatnonzero(counts == counts.min())
                winner = column * k + int(self.rng.choice(fewest))
                if learn and len(previous_winners):
                    segment = self._new_segment(winner)
                    self._grow(segment, previous_winners, self.new_synapse_count)
            winners.append(winner)
        if learn and learning:
            segments = np.concatenate(learning)
            self._adapt(segments, previous_active, self.increment, self.decrement)
            self.last_used[segments] = self.iteration
            for s, grow in zip(segments, self.new_synapse_count - self.potential_counts[segments]):
                if grow > 0:
                    self._grow(int(s), previous_winners, int(grow))
        if learn and self.predicted_segment_decrement > 0:
            active_set = set(active_columns.tolist())
            wrong = [segments for column, segments in matching_by_column.items() if column not in active_set]
            if wrong:
                self._adapt(np.concatenate(wrong), previous_active, -self.predicted_segment_decrement, 0.0)
        self.active_cells = active_cells
        self.winner_cells = np.array(sorted(set(winners)), np.int64)
        self._activate_dendrites()
        self.iteration += 1
        return score

    def _activate_dendrites(self) -> None:
        n = self.n_segments
        pre = self.presynaptic[:n]
        on = (pre >= 0) & self.active_cells[np.maximum(pre, 0)]
        connected = (on & (self.permanence[:n] >= self.connected)).sum(1)
        self.potential_counts = on.sum(1)
        self.active_segments = connected >= self.activation_threshold
        self.matching_segments = self.potential_counts >= self.min_threshold
        self.predictive_cells = np.zeros(self.cells, bool)
        self.predictive_cells[self.segment_cell[:n][self.active_segments]] = True

    def predicted_columns(self) -> np.ndarray:
        """The columns that hold a predictive cell: the prediction of the next input."""
        return np.unique(np.flatnonzero(self.predictive_cells) // self.cells_per_column)

    @property
    def synapses(self) -> int:
        """Synapses grown so far (the model's size, to compare with a network's weights)."""
        return int((self.presynaptic[:self.n_segments] >= 0).sum())


def _group(segments: np.ndarray, column_of_segment: np.ndarray) -> dict[int, np.ndarray]:
    """Segment indices grouped by the column of their cell."""
    if len(segments) == 0:
        return {}
    columns = column_of_segment[segments]
    order = np.argsort(columns, kind="stable")
    columns, segments = columns[order], segments[order]
    starts = np.flatnonzero(np.r_[True, columns[1:] != columns[:-1]])
    return {int(columns[a]): segments[a:b] for a, b in zip(starts, np.r_[starts[1:], len(columns)])}
