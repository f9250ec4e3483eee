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
      if (!text && !form.querySelector("input[name=attachment], input[name=link]")) {
        event.preventDefault();
        showError("Type a message first.");
      } else if (maxChars && text.length > maxChars) {
        event.preventDefault();
        showError("The message is " + text.length.toLocaleString() + " characters long; the limit is " + maxChars.toLocaleString() + ".");
      } else if (form.querySelector(".attachment.failed")) {
        event.preventDefault();
        showError("A file was refused (its reason is on it): remove it, then send.");
      } else if (form.querySelector(".attachment.uploading")) {
        event.preventDefault(); // not lost: it goes out, with the files, when the uploads finish
        form.dataset.queued = "1";
        showError("");
        document.getElementById("send-button").textContent = "Sending after upload…";
      } else if (signedOut) {
        event.preventDefault();
      } else if (streamingReply()) {
        event.preventDefault();
        showError("A reply is still streaming. Wait for it or press Stop.");
      } else if (sending || waitingForSocket || posting) {
        event.preventDefault(); // one send at a time: a second Enter or click sends nothing twice
      } else {
        showError("");
        if (socket && socket.readyState === WebSocket.OPEN) {
          event.preventDefault(); // the lean path: over the open socket; POST is the fallback
          sendOverSocket(form);
        } else if (socket && socket.readyState === WebSocket.CONNECTING && !form.dataset.viaPost) {
          event.preventDefault(); // a send right after the page loads: it goes when the socket opens
          sendWhenOpen(form);
        }
      }
    });
    // A POST on its way is the send: htmx would queue a second one behind it.
    form.addEventListener("htmx:beforeSend", function (event) { if (event.detail.elt === form) posting = true; });
    form.addEventListener("htmx:afterRequest", function (event) { if (event.detail.elt === form) posting = false; });
    composerError = showError;
    document.body.addEventListener("chat:sent", function () {
      // An unanswered question before this send went with it (the server merges it into this turn).
      messages.querySelectorAll(".notice.unanswered[data-after-send]").forEach(function (note) {
        note.textContent = note.dataset.afterSend;
        delete note.dataset.afterSend;
        const retry = note.closest(".message").querySelector("button[title=Retry]");
        if (retry) retry.remove();
      });
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
    function stop() {
      const reply = streamingReply();
      if (reply) sendStop(reply.dataset.message);
      input.focus();
    }
    document.getElementById("stop-button").addEventListener("click", stop);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && streamingReply() && !event.target.closest("details[open], dialog")) stop();
    });
    const model = form.querySelector("select[name=model]");
    if (model) model.addEventListener("change", function () {
      input.placeholder = "Message " + model.selectedOptions[0].dataset.name + "…";
    });
    setupSwitches(form);
    // The box grows with its text, from one line to about eight (CSS field-sizing where the browser has it).
    if (window.CSS && !CSS.supports("field-sizing", "content")) {
      const grow = function () { input.style.height = "auto"; input.style.height = input.scrollHeight + 2 + "px"; };
      input.addEventListener("input", grow);
      document.body.addEventListener("chat:sent", grow);
    }
  }

  // The composer's switches (Web search, Thinking and its effort, Code execution). On the new-chat
  // page each model option lists those it offers (data-switches), and a team prompt may rule out web
  // search (data-no-web); a switch not offered is hidden and disabled, so it is not sent.
  function setupSwitches(form) {
    const group = form.querySelector(".composer-switches");
    if (!group) return;
    const model = form.querySelector("select[name=model]");
    const prompt = form.querySelector("select[name=prompt]");
    function offered() {
      if (!model) return null; // a conversation: the server rendered only what it offers
      const noWeb = prompt && prompt.selectedOptions[0] && prompt.selectedOptions[0].dataset.noWeb;
      return (model.selectedOptions[0].dataset.switches || "").split(" ").filter(function (name) { return !(noWeb && name === "web"); });
    }
    function show(el, on) { el.hidden = !on; (el.matches("select") ? el : el.querySelector("input")).disabled = !on; }
    function apply() {
      const names = offered();
      if (names) group.querySelectorAll("label.switch").forEach(function (label) { show(label, names.indexOf(label.dataset.switch) >= 0); });
      // Connectors and skills: a skill needs code execution; on the New chat page a team's own
      // follow the chosen prompt's team (the server rendered every team's).
      const chosenPrompt = prompt && prompt.selectedOptions[0];
      const team = prompt ? (chosenPrompt && chosenPrompt.dataset.team) || "" : null;
      group.querySelectorAll(".switch-item").forEach(function (item) {
        const fits = (!names || !item.dataset.needs || names.indexOf(item.dataset.needs) >= 0)
          && (team === null || !item.dataset.team || item.dataset.team === team);
        item.hidden = !fits;
        item.querySelector("input").disabled = !fits || item.dataset.locked === "1";
      });
      const extras = group.querySelector(".composer-extras");
      if (extras) extras.hidden = !extras.querySelector(".switch-item:not([hidden])");
      const effort = group.querySelector("select[name=effort]");
      const thinking = group.querySelector("input[name=thinking]");
      const effortOffered = names ? names.indexOf("effort") >= 0 : effort.dataset.offered === "1";
      show(effort, effortOffered && !thinking.disabled && thinking.checked);
      const any = Array.from(group.querySelectorAll("label.switch")).some(function (label) { return !label.hidden; });
      group.hidden = !any;
      group.querySelector("input[name=switches]").disabled = !any;
    }
    [model, prompt, group.querySelector("input[name=thinking]")].forEach(function (el) { if (el) el.addEventListener("change", apply); });
    apply();
  }

  // What the switches say, for a send over the socket (null when the composer has none).
  function chosenSwitches(form) {
    const marker = form.querySelector("input[name=switches]");
    if (!marker || marker.disabled) return null;
    const field = function (name) { const el = form.querySelector("[name=" + name + "]"); return el && !el.disabled ? el : null; };
    const tools = {};
    ["web", "thinking", "code"].forEach(function (name) { const el = field(name); if (el && el.checked) tools[name] = true; });
    const effort = field("effort");
    if (effort && effort.value) tools.effort = effort.value;
    const checked = function (name) { return Array.from(form.querySelectorAll("input[name=" + name + "]:checked:not(:disabled)"), function (el) { return el.value; }); };
    tools.connectors = checked("connector");
    tools.skills = checked("skill");
    return tools;
  }

  // A send made while files upload waits for them; a failed upload cancels it (the reason shows).
  // The context gauge (_context_gauge.html), fetched again after a reply, and as a draft's files
  // change (once they settle: never per keystroke), with their ids.
  let gaugeTimer = null;
  function refreshGauge(why) {
    const gauge = document.getElementById("context-gauge");
    if (!gauge || !window.htmx) return;
    clearTimeout(gaugeTimer);
    gaugeTimer = setTimeout(function () {
      const files = Array.from(document.querySelectorAll("#composer input[name=attachment]"));
      const query = files.map(function (el) { return "attachment=" + encodeURIComponent(el.value); }).join("&");
      window.htmx.ajax("GET", gauge.dataset.url + (query ? "?" + query : ""), { target: "#context-gauge", swap: "outerHTML" });
    }, why === "files-changed" ? 600 : 0);
  }

  function uploadsSettled(form) {
    refreshGauge("files-changed"); // the context gauge counts them
    if (!form.dataset.queued || form.querySelector(".attachment.uploading")) return;
    delete form.dataset.queued;
    document.getElementById("send-button").textContent = "Send";
    if (!form.querySelector(".attachment.failed")) form.requestSubmit();
    else composerError("A file was refused (its reason is on it): remove it, then send.");
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
      remove.addEventListener("click", function () { el.remove(); uploadsSettled(form); });
      return { el: el, label: label, progress: progress, remove: remove };
    }

    function upload(file) {
      if (fileCount() >= parseInt(form.dataset.maxFiles, 10)) {
        const c = chip(file.name);
        fail(c, file.name + ": a message can carry at most " + form.dataset.maxFiles + " files.");
        return;
      }
      const c = chip(file.name);
      const xhr = new XMLHttpRequest();
      c.remove.addEventListener("click", function () { xhr.abort(); });
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
        setTimeout(function () { uploadsSettled(form); });
        if (data.media_type.indexOf("image/") === 0) {
          const img = document.createElement("img");
          img.src = data.url;
          img.alt = data.name;
          c.el.insertBefore(img, c.label);
        } else if (data.pages) {
          c.label.textContent = "PDF · " + data.name + " · " + data.pages + (data.pages === 1 ? " page" : " pages");
        } else {
          c.label.textContent = "Text · " + data.name;
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
      uploadsSettled(form);
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
      else setTimeout(function () { offerLinks(e.clipboardData.getData("text/plain") || ""); });
    });
    form.querySelector("textarea").addEventListener("input", dropStaleOffers);

    // A pasted https:// link to an image or a PDF is offered as an attachment: Attach from link
    // moves it from the text to a chip, and the send carries it as a link (the API fetches it;
    // the server checks it again and never requests it). Other endings stay text.
    function fileCount() { return list.querySelectorAll(".attachment:not(.link-offer)").length; }
    function linkInfo(url) {
      let parsed;
      try { parsed = new URL(url); } catch (err) { return null; }
      if (!/^https?:$/.test(parsed.protocol) || !parsed.hostname || url.length > 2000) return null;
      const path = parsed.pathname.toLowerCase();
      const pdf = /\.pdf$/.test(path);
      if (!pdf && !/\.(png|jpe?g|gif|webp)$/.test(path)) return null;
      let name = parsed.pathname.split("/").pop();
      try { name = decodeURIComponent(name); } catch (err) { /* shown as written */ }
      return { label: (pdf ? "PDF link" : "Image link") + " · " + parsed.hostname + " · " + name, name: name };
    }
    function offered(url) {
      return Array.from(list.querySelectorAll("[data-link]")).some(function (el) { return el.dataset.link === url; });
    }
    function offerLinks(text) {
      (text.match(/https?:\/\/[^\s<>"]+/gi) || []).forEach(function (url) {
        const info = linkInfo(url);
        if (!info || offered(url)) return;
        const el = document.createElement("div");
        el.className = "attachment link-offer";
        el.dataset.link = url;
        const label = document.createElement("span");
        label.textContent = info.label;
        const attach = document.createElement("button");
        attach.type = "button";
        attach.className = "small";
        attach.textContent = "Attach from link";
        el.append(label, attach);
        list.appendChild(el);
        attach.addEventListener("click", function () { attachLink(el, url, info); });
      });
    }
    function attachLink(offer, url, info) {
      if (fileCount() >= parseInt(form.dataset.maxFiles, 10)) {
        composerError("A message can carry at most " + form.dataset.maxFiles + " files.");
        return;
      }
      const input = form.querySelector("textarea");
      const at = input.value.indexOf(url);
      if (at >= 0) input.value = (input.value.slice(0, at).replace(/[ \t]+$/, "") + " " + input.value.slice(at + url.length).replace(/^[ \t]+/, "")).trim();
      const chipEl = chip(info.name);
      chipEl.el.classList.remove("uploading");
      chipEl.el.classList.add("linked");
      chipEl.el.dataset.link = url;
      chipEl.progress.remove();
      chipEl.label.textContent = info.label;
      chipEl.label.title = url;
      const hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "link";
      hidden.value = url;
      chipEl.el.appendChild(hidden);
      offer.replaceWith(chipEl.el);
      input.focus();
    }
    function dropStaleOffers() {
      const text = form.querySelector("textarea").value;
      list.querySelectorAll(".link-offer").forEach(function (el) { if (text.indexOf(el.dataset.link) < 0) el.remove(); });
    }
  }

  // --- sends over the socket ------------------------------------------------------------------
  let sending = null; // the id of the send waiting for its answer
  let sendCount = 0;
  let composerError = function () {};

  function sendOverSocket(form) {
    sending = String(++sendCount);
    const frame = {
      type: form.dataset.start ? "start" : "send",
      id: sending,
      text: form.querySelector("textarea[name=text]").value,
      attachments: Array.from(form.querySelectorAll("input[name=attachment]")).map(function (el) { return Number(el.value); }),
      links: Array.from(form.querySelectorAll("input[name=link]")).map(function (el) { return el.value; }),
    };
    const tools = chosenSwitches(form);
    if (tools) frame.tools = tools;
    if (form.dataset.start) {
      const prompt = form.querySelector("select[name=prompt]");
      frame.model = (form.querySelector("select[name=model]") || {}).value || "";
      frame.prompt = prompt && prompt.value ? Number(prompt.value) : null;
      frame.timezone = (form.querySelector(".timezone-input") || {}).value || "";
      frame.temporary = Boolean((form.querySelector("input[name=temporary]") || {}).checked);
      const project = form.querySelector("input[name=project]");
      if (project) frame.project = Number(project.value);
    }
    socket.send(JSON.stringify(frame));
  }

  // A send made while the socket is still opening waits for it, then takes it; if it does not open
  // within SOCKET_WAIT_MS (or closes first), the form posts instead (the fallback). Sent once either way.
  const SOCKET_WAIT_MS = 3000;
  let waitingForSocket = null;
  let posting = false; // a send by POST is on its way

  function sendWhenOpen(form) {
    document.getElementById("send-button").textContent = "Sending…";
    waitingForSocket = setTimeout(function () { sendByPost(form); }, SOCKET_WAIT_MS);
  }

  function stopWaiting() {
    if (!waitingForSocket) return false;
    clearTimeout(waitingForSocket);
    waitingForSocket = null;
    document.getElementById("send-button").textContent = "Send";
    return true;
  }

  function sendByPost(form) {
    stopWaiting();
    form.dataset.viaPost = "1";
    form.requestSubmit();
    delete form.dataset.viaPost;
  }

  function socketOpened() {
    if (stopWaiting()) sendOverSocket(document.getElementById("composer"));
  }

  function sendAccepted(frame) {
    // ["a", send_id, turn_html, conversation_id, url, title]
    if (frame[1] !== sending) return;
    sending = null;
    const form = document.getElementById("composer");
    if (form.dataset.start) becomeConversation(form, frame[3], frame[4], frame[5]);
    const template = document.createElement("template");
    template.innerHTML = frame[2].trim();
    Array.from(template.content.children).forEach(function (el) {
      messages.appendChild(el);
      if (window.htmx) window.htmx.process(el);
    });
    document.body.dispatchEvent(new CustomEvent("chat:sent"));
    flushEarlyFrames();
    updateButtons();
  }

  function sendRefused(frame) {
    // ["n", send_id, reason]: the text stays in the composer
    if (frame[1] !== sending) return;
    sending = null;
    composerError(frame[2]);
  }

  function becomeConversation(form, id, url, title) {
    // The new-chat page turns into the conversation's page without a reload; its socket already
    // watches the new conversation. The header (settings, rename) is fetched afterwards.
    delete form.dataset.start;
    history.replaceState(null, "", url);
    document.title = title;
    titles.set(String(id), { provisional: title, generated: null });
    messages.classList.remove("empty");
    messages.querySelectorAll(".placeholder").forEach(function (el) { el.remove(); });
    messages.dataset.wsUrl = "/ws/c/" + id + "/";
    const temporary = form.querySelector("input[name=temporary]:checked");
    form.querySelectorAll(".model-select, .temporary-choice, .temporary-note").forEach(function (el) { el.remove(); });
    form.setAttribute("action", url + "send/");
    form.setAttribute("hx-post", url + "send/");
    if (window.htmx) window.htmx.process(form);
    const list = document.querySelector(".conversation-list");
    if (list && !temporary) { // a temporary chat is never listed
      list.querySelectorAll("li.muted").forEach(function (el) { el.remove(); });
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = url;
      link.textContent = title;
      link.setAttribute("aria-current", "page");
      item.dataset.conversation = id;
      item.appendChild(link);
      list.prepend(item);
    }
    if (window.htmx) window.htmx.ajax("GET", url, { target: ".conversation-header", select: ".conversation-header", swap: "outerHTML" });
  }

  // A generated title (["t", conversation_id, title]): the header, the tab, the sidebar's item.
  // A header or sidebar list fetched before the title was saved can arrive after it: whatever
  // still shows the new chat's provisional title (its first words) then gets the generated one.
  const titles = new Map(); // conversation id -> {provisional, generated}
  function retitle(id, title) {
    const known = titles.get(String(id));
    if (known) known.generated = title;
    const heading = document.getElementById("conversation-title");
    if (heading) heading.textContent = title;
    document.title = title;
    const input = document.querySelector(".conversation-actions input[name=title]");
    if (input && document.activeElement !== input) input.value = title;
    document.querySelectorAll('#conversation-list li[data-conversation="' + id + '"]').forEach(function (item) {
      const link = item.querySelector(":scope > a");
      if (link) link.textContent = title;
      const options = item.querySelector("summary");
      if (options) options.setAttribute("aria-label", "Options for " + title);
    });
  }

  document.addEventListener("htmx:afterSwap", function () {
    titles.forEach(function (known, id) {
      if (!known.generated) return;
      const heading = document.getElementById("conversation-title");
      const link = document.querySelector('#conversation-list li[data-conversation="' + id + '"] > a');
      const stale = [heading, link].some(function (el) { return el && el.textContent.trim() === known.provisional; });
      if (stale) retitle(id, known.generated);
    });
  });

  // --- the stream --------------------------------------------------------------------------
  let socket = null;
  let messages = null;
  let stickToBottom = true; // the view follows the end of the chat until the person scrolls up
  let signedOut = false;
  const early = new Map(); // frames for a reply whose element has not been swapped in yet
  // An open text block's element -> {before, line, after}: its HTML around the open line and that
  // line's, and closed: the HTML of its markdown blocks that closed (its stop frame leaves it out).
  const openBlocks = new WeakMap();
  const KEPT = "<!--kept-->"; // realtime.KEPT: in a stop frame, where the closed blocks go

  function escapeText(text) { // as the server's sanitizer writes text (rendering._escape_text)
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\u00a0/g, "&nbsp;");
  }

  function streamingReply() {
    return document.querySelector('[data-role=assistant][data-status=streaming]');
  }

  function updateButtons() {
    // Send turns into Stop in the same place; focus follows, so the keyboard never loses it.
    const streaming = !!streamingReply();
    const stop = document.getElementById("stop-button");
    const send = document.getElementById("send-button");
    if (!stop || !send) return;
    const focused = document.activeElement === stop || document.activeElement === send;
    stop.hidden = !streaming || signedOut;
    send.hidden = streaming && !signedOut;
    if (focused) document.getElementById("message-input").focus();
  }

  // A link to one message (a search result: #message-<id>) lands on it, below the sticky header,
  // not at the end of the chat.
  function jumpToLinkedMessage() {
    const target = /^#message-\d+$/.test(location.hash) && document.getElementById(location.hash.slice(1));
    if (!target) return false;
    messages.querySelectorAll(".message.linked").forEach(function (el) { el.classList.remove("linked"); });
    stickToBottom = false;
    target.scrollIntoView({ block: "start" });
    const header = document.querySelector(".conversation-header");
    if (header) window.scrollBy(0, -(header.getBoundingClientRect().bottom + 8));
    target.classList.add("linked");
    updateScrollButton();
    return true;
  }

  function scrollToBottom() {
    if (stickToBottom) window.scrollTo(0, document.body.scrollHeight);
    else markNewBelow();
  }

  // --- Scroll to bottom: shown while the person reads further up; it says when text arrives below.
  function updateScrollButton() {
    const button = document.getElementById("scroll-bottom");
    if (!button) return;
    button.hidden = stickToBottom;
    if (stickToBottom) button.classList.remove("has-new");
  }

  function markNewBelow() {
    const button = document.getElementById("scroll-bottom");
    if (!button || button.classList.contains("has-new")) return;
    button.hidden = false;
    button.classList.add("has-new");
    if (window.chatAnnounce) window.chatAnnounce("New text below");
  }

  function setupScrollButton() {
    window.addEventListener("scroll", function () {
      stickToBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
      updateScrollButton();
    });
    const button = document.getElementById("scroll-bottom");
    if (!button) return;
    button.addEventListener("click", function () {
      const focused = document.activeElement === button;
      stickToBottom = true;
      scrollToBottom();
      updateScrollButton();
      if (focused) document.getElementById("message-input").focus({ preventScroll: true }); // it hid itself
    });
  }

  // The server closed the socket because this person was signed out or deactivated: say so, and
  // neither reconnect nor offer Send or Stop (the text typed stays in the box).
  function showSignedOut() {
    signedOut = true;
    const banner = document.getElementById("signed-out-banner");
    if (banner) {
      const link = banner.querySelector("a"); // back to this chat, which a new chat may have become
      link.setAttribute("href", link.pathname + "?next=" + encodeURIComponent(location.pathname));
      banner.hidden = false;
    }
    const live = document.getElementById("connection-banner");
    if (live) live.hidden = true;
    const send = document.getElementById("send-button");
    if (send) send.disabled = true;
    updateButtons();
  }

  function fromHTML(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function replaceMessage(article, fresh) {
    article.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    addCopyButtons(fresh);
  }

  function applyFrame(frame) {
    const kind = frame[0];
    if (kind === "x") { console.warn("chat:", frame[1]); return; }
    if (kind === "a") { sendAccepted(frame); return; }
    if (kind === "n") { sendRefused(frame); return; }
    if (kind === "r") { resyncAll(); return; }
    if (kind === "t") { retitle(frame[1], frame[2]); return; }
    const id = frame[1], seq = frame[2];
    const article = document.getElementById("message-" + id);
    if (!article) {
      if (!early.has(id)) early.set(id, []);
      if (early.get(id).length < 5000) early.get(id).push(frame);
      return;
    }
    if (kind === "e") {
      const fresh = fromHTML(frame[3]);
      const kept = fresh.querySelector(".blocks > template[data-kept]");
      if (kept) { // the blocks left out: this page's are final, if it had every frame before; else ask for it whole
        const follows = article.dataset.seq !== undefined && seq === parseInt(article.dataset.seq, 10) + 1;
        if (!follows) { resync(id); return; }
        kept.parentNode.replaceWith(article.querySelector(".blocks"));
      }
      replaceMessage(article, fresh);
      refreshGauge("reply-done"); // the context gauge reads its usage
      notLiveYet(id);
      updateButtons();
      scrollToBottom();
      return;
    }
    if (kind === "s") { applySnapshot(article, frame); scrollToBottom(); return; }
    if (article.dataset.seq === undefined) return; // waiting for the snapshot we asked for
    const last = parseInt(article.dataset.seq, 10);
    if (seq <= last) return; // already covered by a snapshot
    if (seq !== last + 1) { resync(id); return; }
    article.dataset.seq = seq;
    const blocks = article.querySelector(".blocks");
    if (kind === "b") {
      appendBlock(blocks, frame[5]);
    } else if (kind === "d") {
      const block = blocks.lastElementChild;
      const target = block && block.querySelector(".streaming-text");
      let open = target && openBlocks.get(target);
      if (target && frame.length > 4) {
        // A text block, rendered: markdown blocks that closed go before the open one, whose HTML
        // around the line being written comes when it changes.
        if (!open && (frame.length < 7 || frame[6] > 0 || frame[4][0] > 0)) { resync(id); return; }
        const shown = frame[4] && open ? open.before + open.line + open.after : ""; // what closed builds on
        if (frame.length > 6) { // the HTML around the line changed: keep the start of `before`, add the rest
          const before = (open ? open.before.slice(0, frame[6]) : "") + frame[7];
          open = { before: before, after: frame[8], line: "", closed: open ? open.closed : "" };
        }
        openBlocks.set(target, open);
        if (frame[4]) { // [keep, add] of the open block as it showed: mostly itself, now final
          const closed = shown.slice(0, frame[4][0]) + frame[4][1];
          target.insertAdjacentHTML("beforebegin", closed);
          open.closed += closed;
          addCopyButtons(block);
        }
        open.line = frame[5];
        target.innerHTML = open.before + open.line + open.after;
      } else if (open) { // a rendered text block whose open line grew by this text only
        open.line += escapeText(frame[3]);
        target.innerHTML = open.before + open.line + open.after;
      } else if (target) {
        target.appendChild(document.createTextNode(frame[3]));
      }
    } else if (kind === "c") {
      const block = blocks.querySelector('[data-index="' + frame[3] + '"]');
      let html = frame[4];
      const at = html.indexOf(KEPT);
      if (at !== -1) { // its closed markdown blocks, which this page has
        const open = block && openBlocks.get(block.querySelector(".streaming-text"));
        if (!open) { resync(id); return; }
        html = html.slice(0, at) + open.closed + html.slice(at + KEPT.length);
      }
      const done = fromHTML(html);
      if (block) block.replaceWith(done); else blocks.appendChild(done);
      if (window.htmx) window.htmx.process(done); // an approval request's form posts through htmx
      addCopyButtons(done);
    }
    scrollToBottom();
  }

  // A block, spaced as the server writes a message's blocks (templatetags blocks_html), so that the
  // blocks an end frame keeps are the page reloaded.
  function appendBlock(blocks, html) {
    const block = blocks.appendChild(fromHTML(html));
    blocks.appendChild(document.createTextNode("\n\n"));
    return block;
  }

  function applySnapshot(article, frame) {
    const blocks = article.querySelector(".blocks");
    blocks.innerHTML = "";
    frame[3].forEach(function (item) {
      const block = appendBlock(blocks, item[1]);
      const open = item.length > 3 && block.querySelector(".streaming-text");
      if (open) openBlocks.set(open, { before: item[3], after: item[4], line: item[5], closed: item[6] });
    });
    if (window.htmx) window.htmx.process(blocks);
    article.dataset.seq = frame[2];
    addCopyButtons(article);
  }

  function resync(id) {
    const article = document.getElementById("message-" + id);
    if (article) delete article.dataset.seq;
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resync", message: Number(id) }));
  }

  // A Stop pressed while the socket is (re)opening goes when it opens, if the reply still streams.
  let stopWhenOpen = null;
  function sendStop(id) {
    const article = document.getElementById("message-" + id);
    if (!article || article.dataset.status !== "streaming") return;
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "stop", message: Number(id) }));
    else stopWhenOpen = id;
  }

  // An end frame can carry a reply still streaming: the server had it stored, but its run had not
  // started yet (a resync right after a send by POST). Its frames are ignored until a snapshot:
  // ask again, a little later each time.
  const notLive = new Map(); // message id -> times asked
  function notLiveYet(id) {
    const article = document.getElementById("message-" + id);
    const tries = (notLive.get(id) || 0) + 1;
    if (!article || article.dataset.status !== "streaming" || tries > 8) { notLive.delete(id); return; }
    notLive.set(id, tries);
    setTimeout(function () {
      const now = document.getElementById("message-" + id);
      if (now && now.dataset.status === "streaming" && now.dataset.seq === undefined) resync(id);
    }, Math.min(4000, 250 * 2 ** tries));
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
      messages.dataset.socket = "open"; // sends now take the socket (and tests can wait for it)
      if (banner) banner.hidden = true;
      resyncAll();
      if (stopWhenOpen !== null) sendStop(stopWhenOpen);
      stopWhenOpen = null;
      socketOpened();
    });
    socket.addEventListener("message", function (event) { applyFrame(JSON.parse(event.data)); });
    socket.addEventListener("close", function (event) {
      socket = null;
      messages.dataset.socket = "closed";
      if (sending) {
        sending = null;
        composerError("The connection dropped before the message was taken. It is still here; send it again.");
      }
      if (event.code === 4401) { stopWaiting(); showSignedOut(); return; } // signed out or deactivated
      if (waitingForSocket) sendByPost(document.getElementById("composer")); // it never opened: no use waiting
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

  // --- versions: Edit, Regenerate and the switchers answer with the list (#messages) -----------
  function closeEditForm(form) {
    const article = form.closest("[data-role=user]");
    form.remove();
    const edit = article && article.querySelector(".edit-button");
    if (edit) edit.focus();
  }

  function serverSays(xhr) {
    const plain = (xhr.getResponseHeader("Content-Type") || "").indexOf("text/plain") === 0;
    return plain && xhr.responseText ? xhr.responseText : "That did not work (" + xhr.status + "). Try again.";
  }

  function listSwapped(event) {
    if (event.detail.target !== messages) return;
    addCopyButtons(messages);
    // A reply streaming on the branch now shown came back without its frames: ask for them.
    messages.querySelectorAll("[data-role=assistant][data-status=streaming]").forEach(function (el) {
      if (el.dataset.seq === undefined) resync(el.dataset.message);
    });
    const from = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (from && from.id === "composer" && socket && socket.readyState === WebSocket.OPEN) {
      // Sent by POST while the socket was opening: frames sent before it joined never come; ask.
      messages.querySelectorAll('[data-role=assistant][data-status=streaming][data-seq="0"]').forEach(function (el) {
        resync(el.dataset.message);
      });
    }
    if (from && from.classList.contains("version-step")) return; // htmx keeps focus on the switcher
    stickToBottom = true; // an edit or a regenerate: the new reply streams at the end of the branch
    scrollToBottom();
    const input = document.getElementById("message-input");
    if (input && (!document.activeElement || document.activeElement === document.body)) input.focus();
  }

  function setupVersions() {
    document.addEventListener("click", function (event) {
      const cancel = event.target.closest && event.target.closest(".edit-form .edit-cancel");
      if (cancel) closeEditForm(cancel.form);
    });
    // Capturing: Escape in the edit box cancels the edit, and does not stop a streaming reply.
    document.addEventListener("keydown", function (event) {
      const form = event.target.closest && event.target.closest(".edit-form");
      if (!form) return;
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        closeEditForm(form);
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.target.tagName === "TEXTAREA") {
        event.preventDefault();
        form.requestSubmit();
      }
    }, true);
    document.body.addEventListener("htmx:responseError", function (event) {
      const elt = event.detail.elt;
      if (!messages || !elt || !messages.contains(elt)) return;
      const form = elt.closest(".edit-form");
      if (form) form.querySelector(".edit-error").textContent = serverSays(event.detail.xhr);
      else composerError(serverSays(event.detail.xhr));
    });
    document.body.addEventListener("htmx:afterSwap", listSwapped);
  }

  // --- code blocks: a header with the language (markdown-it's language-xxx class) and Copy; code
  // execution's input and output get Copy too ---------------------------------------------------
  const COPY_NAMES = { "code-stdout": "Copy output", "code-stderr": "Copy errors" };

  function addCopyButtons(root) {
    root.querySelectorAll(".markdown pre, .block-code pre.code-input, .block-code-result pre").forEach(function (pre) {
      if (pre.querySelector(".copy")) return;
      const code = pre.querySelector("code") || pre;
      const text = code.textContent; // before the header's own text is added
      const lang = /(?:^|\s)language-([\w+#.-]+)/.exec(code.className || "");
      if (lang) {
        const label = document.createElement("span");
        label.className = "code-lang";
        label.textContent = lang[1];
        pre.appendChild(label);
      }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy small";
      button.textContent = "Copy";
      const name = COPY_NAMES[pre.classList[0]] || "Copy code";
      button.setAttribute("aria-label", name);
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(text).then(function () {
          // The name says what shows (WCAG label in name), then both go back.
          button.textContent = "Copied";
          button.setAttribute("aria-label", "Copied");
          setTimeout(function () {
            button.textContent = "Copy";
            button.setAttribute("aria-label", name);
          }, 1500);
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
    setupVersions();
    addCopyButtons(document);
    setupScrollButton();
    document.body.addEventListener("htmx:afterSwap", flushEarlyFrames);
    updateButtons();
    if (!jumpToLinkedMessage()) scrollToBottom();
    window.addEventListener("hashchange", jumpToLinkedMessage); // a result in this same chat
    if (messages && messages.dataset.wsUrl) connect(0);
  });
})();
