"""dft layer of gst-flows."""
