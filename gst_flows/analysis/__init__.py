"""analysis layer of gst-flows."""
