"""Package version, in its own module so it can be imported without the package ``__init__``."""

__version__ = "0.1.0"
