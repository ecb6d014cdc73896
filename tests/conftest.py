"""Shared pytest configuration: hypothesis profiles.

SAFENET_HYPOTHESIS_PROFILE=thorough runs more examples; the default keeps
the whole suite within the CI budget on 2 cores."""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=12, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.load_profile(os.environ.get("SAFENET_HYPOTHESIS_PROFILE", "default"))
