"""Storage I/O shared by every part of the library: paths and URIs (``uri``) and training-checkpoint
folders on local disks or object stores (``checkpoints``). Nothing here knows about video or models."""
