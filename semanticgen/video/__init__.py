"""Video I/O: discovery, probing, decoding, shot detection, scene-aware packing."""
