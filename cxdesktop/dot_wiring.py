"""What the window does when dots change: the list's Dots column follows, the annotator's messages reach the
status bar, and an image listed anew from a copy (a shipped sample about to be annotated) keeps its row and
stays on screen."""

from __future__ import annotations


def wire_dots(window) -> None:
    annotator, browser, session = window.annotator, window.browser, window.session
    annotator.sigDotsChanged.connect(browser.refresh)
    annotator.sigMessage.connect(lambda text, error: (window.status.show_error_message if error
                                                      else window.status.showMessage)(text))
    session.sigEntryMoved.connect(lambda old, new: _entry_moved(window, old, new))


def _entry_moved(window, old: str, new: str) -> None:
    window.browser.rename_path(old, new)
    if window.session.current == new:
        window.current_image.show(new)
    window.keeper.schedule_save()
    window.refresh_training_images()
