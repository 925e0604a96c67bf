"""torchlint: a linter for PyTorch training code.

It finds the bugs that do not crash: the model trains, the loss goes down a
little, and the result is useless.
"""

__version__ = "0.1.0"
