"""Which annotated images a training run can use, each refusal with its reason (Qt-free).

Before a run every listed image with a dot file is checked as training would read it: the
image must be readable, its dot file readable, with at least one dot, and every dot inside
the image. ``check_images`` runs in the job runner: an image whose size the app knows
already (it was counted) is not read again; any other is read once. ``too_few_problem``
says, in words, when too few usable images are checked for the validation rule
(``countxplain.datasets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from countxplain.datasets import MIN_TRAINING_IMAGES, validation_count
from countxplain.errors import Cancelled, CountXplainError


@dataclass(frozen=True)
class CheckItem:
    """One listed image with a dot file, as the GUI knows it (no file read yet)."""

    path: str
    sidecar: str
    shape: tuple[int, int] | None = None  # (height, width) when the image was read already


@dataclass(frozen=True)
class ImageCheck:
    """The outcome for one image: its dots (None: not read) and why it is excluded (None: usable)."""

    path: str
    dots: int | None
    reason: str | None = None

    @property
    def usable(self) -> bool:
        return self.reason is None


def _reason_of(error: Exception, path: str) -> str:
    message = str(error)
    for prefix in (f"{path}: ", f"{Path(path).name}: "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def image_shape(item: CheckItem) -> tuple[int, int]:
    """(height, width) of the image: known, or read as training reads it."""
    if item.shape is not None:
        return item.shape
    from countxplain.images import read_image

    image = read_image(item.path)
    return image.height, image.width


def check_image(item: CheckItem) -> ImageCheck:
    """Whether training can use ``item``, and why not."""
    from countxplain.annotations import check_dots_inside, read_dots

    try:
        dots = read_dots(item.sidecar)
    except (CountXplainError, OSError, ValueError) as error:
        return ImageCheck(item.path, None, f"dot file cannot be read: {_reason_of(error, item.sidecar)}")
    if len(dots) == 0:
        return ImageCheck(item.path, 0, "no dots: annotate its cells first")
    try:
        shape = image_shape(item)
    except (CountXplainError, OSError, ValueError) as error:
        return ImageCheck(item.path, len(dots), f"image cannot be read: {_reason_of(error, item.path)}")
    try:
        check_dots_inside(Path(item.sidecar), dots, shape)
    except CountXplainError as error:
        return ImageCheck(item.path, len(dots), _reason_of(error, item.sidecar))
    return ImageCheck(item.path, len(dots))


def check_images(items: Sequence[CheckItem], cancel: Callable[[], bool] = lambda: False) -> list[ImageCheck]:
    """``check_image`` of every item, in order (a job function: stops when ``cancel`` says so)."""
    checks = []
    for item in items:
        if cancel():
            raise Cancelled()
        checks.append(check_image(item))
    return checks


def too_few_problem(n_checked: int, n_excluded: int, share: float) -> str | None:
    """Why ``n_checked`` usable images are too few to train with validation ``share``, or None."""
    n_val = validation_count(n_checked, share)
    if n_checked >= MIN_TRAINING_IMAGES and 0 < n_val < n_checked:
        return None
    excluded = (f" {n_excluded} annotated image{'s are' if n_excluded != 1 else ' is'} excluded (the reason is "
                "beside each).") if n_excluded else ""
    return (f"Training needs at least {MIN_TRAINING_IMAGES} annotated images: one or more are set aside for "
            f"validation. {n_checked} {'is' if n_checked == 1 else 'are'} checked.{excluded} Annotate images in the "
            f"Annotate tab (their dots are saved beside them) and check them here.")
