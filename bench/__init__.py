"""bench: an open benchmark suite and leaderboard for efficient, on-device image restoration."""

__version__ = "0.1.0"
