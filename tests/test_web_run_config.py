"""A run started from the web uses the server's yidan.toml, as `yidan run --config` does (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

from yidan.services.generated import generated_run
from yidan.settings import RunConfig, load_run_config
from yidan.web.worker import RunSpec, RunWorker, pipeline_runner

SERVER_TOML = """
[engine]
memory_limit = "1GB"
threads = 1
"""


def test_the_worker_takes_yidan_toml_from_the_data_directory(tmp_path: Path) -> None:
    assert RunWorker(None, tmp_path).config is None  # type: ignore[arg-type]
    (tmp_path / "yidan.toml").write_text(SERVER_TOML, encoding="utf-8")
    assert RunWorker(None, tmp_path).config == tmp_path / "yidan.toml"  # type: ignore[arg-type]
    other = tmp_path / "etc.toml"
    assert RunWorker(None, tmp_path, config=other).config == other  # type: ignore[arg-type]


def test_a_web_run_records_the_servers_configuration_in_its_manifest(tiny_dataset, tmp_path: Path) -> None:
    config = tmp_path / "yidan.toml"
    config.write_text(SERVER_TOML, encoding="utf-8")
    plan = generated_run(tiny_dataset.out)
    files = {t: list(getattr(plan.inputs, t)) for t in ("registry", "enrollment", "out_of_province",
                                                          "verifications", "aid", "policies")}
    spec = RunSpec(term=plan.term.label, audit_terms=[t.label for t in plan.audit_terms], files=files, config=config)
    run = pipeline_runner(spec, tmp_path / "run", lambda _label: None)
    manifest = json.loads((run.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "complete"
    assert manifest["config_hash"] == load_run_config(config).config_hash() != RunConfig().config_hash()
