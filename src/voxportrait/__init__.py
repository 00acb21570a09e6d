"""voxportrait: one portrait photo + one speech recording -> a lip-synced talking-head video."""

__version__ = "0.1.0"
