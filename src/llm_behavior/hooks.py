"""Project hooks: model datasets built from the parameters (one source of truth for model specs)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from llm_behavior.datasets.embedder import EmbedderDataset
from llm_behavior.datasets.language_model import LanguageModelDataset
from llm_behavior.models.spec import ModelSpec
from llm_behavior.schemas import PAIR_SIDES, SIDES
from llm_behavior.sides import side_spec

logger = logging.getLogger(__name__)


def _model_dataset(spec: dict[str, Any], conf_creds: dict) -> LanguageModelDataset:
    """A lazy model dataset for a spec (its ``credentials`` name looked up in the credentials)."""
    creds_name = spec.get("credentials")
    creds = conf_creds.get(creds_name, {}) if creds_name else conf_creds
    spec = {k: v for k, v in spec.items() if k != "credentials"}
    return LanguageModelDataset(spec=spec, credentials=creds)


def _assistant_dataset(
    spec: dict[str, Any], conf_creds: dict, pair: list[Any]
) -> LanguageModelDataset:
    """The assistant's dataset: a pair model's when they compute the same (one loaded copy)."""
    model = ModelSpec.from_dict({k: v for k, v in spec.items() if k != "credentials"})
    identity = model.identity_hash()
    for dataset in pair:
        if isinstance(dataset, LanguageModelDataset) and dataset.spec.identity_hash() == identity:
            return dataset
    return _model_dataset(spec, conf_creds)


class ModelDatasetsHook:
    """Adds the model datasets from the parameters, unless the catalog has them.

    ``{side}.language_model`` from :func:`llm_behavior.sides.side_spec`; the contrastive search's
    ``assistant.language_model`` (``contrastive_search.assistant.model``; a pair model with the
    same identity is reused) and ``search.embedder`` (``contrastive_search.embedding_model``).
    Nothing loads here: each model loads when a node first reads it, once per run.
    """

    @hook_impl
    def after_catalog_created(
        self, catalog: Any, conf_catalog: dict, conf_creds: dict, parameters: dict, **_: Any
    ) -> None:
        # Kedro passes the catalog's parameter entries: "parameters" holds the whole merged dict
        parameters = parameters.get("parameters", parameters)
        if "reference" not in parameters:
            return
        loaded: dict[str, LanguageModelDataset] = {}
        for side in SIDES:
            name = f"{side}.language_model"
            if name in catalog:
                continue
            spec = side_spec(parameters, side)
            model_only = {k: v for k, v in spec.items() if k != "generation"}
            key = repr(sorted(model_only.items()))
            # sides that differ only in decoding share one loaded model (e.g. reference and
            # replicate)
            if key not in loaded:
                loaded[key] = _model_dataset(spec, conf_creds)
            catalog[name] = loaded[key]
        search = parameters.get("contrastive_search") or {}
        assistant = (search.get("assistant") or {}).get("model")
        if assistant and "assistant.language_model" not in catalog:
            pair = [catalog[f"{side}.language_model"] for side in PAIR_SIDES]
            catalog["assistant.language_model"] = _assistant_dataset(assistant, conf_creds, pair)
        if search.get("embedding_model") and "search.embedder" not in catalog:
            catalog["search.embedder"] = EmbedderDataset(name=search["embedding_model"])


_PROJECT_ROOT: dict[str, str] = {}


def project_root() -> str:
    """The running project's root (set when its context is created), else the working directory.

    Config resolver ``${project_root:}`` (settings.py): mlflow.yml puts the SQLite store there, as
    ``sqlite:///mlflow.db`` would be relative to the working directory, not the project.
    """
    return _PROJECT_ROOT.get("path", str(Path.cwd()))


def tracking_enabled(params: dict[str, Any]) -> bool:
    """The ``tracking.enabled`` switch (parameters_reporting.yml; ``--params
    tracking.enabled=false``)."""
    value = (params.get("tracking") or {}).get("enabled", False)
    if isinstance(value, str):  # --params passes text
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def run_name(pair: str | None, pipeline_names: list[str] | str | None) -> str:
    """The tracked run's name: the pair and the pipelines run (``__default__`` spelled out)."""
    from llm_behavior.pipeline_registry import DEFAULT_PIPELINES

    names = (
        [pipeline_names]
        if isinstance(pipeline_names, str)
        else list(pipeline_names or ["__default__"])
    )
    spelled = "+".join("+".join(DEFAULT_PIPELINES) if n == "__default__" else n for n in names)
    return f"{pair}: {spelled}" if pair else spelled


