// The outbox console's one script: it refreshes the overview's live part
// (#live) every data-refresh seconds while the tab is visible, and marks
// the page stale when the console cannot be reached. Every page works
// without it.
(function () {
  "use strict";
  const live = document.getElementById("live");
  const seconds = Number(document.body.dataset.refresh || 0);
  if (!live || !seconds) {
    return;
  }
  let busy = false;
  async function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    try {
      const res = await fetch(live.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!res.ok) {
        throw new Error(res.status);
      }
      live.innerHTML = await res.text();
      live.dataset.refreshes = String(Number(live.dataset.refreshes || 0) + 1);
      document.body.classList.remove("stale");
    } catch (e) {
      document.body.classList.add("stale");
    } finally {
      busy = false;
    }
  }
  setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", refresh);
})();
