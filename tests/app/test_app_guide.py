"""Help › User guide: a short guide shipped in the package, read offline, covering each main task with
a screenshot of it; it ships in the wheel and in the PyInstaller bundle."""

from __future__ import annotations

import re
import tomllib

from helpers import REPO_ROOT

TASKS = ("Open images", "drag", "Count", "Measure a cell", "Annotate dots", "Train (fine-tune) a model",
         "prototypes", "contributions", "Export")
SCREENSHOTS = ("open.png", "count.png", "measure.png", "annotate.png", "train.png", "prototypes.png",
               "contributions.png", "export.png")


def test_help_user_guide_opens_the_guide_with_every_task_and_its_screenshot(qtbot, window):
    from PySide6.QtGui import QImage, QPixmap, QTextDocument

    help_menu = [a.menu() for a in window.menuBar().actions() if a.text() == "&Help"][0]
    action = [a for a in help_menu.actions() if a.text() == "User guide"][0]
    action.trigger()
    dialog = window._dialogs[-1]
    assert dialog.isVisible() and dialog.windowTitle() == "User guide"
    text = dialog.browser.toPlainText()
    for task in TASKS:
        assert task in text, task
    assert not dialog.browser.openExternalLinks()
    source = dialog.browser.source().toLocalFile()
    shown = re.findall(r'<img src="([^"]+)"', open(source, encoding="utf-8").read())
    assert sorted(shown) == sorted(SCREENSHOTS)
    for name in shown:  # each picture is found and drawn by the browser itself
        image = dialog.browser.document().resource(QTextDocument.ResourceType.ImageResource,
                                                   dialog.browser.source().resolved(name))
        assert isinstance(image, (QImage, QPixmap)) and not image.isNull() and image.width() >= 600, name
    dialog.close()


def test_the_guide_follows_its_own_contents_links(qtbot, window):
    dialog = window.show_guide()
    browser = dialog.browser
    browser.setSource(browser.source().resolved("#train"))
    assert browser.source().fragment() == "train"
    assert browser.verticalScrollBar().value() > 0  # scrolled down to the section
    from PySide6.QtWidgets import QPushButton

    back = dialog.findChild(QPushButton, "guideBack")
    assert back.isEnabled()
    back.click()
    assert browser.source().fragment() == ""
    dialog.close()


def test_the_guide_ships_small_in_the_wheel_and_the_bundle():
    from cxdesktop.views.guide import GUIDE_DIR

    for name in SCREENSHOTS:
        assert (GUIDE_DIR / name).stat().st_size < 150_000, name
    package_data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "resources/guide/*" in package_data["cxdesktop"]
    spec = (REPO_ROOT / "build_spec" / "cxdesktop.spec").read_text()
    assert '"cxdesktop/resources/guide"' in spec
