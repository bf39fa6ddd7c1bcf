"""Users' own metrics: plugins that register Metric subclasses or plain functions.

A plugin is a Python module. A job names it under ``plugins:`` (an importable module name, or a ``.py``
file, relative to the job spec), or an installed package declares it in the ``supernas.metrics``
entry-point group, which ``supernas metrics`` and every job load. Importing the module registers its
metrics: classes through ``base.register``, functions through :func:`metric`::

    from supernas.predictors.plugins import metric

    @metric("my_eval_loss", direction="minimize", unit="nats", cost="one_shot")
    def my_eval_loss(arch, context, steps: int = 10) -> float:   # keyword defaults are the options
        ...

The controller imports a job's plugins before it validates the job, and every Ray worker imports them
before it builds its metrics (Ray's runtime environment carries the files to workers on other nodes),
so a plugin that does not import stops the job before any trial runs, naming the plugin and the cause.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from supernas.core.errors import SupernasError
from supernas.predictors.base import REGISTRY, CostClass, Direction, Metric, MetricContext, register
from supernas.spaces.architecture import Architecture

ENTRY_POINT_GROUP = "supernas.metrics"


class PluginError(SupernasError):
    """A plugin could not be found or imported."""


def metric(
    name: str,
    direction: Direction,
    unit: str = "",
    cost: str | CostClass = CostClass.analytic,
    description: str = "",
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Register ``fn(arch, context, **options) -> float`` as a metric; its keyword defaults are its
    options."""
    if direction not in ("minimize", "maximize"):
        raise PluginError(f"metric '{name}': direction '{direction}' is not minimize or maximize")
    cost_class = CostClass(cost)

    def decorate(fn: Callable[..., float]) -> Callable[..., float]:
        parameters = list(inspect.signature(fn).parameters.values())[2:]
        options = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}

        def evaluate(self: Metric, arch: Architecture, context: MetricContext) -> float:
            return float(fn(arch, context, **self.settings))

        attributes = dict(
            name=name,
            direction=direction,
            unit=unit,
            cost=cost_class,
            options=options,
            evaluate=evaluate,
            description=description or (inspect.getdoc(fn) or "").split("\n")[0],
            __module__=fn.__module__,
        )
        register(type(f"{fn.__name__}_metric", (Metric,), attributes))
        return fn

    return decorate


def plugin_module_name(plugin: str) -> str:
    """The name a plugin is imported under, here and on the workers: a file's stem, or the module name."""
    return Path(plugin).stem if is_file_plugin(plugin) else plugin


def is_file_plugin(plugin: str) -> bool:
    return plugin.endswith(".py") or "/" in plugin


def load_plugins(plugins: list[str]) -> list[ModuleType]:
    """Import each plugin (module name or absolute ``.py`` path) once; a failure is one line naming it."""
    return [_import(plugin) for plugin in plugins]


def _import(plugin: str) -> ModuleType:
    name = plugin_module_name(plugin)
    if name in sys.modules:
        return sys.modules[name]
    try:
        if is_file_plugin(plugin):
            path = Path(plugin)
            if not path.is_file():
                raise PluginError(f"plugin '{plugin}': no such file")
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
            return module
        return importlib.import_module(plugin)
    except PluginError:
        raise
    except ModuleNotFoundError as e:
        if e.name == name:
            raise PluginError(
                f"plugin '{plugin}': no module named '{name}' "
                "(a module importable here, or a .py file next to the job spec)"
            ) from None
        raise PluginError(f"plugin '{plugin}' failed to import: {_where(e)}") from None
    except Exception as e:
        raise PluginError(f"plugin '{plugin}' failed to import: {_where(e)}") from None


def _where(error: BaseException) -> str:
    """``Type: message (file:line)`` of the innermost frame, one line."""
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    at = f" ({Path(frame.filename).name}:{frame.lineno})" if frame else ""
    return " ".join(f"{type(error).__name__}: {error}{at}".split())[:300]


def load_entry_point_plugins() -> None:
    """Import every installed ``supernas.metrics`` plugin; a class it names is registered if it is not yet."""
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception as e:
            raise PluginError(
                f"installed plugin '{entry.name}' ({entry.value}) failed to import: {_where(e)}"
            ) from None
        if inspect.isclass(loaded) and issubclass(loaded, Metric) and REGISTRY.get(loaded.name) is not loaded:
            register(loaded)
