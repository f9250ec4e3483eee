// Times in the reader's own zone and language: each <time datetime> holding a time of day (the
// server writes it in UTC, the text without scripts) is rewritten with Intl.DateTimeFormat, on
// load and whenever new content arrives (a streamed reply, an htmx swap). Its full date, time and
// zone show on hover.
(function () {
  "use strict";

  if (!window.Intl || !Intl.DateTimeFormat) return;
  const TIME = { hour: "numeric", minute: "2-digit" };
  const today = new Intl.DateTimeFormat(undefined, TIME);
  const thisYear = new Intl.DateTimeFormat(undefined, Object.assign({ month: "short", day: "numeric" }, TIME));
  const otherYear = new Intl.DateTimeFormat(undefined, Object.assign({ year: "numeric", month: "short", day: "numeric" }, TIME));
  const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  function localise(el) {
    el.dataset.local = "";
    if (el.dateTime.indexOf("T") < 0) return; // a date alone has no zone to convert
    const moment = new Date(el.dateTime);
    if (isNaN(moment)) return;
    const now = new Date();
    const format = sameDay(moment, now) ? today : moment.getFullYear() === now.getFullYear() ? thisYear : otherYear;
    el.textContent = format.format(moment);
    el.title = full.format(moment);
  }

  function localiseAll() {
    pending = false;
    document.querySelectorAll("time[datetime]:not([data-local])").forEach(localise);
  }

  let pending = false;
  function soon() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(localiseAll);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localiseAll();
    new MutationObserver(soon).observe(document.body, { subtree: true, childList: true });
  });
})();