# Datasets logged as artifacts of the tracked run (file name in the run).
TRACKED_ARTIFACTS = {
    "run_report": "report.html",
    "audit_result": "audit_result.json",
    "audit_wealth_plot": "audit_wealth.png",
    "audit_distributions_plot": "audit_score_distributions.png",
}


def log_artifact(run_id: str, file_name: str, data: Any) -> None:
    """Log ``data`` (a dict as JSON, a matplotlib figure,
    PNG bytes or text) as ``file_name`` of the run."""
    import json
    import tempfile

    import mlflow
    from matplotlib.figure import Figure

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / file_name
        if isinstance(data, dict):
            path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        elif isinstance(data, Figure):
            data.savefig(path, format="png", dpi=120, bbox_inches="tight")
        elif isinstance(data, bytes):
            path.write_bytes(data)
        elif isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            raise TypeError(f"cannot log {type(data).__name__} as the artifact {file_name}")
        mlflow.MlflowClient(tracking_uri=mlflow.get_tracking_uri()).log_artifact(run_id, str(path))


VERSION_TAG = "llm_behavior.version"  # tag of the tracked run: the catalog version it saved


class VersionsHook:
    """Binds the catalog's ``run_version`` dataset to the run (its save version, the session id)."""

    @hook_impl
    def after_catalog_created(  # noqa: PLR0917 (pluggy matches hook arguments by positional name)
        self,
        catalog: Any,
        conf_catalog: dict,
        conf_creds: dict,
        parameters: dict,
        save_version: str,
        load_versions: dict,
    ) -> None:
        from llm_behavior.datasets.versions import RunVersionDataset

        dataset = catalog["run_version"] if "run_version" in catalog else None
        # not declared (catalog_reporting.yml has it)
        if not isinstance(dataset, RunVersionDataset):
            dataset = RunVersionDataset()
            catalog["run_version"] = dataset
        dataset.bind(catalog, save_version)  # in place: no "Replacing dataset" notice


