"""The status bar: messages to the user, batch progress with Cancel, the model, device (with the reason a GPU
is not used), precision and maps.

Messages have a label of their own (``StatusMessage``) at the left: QStatusBar's own temporary message is
drawn in the space its permanent widgets leave, and the model line fills that space.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from .views.device_picker import DevicePicker
from .views.elided_label import ElidedLabel
from .views.flips_picker import FlipsPicker
from .views.precision_picker import PrecisionPicker
from .views.status_message import DEFAULT_SHOWN_MS, StatusMessage

MODEL_LINE_MIN_CHARS = 24  # the model line never shrinks below this many average characters


def device_text(info) -> str:
    """'CPU' or 'CUDA (name)', plus why no GPU is used when the CPU was a fallback."""
    reason = info.device_reason or ""
    if info.device.startswith("cpu") and reason.startswith("using the CPU: "):
        return f"{info.device_label} ({reason[len('using the CPU: '):]})"
    return info.device_label


class StatusBar(QStatusBar):
    sigCancelBatch = Signal()

    def __init__(self, device_preference: str = "auto", precision_preference: str = "auto", flips_preference: int = 1,
                 parent=None) -> None:
        super().__init__(parent)
        self.message = StatusMessage()
        self.progress = QProgressBar()
        self.progress.setObjectName("batchProgress")
        self.progress.setMaximumWidth(180)
        self.progress.setFormat("%v / %m counted")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelBatch")
        self.cancel_button.setToolTip("Stop counting the remaining images")
        self.model_label = ElidedLabel("Loading model…")
        self.model_label.setObjectName("modelLabel")
        self.model_label.setMinimumWidth(self.fontMetrics().averageCharWidth() * MODEL_LINE_MIN_CHARS)
        self.device_picker = DevicePicker(device_preference)
        self.precision_picker = PrecisionPicker(precision_preference)
        self.flips_picker = FlipsPicker(flips_preference)
        self.addPermanentWidget(self.message)
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.cancel_button)
        self.addPermanentWidget(self.model_label, 1)
        self.addPermanentWidget(QLabel("Device:"))
        self.addPermanentWidget(self.device_picker)
        self.addPermanentWidget(QLabel("Precision:"))
        self.addPermanentWidget(self.precision_picker)
        self.addPermanentWidget(QLabel("Maps:"))
        self.addPermanentWidget(self.flips_picker)
        self.set_batch(0, 0)
        self.cancel_button.clicked.connect(self.sigCancelBatch)

    def showMessage(self, text: str, timeout: int = DEFAULT_SHOWN_MS) -> None:  # noqa: N802 (QStatusBar's name)
        """Every message goes to the message label (QStatusBar's own would be hidden behind the model line)."""
        self.message.show_message(text, timeout)

    def show_error_message(self, text: str, timeout: int = DEFAULT_SHOWN_MS) -> None:
        self.message.show_message(text, timeout, error=True)

    def currentMessage(self) -> str:  # noqa: N802
        return self.message.text()

    def clearMessage(self) -> None:  # noqa: N802
        self.message.clear_message()

    def set_batch(self, done: int, total: int) -> None:
        busy = total > 0
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def set_model(self, info) -> None:
        views = f" · {info.flips} views" if info.flips > 1 else ""
        text = f"Model: {info.name} · {device_text(info)} · {info.precision}{views}"
        self.model_label.setText(text)
        self.model_label.setToolTip("\n".join(t for t in (text, info.path, info.device_reason, info.precision_reason)
                                              if t))

    def set_model_error(self, message: str) -> None:
        self.model_label.setText(f"No model: {message}")
        self.model_label.setStyleSheet("color: #c81e1e;")
        self.model_label.setToolTip(message)

    def set_model_loading(self, path: str) -> None:
        self.model_label.setStyleSheet("")
        self.model_label.setText("Loading model…")
        self.model_label.setToolTip(path)
