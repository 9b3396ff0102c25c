"""Reading microscopy images into one float layout.

Every reader returns ``ImageData.pixels``: float32, shape (H, W, 3), values in [0, 1].

Normalisation (documented, applied in this order):

* 8-bit integer data is divided by 255, exactly as the model was trained.
* Other integer data (12/16/32-bit) and float data outside [0, 1] are scaled with a
  robust percentile stretch: the 0.1th percentile maps to 0 and the 99.9th to 1,
  computed over all channels together, then clipped. Dim 16-bit images (which use a
  few thousand of 65,535 levels) therefore neither vanish to black nor saturate.
* Float data already inside [0, 1] is kept as it is.
* NaN and infinite pixels are ignored when deciding the above (the stretch percentiles
  and the [0, 1] test use the finite values only) and are then filled, channel by channel:
  a pixel with finite pixels among its 8 neighbours takes their mean (done twice, so holes
  up to 4 pixels wide close from their edges), any other takes the median of the
  channel's finite values. Scattered missing pixels thus take their surroundings' value
  and barely change the count; a large masked-out area becomes flat median background.
  An image with no finite value at all is refused.
* Grayscale is replicated to three channels; an alpha channel is dropped.

Colour is read as the file means it: palette images (PNG, BMP, TIFF with a colormap) through
their palette, never as indices; CMYK as RGB; a TIFF that stores 0 as white
(``MinIsWhite``) inverted. Complex pixel values and colour spaces other than gray, RGB,
palette, CMYK and YCbCr are refused.

The decoder is chosen by the file's content (a PNG named ``.tif`` is read as PNG); the
name must still end in one of ``IMAGE_SUFFIXES``. An image whose header declares more than
``pixel_limit()`` pixels is refused before any pixel data is read, and TIFF pixel data that
runs past the end of the file is refused rather than filled in. Warnings and log messages of
the decoders (Pillow, tifffile, numpy) never reach the terminal: a refusal's reason carries
the first of them when they explain it.

The network then subtracts the ImageNet mean and divides by its standard deviation
(``IMAGENET_MEAN`` / ``IMAGENET_STD``), as the CSRNet feature extractor expects.
"""

from .channels import to_rgb_float
from .intensity import IMAGENET_MEAN, IMAGENET_STD, normalise_intensity
from .reading import IMAGE_SUFFIXES, ImageData, is_image_file, read_image
from .refusals import MIN_SIDE, pixel_limit
from .resize import resize_pixels, stride_fitted_shape

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "IMAGE_SUFFIXES", "MIN_SIDE", "ImageData", "is_image_file",
           "normalise_intensity", "pixel_limit", "read_image", "resize_pixels", "stride_fitted_shape", "to_rgb_float"]
