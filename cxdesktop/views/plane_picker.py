"""Page and channel of a multi-page or multichannel image: two combo boxes under the image, shown only when the
image has more than one page or channel. Choosing emits ``sigPlaneChosen(page, channel)`` (0-based; None: all
planes or channels, as colour); the entry shown is never changed here."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from ..plane_text import page_label

ALL_AS_COLOUR = "all (colour)"


class PlanePicker(QWidget):
    sigPlaneChosen = Signal(object, object)  # page, channel

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.page = QComboBox()
        self.page.setObjectName("pagePicker")
        self.page.setToolTip("Which page (or Z, T or C plane) of this file is shown and counted")
        self.channel = QComboBox()
        self.channel.setObjectName("channelPicker")
        self.channel.setToolTip("Which channel of this image is shown and counted")
        self.page_label, self.channel_label = QLabel("Page"), QLabel("Channel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.page_label, self.page, self.channel_label, self.channel):
            layout.addWidget(widget)
        self.page.activated.connect(self._chosen)
        self.channel.activated.connect(self._chosen)
        self.hide()

    def set_entry(self, entry) -> None:
        """Offer the pages and channels of ``entry``'s file, the ones read selected; hidden when there is no choice."""
        planes = getattr(entry, "planes", None)
        pages, channels = [], []
        if planes is not None and planes.pages > 1:
            pages = [(None, ALL_AS_COLOUR)] if planes.colour_planes else []
            pages += [(i, page_label(planes, i)) for i in range(planes.pages)]
        if entry is not None and entry.channels > 1:
            channels = [(None, ALL_AS_COLOUR)] if entry.channels in (3, 4) else []
            channels += [(i, str(i + 1)) for i in range(entry.channels)]
        _fill(self.page, pages, getattr(entry, "read_page", None))
        _fill(self.channel, channels, getattr(entry, "read_channel", None))
        for label, combo in ((self.page_label, self.page), (self.channel_label, self.channel)):
            label.setVisible(combo.count() > 0)
            combo.setVisible(combo.count() > 0)
        self.setVisible(self.page.count() > 0 or self.channel.count() > 0)

    def choice(self) -> tuple[int | None, int | None]:
        return (self.page.currentData() if self.page.count() else None,
                self.channel.currentData() if self.channel.count() else None)

    def choose(self, page: int | None, channel: int | None) -> None:
        """Select ``page`` and ``channel`` and emit them, as a user's choice does."""
        for combo, key in ((self.page, page), (self.channel, channel)):
            if combo.count():
                combo.setCurrentIndex(max(combo.findData(key), 0))
        self._chosen()

    def _chosen(self, *_args) -> None:
        self.sigPlaneChosen.emit(*self.choice())


def _fill(combo: QComboBox, choices: list, current) -> None:
    combo.blockSignals(True)
    combo.clear()
    for key, label in choices:
        combo.addItem(label, key)
    if choices:
        combo.setCurrentIndex(max(combo.findData(current), 0))
    combo.blockSignals(False)
