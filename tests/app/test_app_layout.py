"""The real window at its minimum width and after resizing: messages are seen, the image list and the
Explain dock stay readable."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt

from helpers.app import drop_paths, wait_counted


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


def column_inside(view, column) -> bool:
    return 0 <= view.columnViewportPosition(column) and \
        view.columnViewportPosition(column) + view.columnWidth(column) <= view.viewport().width()


def test_the_image_list_stays_readable_narrow_then_wide(qtbot, window, small_images, corrupt_png):
    from cxdesktop.browser import COUNT_COLUMN, FILE_COLUMN

    folder = small_images[0].parent
    twins = []
    for i in range(4):  # names that differ only near their end
        twin = folder / f"BM_GRAZ_HE_0000_experiment_2024_slide_{i}.png"
        twin.write_bytes(small_images[i % len(small_images)].read_bytes())
        twins.append(twin)
    drop_paths(window, twins + [corrupt_png])
    wait_counted(qtbot, window, twins + [corrupt_png])
    view = window.browser.view
    metrics = view.fontMetrics()
    for width in (window.minimumSizeHint().width(), 1800, window.minimumSizeHint().width(), 1280):
        settle(qtbot, window, width)
        qtbot.waitUntil(lambda: column_inside(view, COUNT_COLUMN), timeout=5000)
        widest = max(metrics.horizontalAdvance(f"{window.session.store[str(p)].count:.1f}") for p in twins)
        assert view.columnWidth(COUNT_COLUMN) >= widest
        shown = {metrics.elidedText(p.name, view.textElideMode(), view.columnWidth(FILE_COLUMN) - 8) for p in twins}
        assert len(shown) == len(twins)  # each name still tells its image apart
        assert all(text.startswith("BM_") for text in shown)
    error = window.session.store[str(corrupt_png)].error
    assert view.columnWidth(COUNT_COLUMN) < metrics.horizontalAdvance(f"⚠ {error}")  # a reason never widens it
    model = window.browser.model
    assert model.index(model.row_of(str(twins[0])), FILE_COLUMN).data(Qt.ItemDataRole.ToolTipRole) == str(twins[0])


def test_the_explain_tabs_all_show_without_scroll_arrows(qtbot, window):
    from PySide6.QtWidgets import QToolButton

    bar = window.tabs.tabBar()
    for width in (window.minimumSizeHint().width(), 1280):
        settle(qtbot, window, width)
        arrows = [b for b in bar.findChildren(QToolButton) if b.isVisible()]
        assert arrows == []
        for i in range(bar.count()):
            assert bar.rect().contains(bar.tabRect(i)), bar.tabText(i)
            assert bar.fontMetrics().horizontalAdvance(bar.tabText(i)) < bar.tabRect(i).width()
        assert window.tabs.tabToolTip(window.tabs.indexOf(window.contributions)).startswith("Contributions")


def test_the_map_on_the_canvas_is_named_and_one_click_returns_to_the_density(qtbot, window, small_images):
    drop_paths(window, small_images[:1])
    wait_counted(qtbot, window, small_images[:1])
    view = window.image_view
    qtbot.waitUntil(lambda: view._density is not None, timeout=60_000)
    badge = view.badge
    assert badge.isVisible() and badge.name.text().startswith("Density") and not badge.back.isVisible()
    assert view.colorbar.isVisible() and not view.similarity_bar.isVisible()
    assert view.canvas.rect().contains(rect_in_window(view.canvas, badge))
    window.prototypes.choose(1)  # the tiny model's C2
    qtbot.waitUntil(lambda: view.similarity_item.isVisible(), timeout=60_000)
    assert badge.name.text().startswith("Similarity: C2") and badge.back.isVisible()
    assert view.similarity_bar.isVisible() and not view.colorbar.isVisible()  # the bar follows the map
    assert list(view.similarity_bar.levels()) == view.similarity_item.levels.tolist()
    qtbot.mouseClick(badge.back, Qt.MouseButton.LeftButton)
    assert window.prototypes.current() == -1 and not view.similarity_item.isVisible()
    assert view.density_item.isVisible() and view.colorbar.isVisible() and not view.similarity_bar.isVisible()
    assert badge.name.text().startswith("Density") and not badge.back.isVisible()
