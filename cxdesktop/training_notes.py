"""What a training run did that its settings do not say, in words (Qt-free).

Two things: stage 1 stopping before its last epoch (no better validation count for
``stage1_patience`` epochs: the trainer's last stage-1 report says so), and the final model
being an earlier state than the last step (both trainers keep the state that counted the
validation images best). ``RunNotes.add`` takes every ``countxplain.training.Progress``.
"""

from __future__ import annotations

import math

from .training_eta import STEP_MESSAGE


class RunNotes:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self._stage1: tuple[int, int] | None = None  # (last epoch reported, epochs planned)
        self._stage1_best: tuple[float, int] | None = None
        self._stage1_noted = False
        self._stage2: list[tuple[float, str]] = []  # (validation MAE, where) of each validation

    def add(self, progress) -> None:
        if progress.stage == "stage1":
            self._add_stage1(progress)
            return
        if self._stage1 is not None and not self._stage1_noted and progress.stage in ("stage2", "done"):
            epoch, epochs = self._stage1
            if epoch < epochs:
                self._note_stage1(epoch, epochs, "")
        if progress.stage == "stage2" and progress.val_mae is not None and math.isfinite(progress.val_mae):
            self._stage2.append((progress.val_mae, self._where(progress)))
        if progress.stage == "done":
            self._note_best_state()

    def _add_stage1(self, progress) -> None:
        self._stage1 = (progress.epoch, progress.epochs)
        mae = progress.val_mae
        if mae is not None and (self._stage1_best is None or mae < self._stage1_best[0]):
            self._stage1_best = (mae, progress.epoch)
        if progress.message and progress.epoch < progress.epochs:
            self._note_stage1(progress.epoch, progress.epochs, progress.message)

    def _note_stage1(self, epoch: int, epochs: int, why: str) -> None:
        self._stage1_noted = True
        best = f"; the best epoch ({self._stage1_best[1]}) is kept" if self._stage1_best else ""
        self.notes.append(f"Stage 1 stopped at epoch {epoch} of {epochs}: {why or 'stopped early'}{best}.")

    @staticmethod
    def _where(progress) -> str:
        match = STEP_MESSAGE.search(progress.message or "")
        if match:
            return f"step {match.group(1)} of {match.group(2)}"
        return f"stage-2 epoch {progress.epoch} of {progress.epochs}"

    def _note_best_state(self) -> None:
        if len(self._stage2) < 2:
            return
        best = min(range(len(self._stage2)), key=lambda i: (self._stage2[i][0], i))
        if best == len(self._stage2) - 1:
            return
        (mae, where), (last_mae, last_where) = self._stage2[best], self._stage2[-1]
        self.notes.append(f"The model kept is the state at {where} (validation MAE {mae:.2f}): later steps counted "
                          f"the validation images less well (MAE {last_mae:.2f} at {last_where}).")
