"""A run's configuration is built one way for `yidan run` and `yidan demo` (services/runconfig.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from yidan.errors import ConfigError
from yidan.services.runconfig import run_config

CONFIG = Path(__file__).parent / "fixtures" / "outdir" / "yidan.toml"


def test_the_file_is_read_and_the_command_line_engine_options_win():
    cfg = run_config(CONFIG, memory_limit="4GB", spill_dir=Path("/data/tmp"))
    assert cfg.province_code == "44" and cfg.engine.threads == 2
    assert cfg.engine.memory_limit == "4GB" and cfg.engine.temp_directory == "/data/tmp"


def test_a_changed_file_changes_the_config_hash_the_run_records():
    assert run_config(CONFIG).config_hash() != run_config(None).config_hash()


def test_a_missing_file_is_a_chinese_error_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match="找不到配置文件"):
        run_config(tmp_path / "无此文件.toml")


def test_the_demo_refuses_a_bad_config_before_it_removes_its_folder(tmp_path):
    from yidan.services.demo import MARKER, run_demo

    out = tmp_path / "demo"
    out.mkdir()
    (out / MARKER).write_text("yidan demo\n", encoding="utf-8")
    (out / "yidan.db").write_bytes(b"an earlier demo's database")
    with pytest.raises(ConfigError):
        run_demo(out=out, preset="tiny", seed=3, config=tmp_path / "无此文件.toml")
    assert (out / "yidan.db").read_bytes() == b"an earlier demo's database"
