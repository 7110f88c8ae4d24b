/* A figure the page shows smaller than it was drawn opens at its full size on click.

Multi-panel figures are drawn wider than the text column; their text is sized to stay legible in
the column (tlcore.display.fit_text), and a click shows every detail at the drawn size in a dialog
that scrolls. A second click, or Escape, closes it. Slider frames (widget images, rendered after
the page loads) are handled by the same delegated listeners. */
(function () {
  var FIGURES = "div.cell_output img, figure img, .widget-image";
  var dialog = null;

  function shrunk(img) {
    return img.naturalWidth > 0 && img.naturalWidth > img.getBoundingClientRect().width * 1.1;
  }
  function open(img) {
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.className = "tlcore-zoom";
      dialog.setAttribute("aria-label", "figure at full size");
      dialog.addEventListener("click", function () { dialog.close(); });
      document.body.appendChild(dialog);
    }
    var big = new Image();
    big.src = img.src;
    big.alt = img.alt || "figure at full size";
    big.width = img.naturalWidth;
    dialog.replaceChildren(big);
    dialog.showModal();
  }
  document.addEventListener("mouseover", function (event) {
    var img = event.target.closest && event.target.closest(FIGURES);
    if (img && img.tagName === "IMG") img.classList.toggle("tlcore-zoomable", shrunk(img));
  });
  document.addEventListener("click", function (event) {
    var img = event.target.closest && event.target.closest(FIGURES);
    if (img && img.tagName === "IMG" && shrunk(img) && !img.closest("dialog")) {
      event.preventDefault();
      open(img);
    }
  });
})();
