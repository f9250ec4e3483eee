// Page furniture on every page: the phone drawer, skip links, the error pages' "Go back", copy
// buttons' names and the "Copy reply" action, the keyboard shortcuts sheet, and one spoken
// announcement when a reply finishes
// (the message list itself is not a live region: a screen reader would read every streamed chunk).
// Loaded in <head> without defer, so the "js" class is on <html> before the first paint.
document.documentElement.classList.add("js");

(function () {
  "use strict";

  // --- the drawer (narrow screens) -----------------------------------------------------------
  function setupDrawer() {
    const button = document.querySelector(".menu-button");
    const drawer = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!drawer) return;
    const main = document.getElementById("main");
    const narrow = window.matchMedia("(max-width: 700px)");

    function isOpen() { return button.getAttribute("aria-expanded") === "true"; }

    // What floats beside the open drawer and belongs with it (the Undo of a delete made in it).
    function companion(node) { return !!(node && node.closest && node.closest("[data-drawer-companion]")); }

    function open() {
      button.setAttribute("aria-expanded", "true");
      document.documentElement.classList.add("drawer-open");
      if (main) main.inert = true;
      const target = drawer.querySelector("[aria-current=page]") || drawer.querySelector("a[href], button");
      if (target) target.focus();
    }

    function close(returnFocus) {
      if (!isOpen()) return;
      button.setAttribute("aria-expanded", "false");
      document.documentElement.classList.remove("drawer-open");
      if (main) main.inert = false;
      if (returnFocus) button.focus();
    }

    button.addEventListener("click", function () { if (isOpen()) close(true); else open(); });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && isOpen()) { event.preventDefault(); close(true); }
    });
    // A tap anywhere outside the drawer (the dimmed page, the top bar) closes it, and does nothing else.
    document.addEventListener("click", function (event) {
      if (!isOpen() || drawer.contains(event.target) || button.contains(event.target) || companion(event.target)) return;
      event.preventDefault();
      event.stopPropagation();
      close(true);
    }, true);
    // Tabbing out of the drawer closes it; the page behind must not be used with it open.
    drawer.addEventListener("focusout", function (event) {
      const next = event.relatedTarget;
      if (isOpen() && next && !drawer.contains(next) && next !== button && !companion(next)) close(false);
    });
    // Widening the window past the breakpoint shows the sidebar in place: drop the drawer state.
    narrow.addEventListener("change", function () { if (!narrow.matches) close(false); });
  }

  // --- skip links: move focus, not just the scroll position -----------------------------------
  function setupSkipLinks() {
    document.querySelectorAll(".skip-link").forEach(function (link) {
      link.addEventListener("click", function (event) {
        const target = document.getElementById(link.getAttribute("href").slice(1));
        if (!target) return;
        event.preventDefault();
        target.focus();
      });
    });
  }

  // --- "Go back" on the error pages: the browser's Back, shown when there is a page to go back to.
  function setupGoBack() {
    if (window.history.length < 2) return;
    document.querySelectorAll("[data-go-back]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.history.back(); });
    });
  }

  // The reply's markdown source and its numbered sources, which the server puts in a <template>
  // beside the button; failing that, its rendered text blocks (no thinking, tool calls or button
  // labels), code fenced.
  function replyText(article) {
    const source = article.querySelector("template.reply-markdown");
    if (source) return source.content.textContent;
    return Array.from(article.querySelectorAll(".blocks > .block-text")).map(function (block) {
      const copy = block.cloneNode(true);
      copy.querySelectorAll("button").forEach(function (b) { b.remove(); });
      copy.querySelectorAll("pre").forEach(function (pre) {
        const code = pre.querySelector("code[class^=language-]");
        const lang = code ? code.className.slice("language-".length) : "";
        pre.textContent = "```" + lang + "\n" + pre.textContent.replace(/\n$/, "") + "\n```";
      });
      return textOf(copy);
    }).join("\n\n").trim();
  }

  // innerText needs the element to be rendered; a detached clone is not, so lay it out off-screen.
  function textOf(element) {
    const holder = document.createElement("div");
    holder.className = "visually-hidden";
    holder.setAttribute("aria-hidden", "true");
    holder.appendChild(element);
    document.body.appendChild(holder);
    const text = element.innerText;
    holder.remove();
    return text;
  }

  function setupCopyReply() {
    document.addEventListener("click", function (event) {
      const button = event.target.closest && event.target.closest("button.copy-reply");
      if (!button) return;
      const article = button.closest("[data-role=assistant]");
      if (!article || !navigator.clipboard) return;
      navigator.clipboard.writeText(replyText(article)).then(function () {
        announce("Reply copied");
        button.classList.add("copied"); // a check mark for a moment; the name stays Copy reply
        setTimeout(function () { button.classList.remove("copied"); }, 1500);
      });
    });
  }

  // --- the keyboard shortcuts sheet: ? outside a text field, or Ctrl+/ (⌘/) anywhere ------------
  function typing(target) {
    return !!(target && target.closest && target.closest("input, textarea, select, [contenteditable]"));
  }

  function setupShortcutSheet() {
    const sheet = document.getElementById("shortcuts");
    if (!sheet || !sheet.showModal) return;
    let opener = null;
    document.addEventListener("keydown", function (event) {
      const slash = (event.ctrlKey || event.metaKey) && !event.altKey && event.key === "/";
      const question = event.key === "?" && !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event.target);
      if (!slash && !question) return;
      event.preventDefault();
      if (sheet.open) { sheet.close(); return; }
      opener = document.activeElement;
      sheet.showModal(); // Esc and Close shut it; the focus goes back where it was
    });
    sheet.addEventListener("close", function () {
      if (opener && opener.isConnected && opener.focus) opener.focus();
      opener = null;
    });
    // A click on the dimmed page around it closes it too.
    sheet.addEventListener("click", function (event) {
      const box = sheet.getBoundingClientRect();
      const outside = event.clientX < box.left || event.clientX > box.right || event.clientY < box.top || event.clientY > box.bottom;
      if (event.target === sheet && outside) sheet.close();
    });
  }

  // --- announcing finished replies ------------------------------------------------------------
  const ENDINGS = { complete: "Reply complete", stopped: "Reply stopped", error: "Reply failed", interrupted: "Reply interrupted" };
  const SPOKEN_CHARS = 200;

  function announce(text) {
    const region = document.getElementById("announcer");
    if (!region) return;
    // Clearing first makes a repeated text count as a change.
    region.textContent = "";
    setTimeout(function () { region.textContent = text; }, 50);
  }

  window.chatAnnounce = announce; // chat.js says "New text below" through the same region

  // Replies seen streaming: when one ends, say so once.
  function replyWatcher(messages) {
    const streaming = new Set();

    function scan() {
      messages.querySelectorAll("[data-role=assistant]").forEach(function (article) {
        const id = article.dataset.message;
        const status = article.dataset.status;
        if (status === "streaming") { streaming.add(id); return; }
        if (!streaming.has(id)) return;
        streaming.delete(id);
        announce((ENDINGS[status] || "Reply finished") + spokenText(article));
      });
    }

    // What follows the ending: the error if there is one, else the start of the reply's text.
    function spokenText(article) {
      const error = article.querySelector(".message-footer .error");
      let text = error ? error.textContent : Array.from(article.querySelectorAll(".blocks > .block-text")).map(function (block) {
        const copy = block.cloneNode(true);
        copy.querySelectorAll("button").forEach(function (b) { b.remove(); });
        return copy.textContent;
      }).join(" ");
      text = text.replace(/\s+/g, " ").trim();
      if (text.length > SPOKEN_CHARS) text = text.slice(0, SPOKEN_CHARS) + "…";
      return text ? ": " + text : ".";
    }

    scan();
    return scan;
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupDrawer();
    setupSkipLinks();
    setupGoBack();
    setupCopyReply();
    setupShortcutSheet();
    const messages = document.getElementById("messages");
    const scanReplies = messages ? replyWatcher(messages) : function () {};
    // chat.js swaps a finished reply in as a new element, and a retry flips data-status in place:
    // one observer sees both.
    new MutationObserver(scanReplies).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"] });
  });
})();
