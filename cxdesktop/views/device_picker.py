"""Where counting runs: Auto, CPU, and CUDA/MPS when usable (disabled with the reason otherwise)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox

LABELS = {"auto": "Auto", "cpu": "CPU", "cuda": "CUDA (NVIDIA GPU)", "mps": "MPS (Apple GPU)"}


class DevicePicker(QComboBox):
    sigDeviceChosen = Signal(str)

    def __init__(self, preference: str = "auto", parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("devicePicker")
        self.setToolTip("Device that runs the model")
        for key, label in LABELS.items():
            self.addItem(label, key)
        self.set_devices({"cpu": None, "cuda": "checking…", "mps": "checking…"})
        self.set_choice(preference)
        self.activated.connect(lambda index: self.sigDeviceChosen.emit(self.itemData(index)))

    def set_devices(self, devices: dict[str, str | None]) -> None:
        """Enable usable devices; an unusable one is disabled with its reason as tooltip."""
        model = self.model()
        for row in range(self.count()):
            key = self.itemData(row)
            reason = devices.get(key) if key != "auto" else None
            item = model.item(row)
            item.setEnabled(reason is None)
            item.setToolTip(reason or "")
            self.setItemData(row, reason or LABELS[key], Qt.ItemDataRole.ToolTipRole)

    def is_enabled(self, key: str) -> bool:
        row = self.findData(key)
        return row >= 0 and self.model().item(row).isEnabled()

    def set_choice(self, key: str) -> None:
        row = self.findData(key)
        if row >= 0 and self.model().item(row).isEnabled():
            self.setCurrentIndex(row)
        elif row >= 0:
            self.setCurrentIndex(self.findData("auto"))

    def choice(self) -> str:
        return self.currentData()
