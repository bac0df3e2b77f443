"""dltutor: a terminal tutor for a 50-day deep-learning course in PyTorch."""

__version__ = "0.1.0"
