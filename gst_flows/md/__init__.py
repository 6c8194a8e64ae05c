"""md layer of gst-flows."""
