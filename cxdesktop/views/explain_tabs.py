"""The Explain dock's tabs: short titles (whole in their tooltips) with a narrow padding, never scroll arrows.

Scroll buttons are off, so the tab widget asks for the width of all its tabs and the
dock never gets narrower than that: no tab is ever hidden behind an arrow.
"""

from __future__ import annotations

from PySide6.QtWidgets import QProxyStyle, QStyle, QTabWidget, QWidget

TAB_PADDING_PX = 12  # both sides together; Fusion's own is about 24


class CompactTabStyle(QProxyStyle):
    """The application's style with less room beside each tab's title."""

    def pixelMetric(self, metric, option=None, widget=None) -> int:  # noqa: N802 (Qt's name)
        if metric == QStyle.PixelMetric.PM_TabBarTabHSpace:
            return TAB_PADDING_PX
        return super().pixelMetric(metric, option, widget)


class ExplainTabs(QTabWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("explainTabs")
        self.setUsesScrollButtons(False)
        self._style = CompactTabStyle()  # no base given: it follows the application's style, owning none
        self._style.setParent(self)
        self.tabBar().setStyle(self._style)

    def add(self, widget: QWidget, title: str, tooltip: str) -> None:
        index = self.addTab(widget, title)
        self.setTabToolTip(index, tooltip)
