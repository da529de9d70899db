"""Project settings: hooks, configuration environments and the ``oc.env`` resolver.

``oc.env`` is registered for all config files (Kedro allows it only in credentials by
default) so that ``mlflow.yml`` can honour ``MLFLOW_TRACKING_URI``. Parameters and mlflow.yml
merge *softly*: an environment (``paper``, ``test``, ``local``) overrides single keys such as
``search.n_trials`` without repeating the rest of ``search``.
"""
from omegaconf.resolvers import oc

from trade_pipeline.hooks import ProjectHooks

HOOKS = (ProjectHooks(),)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {"oc.env": oc.env},
    "merge_strategy": {"parameters": "soft", "mlflow": "soft"},
}
