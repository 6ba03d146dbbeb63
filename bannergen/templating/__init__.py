"""Campaign templates: manifests (template.toml), layouts (layout.toml), the Jinja2 sandbox."""

from bannergen.templating.manifest import load_template, load_templates
from bannergen.templating.template import FontSet, Template

__all__ = ["FontSet", "Template", "load_template", "load_templates"]
