"""Sphinx extension: drop repeated <script> entries from each page.

With Jupyter Book 1.0 on Sphinx 7.4, some scripts reach a page twice: myst-nb's widget renderer
(once registered for the site at priority 800, once for the page at 500, in the opposite order) and
the theme's inline snippets. A second copy of the widget manager renders every widget twice, and a
repeated inline ``const`` raises an error. Each page keeps the first, lowest-priority copy only.
"""


def _key(script):
    filename = getattr(script, "filename", None) or ""
    attributes = getattr(script, "attributes", None) or {}
    return str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items()))


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in sorted(scripts, key=lambda s: getattr(s, "priority", 500)):
        if _key(script) not in seen:
            seen.add(_key(script))
            kept.append(script)
    scripts[:] = kept


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
