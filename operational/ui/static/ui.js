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

  // Live updates: a region with data-live-url listens to the event stream (the UI relays the
  // API's); on an event about its tickets (data-live-numbers, or any), htmx reloads the region
  // (hx-trigger="live from:body").
  function listen() {
    const region = document.querySelector("[data-live-url]");
    if (!region || !window.EventSource) return;
    const source = new EventSource(region.dataset.liveUrl);
    // Marks the page while its stream is open (tests wait for it; CSS may show it).
    source.onopen = () => { document.body.dataset.live = "connected"; };
    source.onerror = () => { document.body.dataset.live = "reconnecting"; };
    const numbers = (region.dataset.liveNumbers || "").split(" ").filter(Boolean);
    let timer = null;
    const onEvent = (message) => {
      let relevant = numbers.length === 0;
      if (!relevant) {
        try {
          relevant = numbers.includes(String(JSON.parse(message.data).number || ""));
        } catch (error) { relevant = true; }
      }
      if (!relevant) return;
      // A page with forms says so instead of reloading under the person's typing.
      if (region.dataset.liveNotice) {
        document.getElementById(region.dataset.liveNotice).hidden = false;
        return;
      }
      // Several events of one change arrive together: refresh once.
      clearTimeout(timer);
      timer = setTimeout(() => document.body.dispatchEvent(new CustomEvent("live")), 300);
    };
    // The stream names each event by its record type (event: incident, change, ...).
    for (const kind of ["incident", "change", "request", "reset"]) source.addEventListener(kind, onEvent);
    window.addEventListener("pagehide", () => source.close());
  }
  document.addEventListener("DOMContentLoaded", listen);
})();
