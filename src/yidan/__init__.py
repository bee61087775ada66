"""yidan (一单): reconcile the poverty registry with the enrollment registry and student aid."""

from yidan.contract import TABLES
from yidan.errors import YidanError
from yidan.settings import RunConfig, load_run_config

__version__ = "0.1.0"

__all__ = ["TABLES", "RunConfig", "YidanError", "__version__", "load_run_config"]