class TrackingHook:
    """kedro-mlflow's hook, behind the ``tracking.enabled`` switch.

    settings.py disables the plugin's auto-registered hook; this one forwards every call to a fresh
    ``MlflowHook`` when tracking is on, and otherwise leaves the store alone and turns off the
    catalog's mlflow datasets' logging. The run is named after the pair and the pipelines (unless
    mlflow.yml names it) and tagged with the catalog version it saves (:data:`VERSION_TAG`); the
    report, the audit result and its plots are logged as artifacts (:data:`TRACKED_ARTIFACTS`)
    when a node makes or reads them.
    """

    def __init__(self) -> None:
        self._mlflow: Any = None
        self._pair: str | None = None
        self._save_version: str | None = None
        self._logged: set[str] = set()

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._mlflow = None
        self._logged = set()
        self._pair = (
            (context.params.get("reporting") or {}).get("pair") or context.params.get("pair")
        )
        _PROJECT_ROOT["path"] = str(Path(context.project_path).resolve())
        if tracking_enabled(context.params):
            from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook

            self._mlflow = MlflowHook()
            self._mlflow.after_context_created(context)
        else:
            logger.info("experiment tracking is off (tracking.enabled is false)")

    @hook_impl
    def after_catalog_created(  # noqa: PLR0917 (pluggy matches hook arguments by positional name)
        self,
        catalog: Any,
        conf_catalog: dict,
        conf_creds: dict,
        parameters: dict,
        save_version: str,
        load_versions: dict,
    ) -> None:
        self._save_version = save_version
        if self._mlflow is not None:
            self._mlflow.after_catalog_created(
                catalog=catalog,
                conf_catalog=conf_catalog,
                conf_creds=conf_creds,
                parameters=parameters,
                save_version=save_version,
                load_versions=load_versions,
            )

    @hook_impl
    def before_pipeline_run(self, run_params: dict, pipeline: Any, catalog: Any) -> None:
        if self._mlflow is not None:
            run = self._mlflow.mlflow_config.tracking.run
            if not run.name:  # mlflow.yml's name wins
                run.name = run_name(
                    self._pair, run_params.get("pipeline_names") or run_params.get("pipeline_name")
                )
            self._mlflow.before_pipeline_run(
                run_params=run_params, pipeline=pipeline, catalog=catalog
            )
            if self._mlflow._is_mlflow_enabled and self._mlflow.run_id is not None:
                import mlflow

                # the catalog version this run saves its outputs under (docs/runs.md)
                mlflow.MlflowClient(tracking_uri=mlflow.get_tracking_uri()).set_tag(
                    self._mlflow.run_id, VERSION_TAG, self._save_version or run_params.get("run_id")
                )
        else:
            from kedro_mlflow.io.catalog.switch_catalog_logging import switch_catalog_logging

            switch_catalog_logging(catalog, False)

    @hook_impl
    def before_node_run(self, node: Any, catalog: Any, inputs: dict, is_async: bool) -> None:
        if self._mlflow is not None:
            self._mlflow.before_node_run(
                node=node, catalog=catalog, inputs=inputs, is_async=is_async
            )

    @hook_impl
    def after_node_run(
        self, node: Any, catalog: Any, inputs: dict, outputs: dict, is_async: bool
    ) -> None:
        if (
            self._mlflow is None
            or not self._mlflow._is_mlflow_enabled
            or self._mlflow.run_id is None
        ):
            return
        for name, data in {**inputs, **outputs}.items():
            if name in TRACKED_ARTIFACTS and name not in self._logged:
                log_artifact(self._mlflow.run_id, TRACKED_ARTIFACTS[name], data)
                self._logged.add(name)

    @hook_impl
    def after_pipeline_run(self, run_params: dict, pipeline: Any, catalog: Any) -> None:
        if self._mlflow is not None:
            self._mlflow.after_pipeline_run(
                run_params=run_params, pipeline=pipeline, catalog=catalog
            )

    @hook_impl
    def on_pipeline_error(
        self, error: Exception, run_params: dict, pipeline: Any, catalog: Any
    ) -> None:
        if self._mlflow is not None:
            self._mlflow.on_pipeline_error(
                error=error, run_params=run_params, pipeline=pipeline, catalog=catalog
            )


class DaskClientHook:
    """Connects Dask to the scheduler named in ``params:dask`` for the length of a run.

    ``scheduler: null`` (default) leaves Dask's own local scheduler; ``local`` starts a
    ``distributed.LocalCluster``; an address (``tcp://host:8786``) connects to a running cluster.
    Only runs that include nodes reading or writing Dask datasets need it.
    """

    def __init__(self) -> None:
        self._settings: dict[str, Any] = {}
        self._client: Any = None
        self._cluster: Any = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._settings = dict(context.params.get("dask") or {})

    @hook_impl
    def before_pipeline_run(self, run_params: dict, pipeline: Any, catalog: Any) -> None:
        scheduler = self._settings.get("scheduler")
        if not scheduler:
            return
        from distributed import Client, LocalCluster

        if scheduler == "local":
            self._cluster = LocalCluster(
                n_workers=int(self._settings.get("n_workers", 2)),
                threads_per_worker=int(self._settings.get("threads_per_worker", 1)),
                processes=bool(self._settings.get("processes", True)),
                dashboard_address=None,
            )
            self._client = Client(self._cluster)
        else:
            self._client = Client(str(scheduler))
        logger.info(
            "Dask: connected to %s (%d workers)",
            self._client.scheduler.address,
            len(self._client.scheduler_info().get("workers", {})),
        )

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    @hook_impl
    def after_pipeline_run(self, run_params: dict, pipeline: Any, catalog: Any) -> None:
        self._close()

    @hook_impl
    def on_pipeline_error(
        self, error: Exception, run_params: dict, pipeline: Any, catalog: Any
    ) -> None:
        self._close()
