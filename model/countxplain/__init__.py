"""CountXplain: interpretable cell counting with prototype-based density maps.

This package is the Qt-free core of CountXplain Desktop: reading images and dot
annotations, count-exact density ground truth, the network, training, inference,
explanations, the model file and the ``countxplain`` command line.
"""

__version__ = "0.1.0"
