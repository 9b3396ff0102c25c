"""The time left of a training run, from the measured time of its steps (Qt-free).

A run is a sequence of phases (``run_plan``): the CSRNet trainer caches features (one report
per view), then runs stage-1 and stage-2 epochs; the stride-4 VGG trainer (``vgg-s4``) caches
features, then runs optimiser steps, reported at each validation as "step N/steps". Each
phase is paced on its own reports: from its second report on, by the time between its
reports (so a phase's start-up cost is not spread over its steps); on its first, by the time
since the report before it. A phase not reached yet is guessed from the one before it
(``Phase.prior``) until it is measured. Stage 1 stops when ``stage1_patience`` epochs bring no
better validation MAE, so the estimate ends stage 1 there unless a better epoch comes;
``longest_seconds_left`` is the time if stage 1 runs all its epochs.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Callable

STAGE1_EPOCH_PER_CACHE_PASS = 1.0  # a stage-1 epoch, against caching every view once
STAGE2_EPOCH_PER_STAGE1_EPOCH = 0.1  # a head epoch on cached features, against an extractor epoch
STEP_PER_CACHED_VIEW = 0.3  # a vgg-s4 step (trained layers, forward and back), against caching one view
STEP_MESSAGE = re.compile(r"step (\d+)/(\d+)")


@dataclass
class Phase:
    """``units`` steps (None: known from the phase's reports); until measured, one unit takes ``prior``
    times a unit of the phase before (times all its units when ``per_pass``)."""

    name: str
    units: int | None
    prior: float = 1.0
    per_pass: bool = False
    units_per_report: int = 1


def run_plan(config, trainer: str) -> list[Phase]:
    """The phases of a run of ``config`` (a ``TrainingConfig``) by ``trainer`` ('csrnet' or 'vgg-s4')."""
    if trainer == "vgg-s4":
        every = max(1, math.ceil(config.steps / config.validations))
        return [Phase("cache", None), Phase("stage2", config.steps, STEP_PER_CACHED_VIEW, units_per_report=every)]
    phases = [Phase("cache", None)]
    if config.stage1_epochs > 0:
        phases.append(Phase("stage1", config.stage1_epochs, STAGE1_EPOCH_PER_CACHE_PASS, per_pass=True))
    phases.append(Phase("stage2", max(1, config.stage2_epochs), STAGE2_EPOCH_PER_STAGE1_EPOCH))
    return phases


class _Pace:
    """The reports of one phase: (units done, time) of its first and last report."""

    def __init__(self, start_time: float, first_units: int, first_time: float, start_units: int) -> None:
        self.start_time, self.start_units = start_time, start_units
        self.first, self.last = (first_units, first_time), (first_units, first_time)

    def seconds_per_unit(self) -> float | None:
        (u0, t0), (u1, t1) = self.first, self.last
        if u1 > u0:
            return (t1 - t0) / (u1 - u0)
        done = u1 - self.start_units
        return (t1 - self.start_time) / done if done > 0 else None


class EtaEstimator:
    """Seconds left, from the trainer's reports (``countxplain.training.Progress``)."""

    def __init__(self, plan: list[Phase], stage1_patience: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.plan = {phase.name: phase for phase in plan}
        self.order = [phase.name for phase in plan]
        self.patience = stage1_patience
        self.clock = clock
        self.paces: dict[str, _Pace] = {}
        self.current: str | None = None
        self.last_time = clock()
        self.best_stage1: tuple[float, int] | None = None  # (validation MAE, epoch)
        self.last_units = 0

    def update(self, progress) -> None:
        now = self.clock()
        phase = self.plan.get(progress.stage)
        if phase is not None and (units := self._units(progress, phase)) is not None:
            if progress.stage == "cache" and progress.epochs:
                phase.units = progress.epochs
            if progress.stage not in self.paces or progress.stage != self.current:
                start = max(0, units - phase.units_per_report)
                self.paces[progress.stage] = _Pace(self.last_time, units, now, start)
            self.paces[progress.stage].last = (units, now)
            self.current, self.last_units = progress.stage, units
            if progress.stage == "stage1" and progress.val_mae is not None:
                if self.best_stage1 is None or progress.val_mae < self.best_stage1[0]:
                    self.best_stage1 = (progress.val_mae, units)
        self.last_time = now

    @staticmethod
    def _units(progress, phase: Phase) -> int | None:
        if phase.name == "stage2" and phase.units_per_report > 1:
            match = STEP_MESSAGE.search(progress.message or "")
            return int(match.group(1)) if match else progress.epoch * phase.units_per_report
        return progress.epoch if progress.epoch > 0 else None

    def seconds_left(self) -> float | None:
        """The expected rest of the run (stage 1 ending at its patience unless it improves); None before
        the first measured step."""
        return self._left(early_stop=True)

    def longest_seconds_left(self) -> float | None:
        """The rest of the run if every phase runs all its steps."""
        return self._left(early_stop=False)

    def in_stage1(self) -> bool:
        return self.current == "stage1"

    def _left(self, early_stop: bool) -> float | None:
        if self.current is None:
            return None
        pace = self.paces[self.current].seconds_per_unit()
        if pace is None:
            return None
        index = self.order.index(self.current)
        total = max(0.0, self._units_left(self.current, early_stop) * pace - (self.clock() - self.last_time))
        previous = self.plan[self.current]
        for name in self.order[index + 1:]:
            phase = self.plan[name]
            measured = self.paces[name].seconds_per_unit() if name in self.paces else None
            if measured is None:
                measured = pace * phase.prior * ((previous.units or 1) if phase.per_pass else 1)
            pace = measured
            total += (phase.units or 0) * pace
            previous = phase
        return total

    def _units_left(self, name: str, early_stop: bool) -> int:
        phase = self.plan[name]
        end = phase.units or self.last_units
        if early_stop and name == "stage1" and self.patience and self.best_stage1 is not None:
            end = min(end, self.best_stage1[1] + self.patience)
        return max(0, end - self.last_units)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(math.ceil(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
