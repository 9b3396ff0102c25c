"""The Qt-free side of training in the app: the time-left estimate, the loss shown."""

from __future__ import annotations

import pytest

from cxdesktop.training_eta import EtaEstimator, format_duration, run_plan
from cxdesktop.training_job import weighted_loss


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_time_left_is_paced_per_stage():
    from countxplain.training import Progress, TrainingConfig

    clock = Clock()
    eta = EtaEstimator(run_plan(TrainingConfig(stage1_epochs=10, stage2_epochs=100), "csrnet"), clock=clock)
    assert eta.seconds_left() is None
    clock.now = 20.0
    eta.update(Progress("stage1", 1, 10))
    clock.now = 30.0
    eta.update(Progress("stage1", 2, 10))  # 10 s per stage-1 epoch between reports; stage 2 guessed at a tenth
    assert eta.seconds_left() == pytest.approx(8 * 10 + 100 * 1.0)
    assert eta.in_stage1()
    clock.now = 130.0
    eta.update(Progress("stage1", 5, 10))  # stage 1 stopped early (patience) at epoch 5
    clock.now = 131.0
    eta.update(Progress("stage2", 1, 100))
    clock.now = 132.0
    eta.update(Progress("stage2", 2, 100))  # 1 s per stage-2 epoch
    assert eta.seconds_left() == pytest.approx(98)
    clock.now = 140.0  # time passes without a report: the estimate counts down
    assert eta.seconds_left() == pytest.approx(90)


def test_a_resumed_run_is_paced_from_its_own_first_epoch():
    from countxplain.training import Progress, TrainingConfig

    clock = Clock()
    eta = EtaEstimator(run_plan(TrainingConfig(stage1_epochs=10, stage2_epochs=50), "csrnet"), clock=clock)
    clock.now = 4.0
    eta.update(Progress("stage2", 41, 50))  # resumed after epoch 40
    assert eta.seconds_left() == pytest.approx(9 * 4)


def test_durations_read_naturally():
    assert format_duration(0.2) == "1 s"
    assert format_duration(59) == "59 s"
    assert format_duration(180) == "3 min"
    assert format_duration(3 * 3600 + 5 * 60) == "3 h 05 min"


def test_the_loss_curve_shows_stage_2_as_the_weighted_total():
    from countxplain.training import Progress, TrainingConfig

    config = TrainingConfig(lambda_density=1.0, lambda_proto=0.5, lambda_diversity=100.0)
    stage2 = Progress("stage2", 3, 10, {"density": 2.0, "proto": 4.0, "diversity": 0.01})
    assert weighted_loss(stage2, config) == pytest.approx(2.0 + 2.0 + 1.0)
    assert weighted_loss(Progress("stage1", 1, 5, {"density": 0.3}), config) == pytest.approx(0.3)
    assert weighted_loss(Progress("cache", 1, 5), config) is None
