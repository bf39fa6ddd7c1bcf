"""The cluster tests run plugin metrics too: the same registry restore as the predictors' tests."""

from tests.predictors.conftest import registry_restored  # noqa: F401  (an autouse fixture)
