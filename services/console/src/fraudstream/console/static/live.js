// Live counters in the header: polls the console's JSON endpoint (same origin, session cookie).
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box) { return; }
  var url = box.dataset.url;
  var seconds = Math.max(1, parseFloat(box.dataset.seconds) || 5);
  function show(counts) {
    box.querySelectorAll("[data-live]").forEach(function (el) {
      var value = counts[el.dataset.live];
      if (value !== undefined) { el.textContent = value; }
    });
    box.classList.remove("stale");
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("signed out"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(show)
      .catch(function () { box.classList.add("stale"); })
      .finally(function () { window.setTimeout(poll, seconds * 1000); });
  }
  poll();
})();
