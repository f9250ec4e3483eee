// The browser side of a conversation: the composer, and the websocket that streams replies.
// Frame shapes are documented in conversations/realtime.py.
(function () {
  "use strict";

  // --- composer ---------------------------------------------------------------------------
  function setupComposer() {
    const form = document.getElementById("composer");
    if (!form) return;
    const input = form.querySelector("textarea[name=text]");
    const zone = form.querySelector(".timezone-input");
    if (zone && window.Intl) zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    const error = document.getElementById("composer-error");
    const maxChars = parseInt(form.dataset.maxChars || "0", 10);

    function showError(text) {
      error.innerHTML = "";
      if (text) {
        const p = document.createElement("p");
        p.className = "error";
        p.textContent = text;
        error.appendChild(p);
      }
    }

    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("htmx:confirm", function (event) {
      // Client-side hints only; the server checks the same rules.
      const text = input.value.trim();
      if (!text && !form.querySelector("input[name=attachment]")) {
        event.preventDefault();
        showError("Type a message first.");
      } else if (maxChars && text.length > maxChars) {
        event.preventDefault();
        showError("The message is " + text.length.toLocaleString() + " characters long; the limit is " + maxChars.toLocaleString() + ".");
      } else if (form.querySelector(".attachment.uploading")) {
        event.preventDefault();
        showError("Wait for the files to finish uploading.");
      } else if (streamingReply()) {
        event.preventDefault();
        showError("A reply is still streaming. Wait for it or press Stop.");
      } else {
        showError("");
      }
    });
    document.body.addEventListener("chat:sent", function () {
      input.value = "";
      document.getElementById("attachment-list").innerHTML = "";
      showError("");
      stickToBottom = true;
      scrollToBottom();
    });
    document.body.addEventListener("htmx:sendError", function () {
      showError("Could not reach the server. Your message is still here; try again.");
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      if (event.detail.elt === form) showError("The server could not take that message (" + event.detail.xhr.status + "). Try again.");
    });
    document.getElementById("stop-button").addEventListener("click", function () {
      const reply = streamingReply();
      if (reply && socket) socket.send(JSON.stringify({ type: "stop", message: Number(reply.dataset.message) }));
    });
  }

  // --- attachments: uploaded as soon as they are picked, dropped or pasted -------------------
  function setupAttachments(form) {
    const picker = document.getElementById("file-input");
    const list = document.getElementById("attachment-list");
    if (!picker || picker.disabled) return;

    function chip(name) {
      const el = document.createElement("div");
      el.className = "attachment uploading";
      const label = document.createElement("span");
      label.textContent = name;
      const progress = document.createElement("progress");
      progress.max = 100;
      progress.value = 0;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "small";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove " + name);
      el.append(label, progress, remove);
      list.appendChild(el);
      return { el: el, label: label, progress: progress, remove: remove };
    }

    function upload(file) {
      if (list.children.length >= parseInt(form.dataset.maxFiles, 10)) {
        const c = chip(file.name);
        fail(c, file.name + ": a message can carry at most " + form.dataset.maxFiles + " files.");
        return;
      }
      const c = chip(file.name);
      const xhr = new XMLHttpRequest();
      c.remove.addEventListener("click", function () { xhr.abort(); c.el.remove(); });
      xhr.open("POST", form.dataset.uploadUrl);
      xhr.setRequestHeader("X-CSRFToken", form.dataset.csrf);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) c.progress.value = (100 * e.loaded) / e.total;
      });
      xhr.addEventListener("load", function () {
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: a proxy error page */ }
        if (xhr.status !== 200) { fail(c, data.error || file.name + ": the upload failed (" + xhr.status + ")."); return; }
        c.el.classList.remove("uploading");
        c.progress.remove();
        if (data.media_type.indexOf("image/") === 0) {
          const img = document.createElement("img");
          img.src = data.url;
          img.alt = data.name;
          c.el.insertBefore(img, c.label);
        } else {
          c.label.textContent = "PDF · " + data.name + " · " + data.pages + (data.pages === 1 ? " page" : " pages");
        }
        const hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = "attachment";
        hidden.value = data.id;
        c.el.appendChild(hidden);
      });
      xhr.addEventListener("error", function () { fail(c, file.name + ": the upload failed; check the connection."); });
      const body = new FormData();
      body.append("file", file);
      xhr.send(body);
    }

    function fail(c, message) {
      c.el.classList.remove("uploading");
      c.el.classList.add("failed");
      c.progress.remove();
      c.label.textContent = message;
      c.el.setAttribute("role", "alert");
    }

    picker.addEventListener("change", function () {
      Array.from(picker.files).forEach(upload);
      picker.value = "";
    });
    const dropZone = document.querySelector(".main") || document.body;
    dropZone.addEventListener("dragover", function (e) { e.preventDefault(); if (messages) messages.classList.add("dragging"); });
    dropZone.addEventListener("dragleave", function () { if (messages) messages.classList.remove("dragging"); });
    dropZone.addEventListener("drop", function (e) {
      e.preventDefault();
      if (messages) messages.classList.remove("dragging");
      Array.from(e.dataTransfer.files).forEach(upload);
    });
    form.querySelector("textarea").addEventListener("paste", function (e) {
      const pasted = Array.from(e.clipboardData.files || []);
      if (pasted.length) { e.preventDefault(); pasted.forEach(upload); }
    });
  }

  // --- the stream --------------------------------------------------------------------------
  let socket = null;
  let messages = null;
  let stickToBottom = true;
  const early = new Map(); // frames for a reply whose element has not been swapped in yet

  function streamingReply() {
    return document.querySelector('[data-role=assistant][data-status=streaming]');
  }

  function updateButtons() {
    const streaming = !!streamingReply();
    const stop = document.getElementById("stop-button");
    if (stop) stop.hidden = !streaming;
  }

  function scrollToBottom() {
    if (stickToBottom) window.scrollTo(0, document.body.scrollHeight);
  }

  const BLOCK_LABELS = { thinking: "Thinking", redacted_thinking: "Thinking (redacted)", tool_use: "Tool call", tool_result: "Tool result" };

  function blockElement(kind, index) {
    let el;
    if (kind === "text") {
      el = document.createElement("div");
      el.className = "block block-text markdown";
    } else {
      el = document.createElement("details");
      el.className = kind.indexOf("tool") === 0 ? "block block-tool" : "block block-thinking";
      el.open = kind.indexOf("tool") === 0;
      const summary = document.createElement("summary");
      summary.textContent = BLOCK_LABELS[kind] || kind;
      el.appendChild(summary);
    }
    el.dataset.index = index;
    const text = document.createElement(kind.indexOf("tool") === 0 ? "pre" : "div");
    text.className = "streaming-text";
    el.appendChild(text);
    return el;
  }

  function fromHTML(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function replaceMessage(article, html) {
    const fresh = fromHTML(html);
    article.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    addCopyButtons(fresh);
  }

  function applyFrame(frame) {
    const kind = frame[0];
    if (kind === "x") { console.warn("chat:", frame[1]); return; }
    if (kind === "r") { resyncAll(); return; }
    const id = frame[1], seq = frame[2];
    const article = document.getElementById("message-" + id);
    if (!article) {
      if (!early.has(id)) early.set(id, []);
      if (early.get(id).length < 5000) early.get(id).push(frame);
      return;
    }
    if (kind === "e") { replaceMessage(article, frame[3]); updateButtons(); scrollToBottom(); return; }
    if (kind === "s") { applySnapshot(article, frame); scrollToBottom(); return; }
    if (article.dataset.seq === undefined) return; // waiting for the snapshot we asked for
    const last = parseInt(article.dataset.seq, 10);
    if (seq <= last) return; // already covered by a snapshot
    if (seq !== last + 1) { resync(id); return; }
    article.dataset.seq = seq;
    const blocks = article.querySelector(".blocks");
    if (kind === "b") {
      blocks.appendChild(blockElement(frame[4], frame[3]));
    } else if (kind === "d") {
      const open = blocks.lastElementChild;
      const target = open && open.querySelector(".streaming-text");
      if (target) target.appendChild(document.createTextNode(frame[3]));
    } else if (kind === "c") {
      const block = blocks.querySelector('[data-index="' + frame[3] + '"]');
      const done = fromHTML(frame[4]);
      if (block) block.replaceWith(done); else blocks.appendChild(done);
      addCopyButtons(done);
    }
    scrollToBottom();
  }

  function applySnapshot(article, frame) {
    const blocks = article.querySelector(".blocks");
    blocks.innerHTML = "";
    frame[3].forEach(function (item, index) {
      let el;
      if (item[1] !== null) {
        el = fromHTML(item[1]);
      } else {
        el = blockElement(item[0], index);
        el.querySelector(".streaming-text").textContent = item[2];
      }
      blocks.appendChild(el);
    });
    article.dataset.seq = frame[2];
    addCopyButtons(article);
  }

  function resync(id) {
    const article = document.getElementById("message-" + id);
    if (article) delete article.dataset.seq;
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resync", message: Number(id) }));
  }

  function resyncAll() {
    document.querySelectorAll('[data-role=assistant][data-status=streaming]').forEach(function (el) {
      resync(el.dataset.message);
    });
  }

  function connect(attempt) {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + messages.dataset.wsUrl;
    socket = new WebSocket(url);
    const banner = document.getElementById("connection-banner");
    socket.addEventListener("open", function () {
      attempt = 0;
      if (banner) banner.hidden = true;
      resyncAll();
    });
    socket.addEventListener("message", function (event) { applyFrame(JSON.parse(event.data)); });
    socket.addEventListener("close", function (event) {
      socket = null;
      if (event.code === 4404) return; // not ours, or gone
      // Replies keep being generated and saved on the server; only the live view is lost.
      if (banner && attempt >= 2) banner.hidden = false;
      setTimeout(function () { connect(attempt + 1); }, Math.min(10000, 500 * 2 ** attempt));
    });
  }

  function flushEarlyFrames() {
    early.forEach(function (frames, id) {
      if (document.getElementById("message-" + id)) {
        early.delete(id);
        frames.forEach(applyFrame);
      }
    });
    updateButtons();
  }

  // --- code blocks ---------------------------------------------------------------------------
  function addCopyButtons(root) {
    root.querySelectorAll(".markdown pre").forEach(function (pre) {
      if (pre.querySelector(".copy")) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy small";
      button.textContent = "Copy";
      button.addEventListener("click", function () {
        const code = pre.querySelector("code") || pre;
        navigator.clipboard.writeText(code.innerText).then(function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 1500);
        });
      });
      pre.appendChild(button);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    messages = document.getElementById("messages");
    setupComposer();
    const composer = document.getElementById("composer");
    if (composer) setupAttachments(composer);
    addCopyButtons(document);
    window.addEventListener("scroll", function () {
      stickToBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    });
    document.body.addEventListener("htmx:afterSwap", flushEarlyFrames);
    updateButtons();
    scrollToBottom();
    if (messages && messages.dataset.wsUrl) connect(0);
  });
})();
