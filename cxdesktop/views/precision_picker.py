"""Number format of counting: Auto (bf16 where native and accurate for the model), fp32 or bf16."""

from __future__ import annotations

from PySide6.QtCore import Signal

from .choice_combo import ChoiceCombo

LABELS = {"auto": "Auto", "fp32": "fp32", "bf16": "bf16"}
TOOLTIPS = {
    "auto": "bfloat16 where the device computes it natively and this model's bf16 count stays within 0.5 % "
            "of fp32; fp32 otherwise",
    "fp32": "32-bit floats: the reference numbers",
    "bf16": "bfloat16 feature extractor: about twice as fast on CPUs with AVX-512 BF16 or AMX; counts move "
            "by a fraction of a per cent",
}


class PrecisionPicker(ChoiceCombo):
    sigPrecisionChosen = Signal(str)

    def __init__(self, preference: str = "auto", parent=None) -> None:
        super().__init__(LABELS, TOOLTIPS, preference, parent)
        self.setObjectName("precisionPicker")
        self.setToolTip("Number format the model counts in")
        self.activated.connect(lambda index: self.sigPrecisionChosen.emit(self.itemData(index)))
