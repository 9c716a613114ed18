"""The job-file models are built without pydantic's plugin scan, and nothing leaks.

A real pydantic plugin is installed for these tests (a distribution with a `pydantic`
entry point on `sys.path` of a fresh interpreter), so what is checked is what pydantic
itself does: agentsup's models are built without asking for plugins, a model the user
builds afterwards still gets them, the switch agentsup uses is gone from the environment
once the models are built, and a value the user set is left as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = """\
SEEN = []


class Recorder:
    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind,
                             config, plugin_settings):
        SEEN.append(schema_type_path.name)
        return None, None, None


plugin = Recorder()
"""

PROBE = """\
import json, os, sys
import agentsup.job.schema_models
after_models = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
from pydantic import BaseModel
class UserModel(BaseModel):
    x: int
import recorder_plugin
print(json.dumps({"seen": recorder_plugin.SEEN, "after_models": after_models,
                  "after_all": os.environ.get("PYDANTIC_DISABLE_PLUGINS")}))
"""


def _install_plugin(where: Path) -> None:
    (where / "recorder_plugin.py").write_text(PLUGIN)
    info = where / "recorder_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: recorder-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nrecorder = recorder_plugin:plugin\n")


def _probe(tmp_path: Path, **extra_env: str) -> dict[str, object]:
    _install_plugin(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    env.update(extra_env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_job_models_skip_plugins_and_user_models_still_get_them(tmp_path: Path) -> None:
    result = _probe(tmp_path)
    assert result["seen"] == ["UserModel"]
    assert result["after_models"] is None
    assert result["after_all"] is None


def test_a_users_setting_is_left_alone(tmp_path: Path) -> None:
    # `recorder` is named, so pydantic skips it for every model, the user's included.
    result = _probe(tmp_path, PYDANTIC_DISABLE_PLUGINS="recorder")
    assert result["seen"] == []
    assert result["after_models"] == "recorder"
    assert result["after_all"] == "recorder"


def test_plugins_reach_the_job_models_when_imported_another_way(tmp_path: Path) -> None:
    # The control: the same plugin does see agentsup's models when they are built
    # outside `agentsup.job.models` (here: the base model's module alone), so the first
    # test would fail if the scan were not skipped.
    _install_plugin(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-c",
         "import agentsup.job.fields, recorder_plugin; print(recorder_plugin.SEEN)"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    assert "Model" in done.stdout


def test_empty_defaults_are_new_each_time() -> None:
    # The factories are plain functions (job/values.py); each record still gets its own,
    # whether validation or the code makes it, and so does each pydantic model.
    from agentsup.job import schema_models
    from agentsup.job.models import JobInfo, Placement
    from agentsup.job.validation import validate_job

    first, second = JobInfo(name="a"), JobInfo(name="b")
    assert first.tags == [] and second.tags == []
    assert first.tags is not second.tags
    job = validate_job(
        {
            "job": {"name": "j"},
            "agents": [{"id": "a", "config": {"port": 1}}, {"id": "b", "config": {"port": 2}}],
            "topology": {"type": "dynamic"},
        }
    )
    one, two = job.agents
    assert one.deployment.environment == {} == two.deployment.environment
    assert one.deployment.environment is not two.deployment.environment
    assert Placement().constraints is not Placement().constraints
    model = schema_models.Agent.model_validate({"id": "a", "config": {"port": 1}})
    assert model.deployment.environment is not schema_models.Agent.model_validate(
        {"id": "b", "config": {"port": 2}}
    ).deployment.environment
