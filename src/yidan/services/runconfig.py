"""The configuration of a comparison run, built one way for every caller.

`yidan run`, `yidan demo` (and the web application's runs, once they adopt it) all read
`yidan.toml` through `load_run_config` and apply the same command-line overrides here, so a run
started anywhere with the same file behaves the same (the manifest's `config_hash` shows it).
"""

from __future__ import annotations

from pathlib import Path

from yidan.settings import RunConfig, load_run_config


def run_config(path: Path | None = None, *, engine: str | None = None, spark_master: str | None = None,
               memory_limit: str | None = None, spill_dir: Path | None = None) -> RunConfig:
    """`yidan.toml` at `path` (the defaults when None), with the engine options given on top.

    >>> run_config(memory_limit="4GB").engine.memory_limit
    '4GB'
    """
    cfg = load_run_config(path)
    overrides = {k: v for k, v in (("name", engine), ("spark_master", spark_master), ("memory_limit", memory_limit),
                                   ("temp_directory", str(spill_dir) if spill_dir else None)) if v is not None}
    if overrides:
        cfg = cfg.model_copy(update={"engine": cfg.engine.model_copy(update=overrides)})
    return cfg
