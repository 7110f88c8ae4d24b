/* Every sidebar button opens its sidebar.

pydata-sphinx-theme 0.17 (pinned by sphinx-book-theme 1.3) attaches the click handlers of the
"site navigation" and "on this page" buttons to the first `.primary-toggle` / `.secondary-toggle`
of the page only: its own header button, which sphinx-book-theme hides. The visible buttons (in
the article header) then do nothing at any width (upstream pydata-sphinx-theme issue #2451).
Here a click on any other toggle is forwarded to the first one, which holds both themes'
handlers: on a wide screen the chapter list collapses/expands in place, on a narrow one the
sidebar opens as a dialog. */
(function () {
  function forward(selector) {
    var toggles = document.querySelectorAll(selector);
    var handled = toggles[0];
    Array.prototype.slice.call(toggles, 1).forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        event.stopPropagation();
        handled.click();
      });
    });
  }
  function init() {
    forward(".primary-toggle");
    forward(".secondary-toggle");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
