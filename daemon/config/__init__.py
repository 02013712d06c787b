"""Settings: the typed model, its loader and the configuration check."""

from daemon.config.loader import ConfigError, load_settings
from daemon.config.settings import Settings

__all__ = ["ConfigError", "Settings", "load_settings"]
