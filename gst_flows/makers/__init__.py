"""makers layer of gst-flows."""
