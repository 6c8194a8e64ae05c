"""schemas layer of gst-flows."""
