"""flows layer of gst-flows."""
