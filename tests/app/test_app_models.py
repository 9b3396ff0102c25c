"""Models and devices in the window: a refused model file shows its reason, the model card,
the device picker, and the Help dialogs."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from helpers.app import drop_paths, wait_counted
from helpers.model_files import with_weight_byte_flipped


def visible_error_boxes(window) -> list[QMessageBox]:
    return [box for box in window.findChildren(QMessageBox) if box.isVisible()]


@pytest.mark.parametrize("damage,reason", [("text", "not a CountXplain model file"), ("flipped-weight", "damaged")])
def test_a_bad_model_file_is_refused_with_its_reason(qtbot, window, tmp_path, shipped_model_path, damage, reason):
    bad = tmp_path / "broken.cxm"
    if damage == "text":
        bad.write_bytes(b"not a model at all")
    else:
        bad.write_bytes(with_weight_byte_flipped(shipped_model_path.read_bytes())[0])
    window.open_model(bad)
    qtbot.waitUntil(lambda: bool(visible_error_boxes(window)), timeout=60_000)
    box = visible_error_boxes(window)[0]
    assert reason in box.text() and str(bad) in box.text()
    assert window.session.model.name == "tiny test model"  # the previous model stays in use
    assert window.status.model_label.text().startswith("Model: tiny test model")
    box.close()


def test_opening_a_model_recounts_the_listed_images(qtbot, window, small_images, tiny_model_file):
    drop_paths(window, small_images[:1])
    wait_counted(qtbot, window, small_images[:1])
    runs_before = sum(1 for _, kind, _, _ in window.runner.thread_log if kind == "count")
    window.open_model(tiny_model_file)
    qtbot.waitUntil(lambda: sum(1 for _, kind, _, _ in window.runner.thread_log if kind == "count") > runs_before,
                    timeout=60_000)
    wait_counted(qtbot, window, small_images[:1])
    qtbot.waitUntil(lambda: window.session.store[str(small_images[0])].status == "done", timeout=60_000)


def test_model_card_shows_provenance_and_architecture(window):
    dialog = window.show_model_card()
    dialog.full_record_button.click()  # the card first; its full record one click further
    text = dialog.browser.toPlainText()
    assert "tiny test model" in text and "k_cell" in text and "cell_diameter_px" in text
    dialog.close()


def test_device_picker_offers_only_usable_devices(qtbot, window):
    from countxplain.device import usable_devices

    picker = window.status.device_picker
    devices = usable_devices()
    qtbot.waitUntil(lambda: picker.model().item(picker.findData("cuda")).toolTip() != "checking…", timeout=60_000)
    assert picker.is_enabled("cpu") and picker.is_enabled("auto")
    for name in ("cuda", "mps"):
        assert picker.is_enabled(name) == (devices[name] is None)
        if devices[name] is not None:
            assert picker.model().item(picker.findData(name)).toolTip() == devices[name]
    picker.setCurrentIndex(picker.findData("cpu"))
    picker.activated.emit(picker.findData("cpu"))
    qtbot.waitUntil(lambda: window.session.model.device_reason == "CPU chosen", timeout=60_000)
    assert window.settings.device == "cpu"
    assert window.status.model_label.text() == f"Model: tiny test model · CPU · {window.session.model.precision}"


def choose(picker, key) -> None:
    """What a user's pick in a status-bar combo box sends."""
    picker.setCurrentIndex(picker.findData(key))
    picker.activated.emit(picker.findData(key))


def test_precision_picker_switches_the_counter_recounts_and_is_remembered(qtbot, window, small_images):
    drop_paths(window, small_images[:1])
    wait_counted(qtbot, window, small_images[:1])

    def entry():
        return window.session.store[str(small_images[0])]

    picker = window.status.precision_picker
    assert window.session.model.precision in ("fp32", "bf16")  # 'auto' resolved by the worker
    assert window.session.model.precision_reason.startswith(window.session.model.precision)
    assert entry().analysis.precision == window.session.model.precision
    for choice in ("fp32", "bf16", "fp32"):
        choose(picker, choice)
        qtbot.waitUntil(lambda choice=choice: window.session.model.precision == choice, timeout=60_000)
        assert window.settings.precision == choice
        assert window.status.model_label.text().endswith(f"· {choice}")
        # the listed counts are made again at the precision the status bar names
        qtbot.waitUntil(lambda choice=choice: entry().status == "done" and entry().analysis.precision == choice,
                        timeout=60_000)


