"""Project settings: configuration environments and the ``oc.env`` resolver.

``oc.env`` is registered for all config files (Kedro allows it only in credentials by
default) so that ``mlflow.yml`` can honour ``MLFLOW_TRACKING_URI``.
"""
from omegaconf.resolvers import oc

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {"oc.env": oc.env},
}
