"""Alias of compute_cordinates.py under the spelling of the reference's later file name."""
import cmd  # noqa: F401  (first: see cmd.py)
import sys

from compute_cordinates import (compute_cordinates, cordinates_from_image_file, main,  # noqa: F401
                                multiscale_maps)

if __name__ == '__main__':
    sys.exit(main())