def test_pickers_chosen_while_the_model_loads_take_effect(qtbot, tiny_model_file, app_settings, small_images):
    from cxdesktop.main_window import MainWindow

    win = MainWindow(model_path=tiny_model_file, settings=app_settings)
    qtbot.addWidget(win)
    win.show()
    assert win.session.model is None  # its load is still on its way to the GUI thread
    choose(win.status.flips_picker, 4)
    choose(win.status.precision_picker, "fp32")
    qtbot.waitUntil(lambda: win.session.model is not None and win.session.model.flips == 4
                    and win.session.model.precision == "fp32", timeout=60_000)
    drop_paths(win, small_images[:1])
    wait_counted(qtbot, win, small_images[:1])
    analysis = win.session.store[str(small_images[0])].analysis
    assert analysis.result.flips == 4 and analysis.precision == "fp32"
    assert win.status.model_label.text().endswith("fp32 · 4 views")
    win.close()


def test_maps_picker_recounts_with_mirror_images_and_is_remembered(qtbot, window, small_images):
    """Choosing 4 views counts every listed image again with its maps averaged over its mirror images."""
    drop_paths(window, small_images[:1])
    wait_counted(qtbot, window, small_images[:1])

    def entry():
        return window.session.store[str(small_images[0])]

    assert entry().analysis.result.flips == 1 and window.session.model.flips == 1
    picker = window.status.flips_picker
    for choice in (4, 1):
        choose(picker, choice)
        qtbot.waitUntil(lambda choice=choice: entry().analysis is not None and entry().analysis.result.flips == choice
                        and entry().status == "done", timeout=60_000)
        assert window.session.model.flips == choice and window.settings.flips == choice
        assert window.status.model_label.text().endswith(" · 4 views") == (choice == 4)
        assert ("4 views averaged" in window.summary.details.text()) == (choice == 4)
        result = entry().analysis.result
        assert entry().analysis.contributions.total == pytest.approx(result.count, rel=1e-5)


def test_status_bar_gives_the_reason_a_gpu_is_not_used(window):
    from cxdesktop.status_bar import device_text

    info = window.session.model
    if info.device.startswith("cpu") and info.device_reason.startswith("using the CPU: "):
        assert info.device_reason[len("using the CPU: "):] in window.status.model_label.text()
    info.device_reason = "using the CPU: no NVIDIA GPU or driver found"
    assert device_text(info) == "CPU (no NVIDIA GPU or driver found)"


def test_help_dialogs_list_shortcuts_and_versions(window):
    from importlib import metadata

    shortcuts = window.show_shortcuts().browser.toPlainText()
    assert "Ctrl+O" in shortcuts and "Open images" in shortcuts and "Up / Down" in shortcuts
    about = window.show_about().browser.toPlainText()
    assert metadata.version("torch") in about and metadata.version("pyqtgraph") in about and "Qt" in about


def test_window_geometry_and_device_persist(qtbot, tiny_model_file, app_settings):
    from cxdesktop.main_window import MainWindow

    first = MainWindow(model_path=tiny_model_file, settings=app_settings)
    qtbot.addWidget(first)
    first.show()
    first.resize(first.width(), 503)  # the offscreen screen is small; its height is what we can vary
    app_settings.device = "cpu"
    first.close()
    second = MainWindow(model_path=tiny_model_file, settings=app_settings)
    qtbot.addWidget(second)
    assert second.size().height() == 503 and second.session.device_pref == "cpu"
    qtbot.waitUntil(lambda: second.session.model is not None, timeout=60_000)
    assert second.session.model.device == "cpu"
    second.close()


def test_without_a_model_images_fail_and_count_once_one_is_opened(
        qtbot, tmp_path, tiny_model_file, app_settings, small_images):
    from cxdesktop.main_window import MainWindow

    missing = tmp_path / "missing.cxm"
    win = MainWindow(model_path=missing, settings=app_settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: "No model" in win.status.model_label.text(), timeout=60_000)
    assert "file does not exist" in win.status.model_label.text()
    for box in visible_error_boxes(win):
        box.close()
    drop_paths(win, small_images[:1])
    wait_counted(qtbot, win, small_images[:1])
    entry = win.session.store[str(small_images[0])]
    assert entry.status == "error" and "no model" in entry.error
    win.open_model(tiny_model_file)
    qtbot.waitUntil(lambda: entry.status == "done", timeout=60_000)
    assert entry.count > 0
    win.close()


def test_a_long_model_line_is_cut_short_not_widening_the_window(window):
    label = window.status.model_label
    narrow = window.minimumSizeHint().width()
    info = window.session.model
    info.device_reason = "using the CPU: " + "a very long reason why no GPU is used, " * 12
    window.status.set_model(info)
    assert label.fontMetrics().horizontalAdvance(label.text()) > 1500
    assert window.minimumSizeHint().width() == narrow
    window.resize(narrow, 600)
    assert label.is_elided() and label.toolTip().splitlines()[0] == label.text()  # whole in the tooltip
