// Draws mermaid diagrams for rich.js, inside the sandboxed diagram-frame.html: each message from
// the page is {id, source, theme}; the answer is {id, svg} (sized, to show as an image) or {id, error}.
(function () {
  "use strict";
  let count = 0;
  let queue = Promise.resolve(); // mermaid draws one diagram at a time

  function sized(svg) {
    // An image needs its own size: the viewBox's, in place of mermaid's width 100% and max-width.
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    const root = doc.documentElement;
    const box = (root.getAttribute("viewBox") || "").split(/[\s,]+/).map(Number);
    if (box.length === 4 && box[2] > 0 && box[3] > 0) {
      root.setAttribute("width", String(Math.ceil(box[2])));
      root.setAttribute("height", String(Math.ceil(box[3])));
      root.removeAttribute("style");
    }
    const title = root.querySelector(":scope > title");
    return { svg: new XMLSerializer().serializeToString(root), title: title ? title.textContent : "" };
  }

  async function draw(job) {
    mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: job.theme });
    try {
      const drawn = sized((await mermaid.render("diagram-" + ++count, job.source)).svg);
      parent.postMessage({ id: job.id, svg: drawn.svg, title: drawn.title }, "*");
    } catch (error) {
      parent.postMessage({ id: job.id, error: String((error && error.message) || error) }, "*");
    }
    document.querySelectorAll("body > [id^=ddiagram-]").forEach(function (el) { el.remove(); }); // what a failure leaves
  }

  window.addEventListener("message", function (event) {
    if (event.source !== parent || !event.data || typeof event.data.source !== "string") return;
    queue = queue.then(function () { return draw(event.data); });
  });
  parent.postMessage({ ready: true }, "*");
})();
