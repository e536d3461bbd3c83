// The UI's only script of its own (docs/ui.md). No inline scripts: the CSP forbids them.
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // Every htmx request that changes state carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRF-Token"] = csrf();
  });

  // htmx does not swap 4xx answers by default; the UI's 4xx pages are meant to be shown
  // (a 422 form with its errors beside the fields, a 412 that offers to reload).
  document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    if (status === 409 || status === 412 || status === 422 || status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Keyboard shortcuts (listed on /ui/shortcuts): elements name their own key with
  // data-shortcut; "g q" style pairs go to a page.
  let pending = null;
  const goTo = { q: "/ui/queue", t: "/ui/queue?scope=team", n: "/ui/incidents/new", p: "/ui/portal", c: "/ui/changes" };
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (pending === "g" && goTo[event.key]) {
      window.location.assign(goTo[event.key]);
      pending = null;
      return;
    }
    pending = event.key === "g" ? "g" : null;
    if (event.key === "/") {
      const search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); }
      return;
    }
    const element = document.querySelector(`[data-shortcut="${CSS.escape(event.key)}"]`);
    if (element) {
      event.preventDefault();
      element.focus();
      if (element.tagName === "A" || element.tagName === "BUTTON") element.click();
    }
  });

  // Live updates: the page names the stream events it cares about with data-live on <main>'s
  // content; on one, htmx reloads the marked region (hx-trigger="live from:body").
  function listen() {
    const region = document.querySelector("[data-live-url]");
    if (!region || !window.EventSource) return;
    const source = new EventSource(region.dataset.liveUrl);
    const numbers = (region.dataset.liveNumbers || "").split(" ").filter(Boolean);
    let timer = null;
    source.onmessage = (message) => {
      let relevant = numbers.length === 0;
      if (!relevant) {
        try {
          const data = JSON.parse(message.data);
          relevant = numbers.includes(String(data.ticket_number || data.number || data.incident_number || ""));
        } catch (error) { relevant = true; }
      }
      if (!relevant) return;
      // Several events of one change arrive together: refresh once.
      clearTimeout(timer);
      timer = setTimeout(() => document.body.dispatchEvent(new CustomEvent("live")), 300);
    };
    window.addEventListener("pagehide", () => source.close());
  }
  document.addEventListener("DOMContentLoaded", listen);
})();
