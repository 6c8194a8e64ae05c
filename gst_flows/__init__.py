"""gst-flows: device-scale atomistic modelling of Ge-Sb-Te phase-change materials."""

__version__ = "0.1.0"
