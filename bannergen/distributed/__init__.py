"""Rendering a segment on a Dask cluster: the same stages as one machine, run where the data is.

``bannergen render --executor dask`` (a LocalCluster sized to the machine) or ``--scheduler
tcp://HOST:PORT`` (a running ``dask scheduler`` with its workers) renders like the local executor,
with users cut into partitions of consecutive user ids:

1. events (a Parquet file, a folder of them, or an fsspec URL; ``[dask] events``) are read piece by
   piece (a Parquet row group each) on the workers, checked row by row like ``load_events``, and
   each piece's rows are written to the partition that holds their users (``events``);
2. shop-wide facts are summed from the partitions (item popularity, the reference time); the
   blend is loaded, or fitted once from sums over each partition's users (co-occurrence counts,
   item counts: ``bannergen.scorers.sums``) added up across partitions (``fit``); both are shared
   with every worker;
3. each partition builds the model of its own users (``bannergen.model.build_model`` with the
   shop-wide facts), decides (``selection.decide``), plans its variants (``variants.plan_variants``)
   and writes its sorted assignments and decision log to the shared destination (``partition``);
4. the driver renders each unique variant once, on the workers, and writes the tables (partition
   after partition: ``table_files``) and the manifest last (``run``).

Decisions use keyed uniforms and shop-wide facts only, so with the same fitted blend the output is
the local executor's, byte for byte; a blend fitted from the partitions' sums is the local one up
to the order floats are added in (every decision the same, scores equal to float32 precision).
No process holds every user's events, profiles or scores. The exception is a blend with a scorer
that is not fitted from sums (``svd``, association rules longer than pairs): one worker then
loads the whole shop to fit it, and the run says so.
"""

from bannergen.distributed.run import DaskRender, render_on_dask, run_inputs

__all__ = ["DaskRender", "render_on_dask", "run_inputs"]
