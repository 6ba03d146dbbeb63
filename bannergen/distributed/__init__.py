"""Rendering a segment on a Dask cluster: the same stages as one machine, run where the data is.

``bannergen render --executor dask`` (a LocalCluster sized to the machine) or ``--scheduler
tcp://HOST:PORT`` (a running ``dask scheduler`` with its workers) renders like the local executor,
with users cut into partitions of consecutive user ids:

1. events (a Parquet file, a folder of them, or an fsspec URL; ``[dask] events``) are read piece by
   piece (a Parquet row group each) on the workers, checked row by row like ``load_events``, and
   each piece's rows are written to the partition that holds their users (``events``);
2. shop-wide facts are summed from the partitions (item popularity, the reference time) and the
   blend is loaded or fitted once; they are shared with every worker (``shared``);
3. each partition builds the model of its own users (``bannergen.model.build_model`` with the
   shop-wide facts), decides (``selection.decide``), plans its variants (``variants.plan_variants``)
   and writes its sorted assignments and decision log to the shared destination (``partition``);
4. the driver renders each unique variant once, on the workers, and writes the tables (partition
   after partition: ``table_files``) and the manifest last (``run``).

Decisions use keyed uniforms and shop-wide facts only, so the output is the local executor's, byte
for byte. No process holds every user's profiles or scores, except the one that fits the blend
when no current fitted model is saved (``fit``; `bannergen fit` saves one beforehand).
"""

from bannergen.distributed.run import DaskRender, render_on_dask, run_inputs

__all__ = ["DaskRender", "render_on_dask", "run_inputs"]
