"""The real window at its minimum width and after resizing: messages are seen, the image list and the
Explain dock stay readable."""

from __future__ import annotations

from app_fixtures import app_settings, drop_paths, small_images, wait_counted, window  # noqa: F401
from PySide6.QtCore import QRect


def rect_in_window(window, widget) -> QRect:
    return QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())


def settle(qtbot, window, width: int) -> None:
    window.resize(width, 700)
    qtbot.waitUntil(lambda: window.width() == width, timeout=5000)
    qtbot.wait(20)


def test_a_message_is_seen_beside_the_model_line_at_the_minimum_width(qtbot, window, tmp_path):
    info = window.session.model
    info.device_reason = "using the CPU: " + "a long reason why no GPU is used, " * 6
    window.status.set_model(info)
    narrow = window.minimumSizeHint().width()
    settle(qtbot, window, narrow)
    empty = tmp_path / "an empty folder"
    empty.mkdir()
    drop_paths(window, [empty])  # the user's action, and the app's answer
    message = window.status.message
    qtbot.waitUntil(lambda: message.isVisible() and message.width() > 0, timeout=5000)
    assert "Nothing to open" in message.text() and str(empty) in message.toolTip()
    assert message.shown_text().startswith("Nothing to open")
    shown = rect_in_window(window, message)
    assert window.rect().contains(shown)
    assert message.width() >= message.fontMetrics().horizontalAdvance("Nothing to open: …")
    model = window.status.model_label
    assert model.isVisible() and model.width() >= model.minimumWidth() > 0
    assert not shown.intersects(rect_in_window(window, model))  # neither covers the other
    assert model.is_elided() and model.toolTip().splitlines()[0] == model.text()
    assert message.timer.isActive() and message.timer.interval() >= 5000
    assert window.minimumSizeHint().width() == narrow  # the message never widens the window


def test_a_short_message_is_shown_whole_and_goes_after_its_time(qtbot, window):
    settle(qtbot, window, window.minimumSizeHint().width())
    window.status.showMessage("Density map written", 1)
    message = window.status.message
    assert message.isVisible() and not message.is_elided() and message.shown_text() == "Density map written"
    assert message.timer.interval() >= 5000  # a message asked for 1 ms still stays 5 s
    message.timer.timeout.emit()
    assert not message.isVisible() and window.status.currentMessage() == ""
