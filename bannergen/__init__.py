"""bannergen: personalized e-commerce banners from a shop's catalog and behaviour.

The package is a library first; ``bannergen.cli`` is a thin typer layer over it.
Heavy imports (pandas, scikit-learn, mlxtend) happen inside the modules that need them,
so ``import bannergen`` and ``bannergen --help`` stay fast.
"""

__version__ = "0.1.0"
