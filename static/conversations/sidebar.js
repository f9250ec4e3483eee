// The sidebar's keyboard and focus: Ctrl+K (⌘K on a Mac) focuses the search box and Escape
// clears it; Ctrl+Shift+O opens a new chat; while the box holds a query the results take the
// list's place; Escape in a rename box cancels it; Escape closes an open menu (an item's, or the
// header's ⋯ and Settings); one item menu is open at a time; focus follows an item that a menu action swapped
// (or lands on Undo); an Undo leaves when its time is up; a new chat's link is replaced by the
// server's list; the browser's time zone goes to the server in a cookie, for the list's date
// groups. The markup all comes from the server.
(function () {
  "use strict";

  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && /^[A-Za-z0-9_+\-\/]+$/.test(zone)) document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
  } catch (error) { /* no Intl: the server's zone */ }

  function list() { return document.getElementById("conversation-list"); }
  function results() { return document.getElementById("search-results"); }

  // --- search ---------------------------------------------------------------------------------
  function showResults(box) {
    const searching = box.value.trim() !== "";
    if (!results() || !list()) return;
    results().hidden = !searching;
    list().hidden = searching;
    if (!searching) results().innerHTML = "";
  }

  function clearSearch(box) {
    box.value = "";
    showResults(box);
  }

  function openDrawer() {
    const menu = document.querySelector(".menu-button");
    if (menu && menu.offsetParent !== null && menu.getAttribute("aria-expanded") !== "true") menu.click();
  }

  function setupSearch(box) {
    box.addEventListener("input", function () { showResults(box); });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && box.value !== "") {
        // The first Escape clears the box; the next one (on a phone) closes the drawer.
        event.preventDefault();
        event.stopPropagation();
        clearSearch(box);
      } else if (event.key === "ArrowDown") {
        const first = results() && !results().hidden && results().querySelector("a");
        if (first) { event.preventDefault(); first.focus(); }
      }
    });
    // With htmx the box searches as it is typed in; Enter must not leave the page.
    box.form.addEventListener("submit", function (event) {
      if (!window.htmx) return;
      event.preventDefault();
      window.htmx.trigger(box, "search");
    });
    // An answer to an older query may land after the box was cleared.
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target === results() && box.value.trim() === "") clearSearch(box);
    });
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && event.key.toLowerCase() === "k") {
        event.preventDefault();
        openDrawer();
        box.focus();
        box.select();
      }
    });
  }

  // --- item menus -----------------------------------------------------------------------------
  const MENUS_OPEN = "details.item-menu[open], details.conversation-actions[open], details.conversation-settings[open]";

  function setupMenus() {
    document.addEventListener("toggle", function (event) {
      const menu = event.target;
      if (!menu.matches || !menu.matches("details.item-menu") || !menu.open) return;
      document.querySelectorAll("details.item-menu[open]").forEach(function (other) {
        if (other !== menu) other.open = false;
      });
    }, true);
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      // The menu holding the focus, else any open one (opened with the mouse, focus elsewhere).
      const inside = event.target.closest && event.target.closest(MENUS_OPEN);
      const menu = inside || document.querySelector(MENUS_OPEN);
      if (menu) {
        event.preventDefault();
        event.stopPropagation();
        menu.open = false;
        if (inside || !document.activeElement || document.activeElement === document.body) menu.querySelector("summary").focus();
        return;
      }
      const cancel = event.target.closest && event.target.closest(".rename-form") && event.target.closest(".rename-form").querySelector(".rename-cancel");
      if (cancel) {
        event.preventDefault();
        event.stopPropagation();
        cancel.click();
      }
    }, true);
    // A click elsewhere closes an open menu. A click on its buttons leaves it: the answer replaces
    // the item, and closing it first would drop the focus that must follow the item.
    document.addEventListener("click", function (event) {
      document.querySelectorAll("details.item-menu[open]").forEach(function (menu) {
        if (!menu.contains(event.target)) menu.open = false;
      });
    });
  }

  // --- Ctrl+Shift+O (⌘⇧O on a Mac): a new chat, from any page --------------------------------
  function setupNewChatKey() {
    document.addEventListener("keydown", function (event) {
      if (!(event.ctrlKey || event.metaKey) || !event.shiftKey || event.altKey || event.key.toLowerCase() !== "o") return;
      const link = document.querySelector("a[data-new-chat]");
      if (!link) return;
      event.preventDefault();
      window.location.assign(link.href);
    });
  }

  // --- focus across swaps ---------------------------------------------------------------------
  // A menu action replaces the item (or the whole list); focus goes back to the same
  // conversation's link if it is still listed, else to the Undo, else to the next item.
  function setupFocus() {
    let wanted = null;
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      const target = event.detail.target;
      const active = document.activeElement;
      const item = active && active.closest && active.closest("li[data-conversation]");
      if (!target || !item || !target.contains(item)) return;
      let next = item.nextElementSibling;
      while (next && !next.matches(".chat-item")) next = next.nextElementSibling;
      wanted = { id: item.dataset.conversation, next: next, undo: document.querySelector("#undo-toast button") };
      // A swap that removes its target (delete, archive) fires its later events on the removed
      // element, where they never reach the body: a timer stands in for them.
      setTimeout(refocus, 100);
    });
    document.body.addEventListener("htmx:afterSettle", refocus);

    function refocus() {
      if (!wanted) return;
      const w = wanted;
      wanted = null;
      const active = document.activeElement;
      if (active && active !== document.body && document.contains(active)) return;
      const here = '#conversation-list li[data-conversation="' + w.id + '"] ';
      const same = document.querySelector(here + "> a, " + here + "input");
      const undo = document.querySelector("#undo-toast button");
      const next = w.next && document.contains(w.next) ? w.next.querySelector("a") : null;
      const target = same || (undo !== w.undo ? undo : null) || next || document.getElementById("sidebar-search");
      if (target) target.focus();
    }
  }

  // --- the Undo toast -------------------------------------------------------------------------
  function setupToast(toast) {
    function arm() {
      const button = toast.querySelector("[data-expires-in]");
      if (!button || button.dataset.armed) return;
      button.dataset.armed = "1";
      setTimeout(function () {
        if (toast.contains(button)) toast.innerHTML = "";
      }, Number(button.dataset.expiresIn) * 1000);
    }
    arm();
    new MutationObserver(arm).observe(toast, { childList: true });
  }

  // --- a new conversation ---------------------------------------------------------------------
  // chat.js puts a new chat's link at the top of the list as it starts; the server's list (its
  // date group, its menu) replaces it.
  function setupRefresh(list) {
    new MutationObserver(function (changes) {
      const added = changes.some(function (change) {
        return Array.from(change.addedNodes).some(function (node) {
          return node.nodeName === "LI" && !node.className;
        });
      });
      if (added && window.htmx) window.htmx.ajax("GET", list.dataset.url, { target: list, swap: "innerHTML" });
    }).observe(list, { childList: true });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const box = document.getElementById("sidebar-search");
    if (box) setupSearch(box);
    setupMenus();
    setupNewChatKey();
    setupFocus();
    if (list()) setupRefresh(list());
    const toast = document.getElementById("undo-toast");
    if (toast) setupToast(toast);
  });
})();
