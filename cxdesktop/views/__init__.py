"""The app's views: small widgets with one job each, drawing with pyqtgraph.

Images are (rows, columns) arrays shown with the y axis pointing down, so view
coordinates are original image pixels (x = column, y = row) everywhere.
"""

import pyqtgraph as pg

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
