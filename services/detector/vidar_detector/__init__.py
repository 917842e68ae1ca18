"""vidar detector: decoding and the detection job loop."""
