"""The HTTP service for the CMS: decisions in real time, events, immutable assets.

    >>> from bannergen.service import Service, create_app  # doctest: +SKIP
    >>> app = create_app(Service(load_project(Path("."))))      # doctest: +SKIP

Modules: state (precomputed candidates, one-user decisions), realtime (behaviour log, rescoring),
core (the Service: threads, rendering on demand, events), app (routes), problems (the one error
shape), limits (body limit and metrics middleware), keys (API keys, signed URLs), assets, metrics.
"""

from bannergen.service.app import create_app
from bannergen.service.core import Service

__all__ = ["Service", "create_app"]
