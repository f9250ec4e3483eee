// Math and diagrams in replies. The server marks math as escaped TeX (.math-inline, .math-display)
// and leaves ```mermaid as a code block; here KaTeX typesets the one and mermaid draws the other, on
// page load and as replies arrive. Each library (static/vendor/) is fetched only when a page first
// has something for it. A block still streaming (inside .streaming-text) waits until it closes.
(function () {
  "use strict";
  const urls = document.currentScript.dataset;
  const MATH = ".markdown .math-inline, .markdown .math-display";
  const MERMAID = ".markdown pre > code.language-mermaid";
  const dark = window.matchMedia("(prefers-color-scheme: dark)");

  function load(tag, attributes) {
    return new Promise(function (resolve, reject) {
      const el = Object.assign(document.createElement(tag), attributes);
      el.addEventListener("load", resolve);
      el.addEventListener("error", reject);
      document.head.appendChild(el);
    });
  }

  function settled(el) {
    return !el.closest(".streaming-text");
  }

  // --- math: KaTeX builds DOM (its styles set through CSSOM, which the CSP allows) ---------------
  let katexLoaded = null;

  function typeset(el) {
    const tex = el.textContent;
    el.dataset.tex = tex; // typeset once; the TeX kept for the copy of a reply
    const display = el.classList.contains("math-display");
    window.katex.render(tex, el, { displayMode: display, throwOnError: false });
    if (display && el.scrollWidth > el.clientWidth) el.tabIndex = 0; // too wide: it scrolls, by keyboard too
  }

  function renderMath(found) {
    if (!found.length) return;
    if (!katexLoaded) {
      katexLoaded = Promise.all([
        load("link", { rel: "stylesheet", href: urls.katexCss }),
        load("script", { src: urls.katex }),
      ]);
    }
    if (window.katex) { found.forEach(typeset); return; } // already here: typeset before the next paint
    katexLoaded.then(function () {
      found.forEach(function (el) { if (el.isConnected && !el.dataset.tex) typeset(el); });
    });
  }

  // --- diagrams: drawn in a sandboxed frame with its own CSP, shown as images ------------------
  let frame = null, frameReady = null, nextJob = 0;
  const jobs = new Map(); // job id -> its resolve
  const drawn = new Map(); // theme + source -> the frame's answer: the same diagram is drawn once

  function diagramFrame() {
    if (frame) return frameReady;
    frame = document.createElement("iframe");
    frame.className = "diagram-renderer";
    frame.title = "Diagram renderer";
    frame.setAttribute("aria-hidden", "true");
    frame.tabIndex = -1;
    frame.setAttribute("sandbox", "allow-scripts");
    frameReady = new Promise(function (resolve) {
      window.addEventListener("message", function (event) {
        if (event.source !== frame.contentWindow || !event.data) return;
        if (event.data.ready) { resolve(); return; }
        const done = jobs.get(event.data.id);
        jobs.delete(event.data.id);
        if (done) done(event.data);
      });
    });
    frame.src = urls.diagramFrame;
    document.body.appendChild(frame);
    return frameReady;
  }

  function draw(source, theme) {
    const key = theme + "\n" + source;
    if (!drawn.has(key)) {
      drawn.set(key, diagramFrame().then(function () {
        return new Promise(function (resolve) {
          const id = ++nextJob;
          jobs.set(id, resolve);
          frame.contentWindow.postMessage({ id: id, source: source, theme: theme }, "*");
        });
      }).then(function (answer) {
        drawn.set(key, answer); // answered: shown at once next time (a block replaced as a reply ends)
        return answer;
      }));
    }
    return drawn.get(key);
  }

  function theme() {
    return dark.matches ? "dark" : "default";
  }

  function figureFor(pre) {
    // <figure class="diagram"> <img> <details>Show source<pre>…</pre></details> </figure>
    const figure = document.createElement("figure");
    figure.className = "diagram";
    const details = document.createElement("details");
    details.className = "diagram-source";
    const summary = document.createElement("summary");
    summary.textContent = "Show source";
    pre.replaceWith(figure);
    details.append(summary, pre);
    figure.appendChild(details);
    return figure;
  }

  function show(pre, answer) {
    const figure = pre.closest("figure.diagram") || figureFor(pre);
    let img = figure.querySelector(":scope > img"), note = figure.querySelector(":scope > .diagram-error");
    const details = figure.querySelector(":scope > details");
    if (answer.svg) {
      if (note) note.remove();
      if (!img) img = figure.insertBefore(document.createElement("img"), details);
      img.alt = "Diagram" + (answer.title ? ": " + answer.title : "") + " (its source is below)";
      img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(answer.svg);
    } else {
      if (img) img.remove();
      if (!note) {
        note = figure.insertBefore(document.createElement("p"), details);
        note.className = "diagram-error";
        note.textContent = "Could not draw this diagram.";
      }
      details.open = true;
    }
  }

  function renderDiagram(code) {
    const pre = code.parentElement;
    const answer = draw(code.textContent, theme());
    pre.dataset.diagram = "pending";
    if (answer instanceof Promise) {
      answer.then(function (done) { if (pre.isConnected) show(pre, done); pre.dataset.diagram = "done"; });
    } else {
      show(pre, answer);
      pre.dataset.diagram = "done";
    }
  }

  // --- finding them ----------------------------------------------------------------------------
  function within(root, selector) {
    const found = root.matches && root.matches(selector) ? [root] : [];
    return found.concat(Array.from(root.querySelectorAll(selector)));
  }

  function scan(root) {
    renderMath(within(root, MATH).filter(function (el) { return !el.dataset.tex && settled(el); }));
    within(root, MERMAID).forEach(function (code) {
      if (!code.parentElement.dataset.diagram && settled(code)) renderDiagram(code);
    });
  }

  dark.addEventListener("change", function () {
    document.querySelectorAll(MERMAID).forEach(function (code) {
      if (code.parentElement.dataset.diagram === "done") renderDiagram(code);
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    scan(document.body);
    const messages = document.getElementById("messages");
    if (!messages) return;
    // A closed block arriving, a reply replaced as it ends, a branch swapped in: each is scanned.
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        record.addedNodes.forEach(function (node) { if (node.nodeType === 1) scan(node); });
      });
    }).observe(messages, { childList: true, subtree: true });
  });
})();
