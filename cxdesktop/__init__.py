"""CountXplain Desktop: the Qt application around the Qt-free ``countxplain`` library.

Widgets render state and send requests; every piece of tensor work goes through the one
job runner (``cxdesktop.jobs``) on a worker thread. Importing this package, the main
window or any view never imports torch: the model loads in the worker.
"""

__version__ = "0.1.0"
APP_NAME = "CountXplain Desktop"
ORGANISATION = "CountXplain"
