"""The Settings box of the training window: the fields of the recipe that will actually run.

A CSRNet model trains in two stages (stage-1 and stage-2 epochs, the prototype losses); a
stride-4 VGG model (``extractor="vgg-s4"``) trains for a number of steps at one learning
rate, counting the validation images a few times (``countxplain.training.vgg_s4``).
``set_trainer`` shows the rows of one or the other; every other field of the
``TrainingConfig`` comes from the base configuration unchanged.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QSpinBox

VGG_S4, CSRNET = "vgg-s4", "csrnet"
# field: (label, minimum, maximum, decimals: None for an integer)
FIELDS = {"k_cell": ("Cell prototypes (K_cell)", 1, 64, None),
          "k_bg": ("Background prototypes (K_bg)", 1, 64, None),
          "stage2_epochs": ("Epochs (stage 2: prototypes)", 1, 100_000, None),
          "stage1_epochs": ("Stage-1 epochs (extractor)", 0, 100_000, None),
          "tau": ("Diversity threshold τ", 0.0, 1.0, 2),
          "lambda_density": ("Weight of the density loss", 0.0, 1e6, 3),
          "lambda_proto": ("Weight of the prototype loss", 0.0, 1e6, 3),
          "lambda_diversity": ("Weight of the diversity loss", 0.0, 1e6, 3),
          "steps": ("Training steps (one view each)", 1, 1_000_000, None),
          "lr": ("Learning rate (cosine decay)", 0.000001, 1.0, 6),
          "validations": ("Validations (the best is kept)", 1, 1000, None)}
TRAINER_FIELDS = {CSRNET: ("k_cell", "k_bg", "stage2_epochs", "stage1_epochs", "tau", "lambda_density",
                           "lambda_proto", "lambda_diversity"),
                  VGG_S4: ("k_cell", "k_bg", "steps", "lr", "validations")}
TRAINER_WORDS = {CSRNET: "CSRNet, two stages", VGG_S4: "stride-4 VGG, in steps"}


def _box(name: str) -> QSpinBox | QDoubleSpinBox:
    _, low, high, decimals = FIELDS[name]
    box = QSpinBox() if decimals is None else QDoubleSpinBox()
    if decimals is not None:
        box.setDecimals(decimals)
        box.setSingleStep(0.0001 if high <= 1.0 and decimals > 3 else 0.05 if high <= 1.0 else 1.0)
    box.setRange(low, high)
    box.setObjectName(name)
    box.setMaximumWidth(120)
    return box


class TrainingSettings(QGroupBox):
    sigChanged = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__("Settings", parent)
        self.form = QFormLayout(self)
        self.recipe = QLabel("")
        self.recipe.setObjectName("trainingRecipe")
        self.recipe.setWordWrap(True)
        self.form.addRow("Recipe", self.recipe)
        self.inputs: dict[str, QSpinBox | QDoubleSpinBox] = {}
        for name, (label, *_rest) in FIELDS.items():
            box = self.inputs[name] = _box(name)
            box.valueChanged.connect(self.sigChanged)
            self.form.addRow(label, box)
        self.val_share = QSpinBox()
        self.val_share.setObjectName("valShare")
        self.val_share.setRange(1, 90)
        self.val_share.setSuffix(" %")
        self.val_share.setValue(20)
        self.val_share.setMaximumWidth(120)
        self.val_share.valueChanged.connect(self.sigChanged)
        self.form.addRow("Validation share", self.val_share)
        self.trainer = CSRNET
        self.base_values: dict[str, float] = {}
        self.set_trainer(CSRNET)

    def set_values(self, config) -> None:
        """The form shows ``config``'s values (without a change signal)."""
        self.base_values = {name: getattr(config, name) for name in self.inputs}
        for name, box in self.inputs.items():
            box.blockSignals(True)
            box.setValue(self.base_values[name])
            box.blockSignals(False)

    def set_trainer(self, trainer: str) -> None:
        """Show the rows of ``trainer`` (``VGG_S4`` or ``CSRNET``)."""
        self.trainer = trainer
        for name, box in self.inputs.items():
            self.form.setRowVisible(box, name in TRAINER_FIELDS[trainer])

    def set_recipe(self, preset: str, words: str) -> None:
        self.recipe.setText(f"{preset} ({TRAINER_WORDS[self.trainer]})")
        self.recipe.setToolTip(f"{preset}: {words} (the library's named recipe, countxplain.training.PRESETS)")

    def values(self) -> dict[str, float]:
        """The fields the user changed from the base configuration, with their new values."""
        changed = {}
        for name, box in self.inputs.items():
            base = self.base_values.get(name)
            shown = base if base is None or isinstance(box, QSpinBox) else round(base, box.decimals())
            if box.value() != shown:
                changed[name] = box.value()
        return changed

    def visible_fields(self) -> tuple[str, ...]:
        return TRAINER_FIELDS[self.trainer]
