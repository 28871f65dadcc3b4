"""Project settings (Kedro defaults, plus the project's hooks)."""

from llm_behavior.console import ConsoleSummaryHook
from llm_behavior.hooks import (
    DaskClientHook,
    ModelDatasetsHook,
    TrackingHook,
    VersionsHook,
    project_root,
)

# pluggy calls hooks in reverse order of registration: the console summary, first here, prints last.
HOOKS = (
    ConsoleSummaryHook(),
    ModelDatasetsHook(),
    VersionsHook(),
    TrackingHook(),
    DaskClientHook(),
)

# kedro-mlflow registers its hook through an entry point; TrackingHook runs it behind a switch.
# the distribution name, either spelling
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow", "kedro-mlflow")

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {"project_root": project_root},  # ${project_root:} (conf/base/mlflow.yml)
}
