"""fit layer of gst-flows."""
