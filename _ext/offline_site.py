"""Sphinx extension: the built pages load no script or stylesheet from the internet.

The site must work offline (file:// or a plain static server with no network). Two sources of
remote assets exist with Jupyter Book 1.0, and only one can be fixed by configuration:

* MathJax defaults to a CDN; ``mathjax_path`` in ``_config.yml`` points it at ``_static/mathjax``.
* sphinx-thebe (always loaded by Jupyter Book) adds to every page an inline script holding
  ``https://unpkg.com/thebe@.../lib/index.js`` plus ``sphinx-thebe.js``, its CSS and a thebe
  configuration block, even with ``launch_buttons: thebe: false``. There is no option to turn that
  off, so when thebe is off we drop them here.

Jupyter Book also adds every ``.js``/``.css`` file under ``_static`` to every page. For files that
something else loads where needed that is wrong: the vendored MathJax would load on every page
(beside the copy ``sphinx.ext.mathjax`` adds where there is math) and its lazily loaded TeX
extensions would run as page scripts; the widget scripts of ``nb_ipywidgets_js`` would load on
pages without widgets, ``embed-amd.js`` before ``require.js`` (an error). We take them back out of
that list: ``mathjax_path`` and myst-nb alone decide where those load.

The widget scripts fetch Font Awesome from the folder RequireJS gives their modules, by default
``@jupyter-widgets/...`` beside the page (missing: failed requests). On widget pages a RequireJS
configuration maps those modules to ``_static/widget-fonts/``, which holds the fonts.

Any other script or stylesheet given by an http(s) URL is reported as a warning, so that a build
with ``--warningiserror`` (tests/test_site.py) fails instead of shipping a page that needs a CDN.
"""
import posixpath

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

_THEBE_FILES = {"sphinx-thebe.js", "sphinx-thebe.css"}
# A global `require` object read by require.js when it loads (its documented configuration hook).
_WIDGET_FONTS = """var require = (function (fonts) {
  return {paths: {"@jupyter-widgets": fonts, "@jupyter-widgets/html-manager/dist": fonts}};
})((document.documentElement.dataset.content_root || "") + "_static/widget-fonts");"""


def _filename(asset):
    return str(getattr(asset, "filename", None) or "")


def _is_thebe(asset):
    body = (getattr(asset, "attributes", None) or {}).get("body") or ""
    return posixpath.basename(_filename(asset)) in _THEBE_FILES or "THEBE_JS_URL" in body


def _is_remote(asset):
    return "://" in _filename(asset) or _filename(asset).startswith("//")


def _thebe_on(app):
    launch = (app.config.html_theme_options or {}).get("launch_buttons") or {}
    return bool(launch.get("thebe"))


def _loaded_elsewhere(config):
    """Paths under _static (as Jupyter Book lists them) that MathJax or myst-nb load themselves."""
    exact, folders = set(getattr(config, "nb_ipywidgets_js", None) or {}), []
    mathjax = getattr(config, "mathjax_path", "") or ""
    if mathjax and "://" not in mathjax:
        exact.add(mathjax)
        if posixpath.dirname(mathjax):
            folders.append(posixpath.dirname(mathjax) + "/")
    return lambda path: path in exact or path.startswith(tuple(folders))


def _keep_loaded_elsewhere_off_pages(app, config):
    elsewhere = _loaded_elsewhere(config)
    for key in ("html_js_files", "html_css_files"):
        setattr(config, key, [entry for entry in getattr(config, key) or []
                              if not elsewhere(str(entry[0] if isinstance(entry, tuple) else entry))])


def _drop_thebe_config(app, doctree, docname):
    if not _thebe_on(app):
        for raw in list(doctree.findall(nodes.raw)):
            if "text/x-thebe-config" in raw.astext() or raw.astext().startswith("<script>kernelName"):
                raw.parent.remove(raw)


def _page_assets(app, pagename, templatename, context, doctree):
    widget_scripts = set(getattr(app.config, "nb_ipywidgets_js", None) or {})
    if any(_filename(s).removeprefix("_static/") in widget_scripts for s in context.get("script_files") or []):
        app.add_js_file(None, body=_WIDGET_FONTS, priority=100)  # this page only, before require.js
    for key in ("script_files", "css_files"):
        assets = context.get(key)
        if not assets:
            continue
        if not _thebe_on(app):
            assets[:] = [a for a in assets if not _is_thebe(a)]
        for asset in assets:
            if _is_remote(asset):
                logger.warning("page %s loads %s from the internet; the site must work offline "
                               "(vendor it under _static/)", pagename, _filename(asset))


# ipywidgets' HTML manager typesets widget labels with MathJax 2's ``MathJax.Hub.Queue``; the site serves
# MathJax 3, which has no ``Hub``, so on pages with both math and widgets every widget raised a script
# error. Every object that becomes ``window.MathJax`` gets a ``Hub`` whose ``Queue`` typesets with
# MathJax 3's API. Loaded first, on every page (a few hundred bytes).
_MATHJAX2_HUB = """
(function () {
  var hub = {Queue: function () {
    for (var i = 0; i < arguments.length; i++) {
      var job = arguments[i], mj = window.MathJax;
      if (Array.isArray(job) && job[0] === "Typeset" && mj && mj.typesetPromise) {
        mj.typesetPromise([job[2]]).catch(function () {});
      }
    }
  }};
  var current = window.MathJax;
  function give(value) { if (value && typeof value === "object" && !value.Hub) { value.Hub = hub; } return value; }
  Object.defineProperty(window, "MathJax", {configurable: true, enumerable: true,
    get: function () { return current; }, set: function (value) { current = give(value); }});
  give(current);
})();
"""


def setup(app):
    app.add_js_file(None, body=_MATHJAX2_HUB, priority=1)
    app.connect("config-inited", _keep_loaded_elsewhere_off_pages)
    # After sphinx-thebe, myst-nb and sphinx.ext.mathjax have done their part (priority 500).
    app.connect("doctree-resolved", _drop_thebe_config, priority=900)
    app.connect("html-page-context", _page_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
