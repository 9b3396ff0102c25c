"""Training CountXplain models: one entry point (``train_model``) and its named recipes (``PRESETS``).

The app's Train button, ``countxplain train``, the default-model script and the benchmarks all
call ``train_model`` with a preset name (``default``: the shipped model's recipe, ``fine-tune``:
what a user's few annotated images get, ``paper``: the CountXplain paper's own recipe) and, where
they need to, a few named overrides. Beneath it: the two-stage ``Trainer`` (``trainer``), its
options (``config``), the training images, views and crops (``data``, ``views``), the losses, the
prototype projection and the record a trained model keeps of how it was made.
"""

from .config import TrainingConfig
from .entry import TrainingRun, train_model
from .presets import PRESETS, preset_config
from .trainer import Progress, Trainer

__all__ = ["PRESETS", "Progress", "Trainer", "TrainingConfig", "TrainingRun", "preset_config", "train_model"]
