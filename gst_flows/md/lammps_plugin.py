"""Former home of the plugin helpers, now :mod:`gst_flows.md.lammps.plugin`; kept for existing imports.

``python -m gst_flows.md.lammps_plugin`` still builds the plugin and prints its path.
"""

import sys

from gst_flows.md.lammps.plugin import *  # noqa: F403
from gst_flows.md.lammps.plugin import __all__, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
