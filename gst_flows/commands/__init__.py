"""Sub-commands of the ``gst-flows`` command line; each module has ``add_parser``."""
