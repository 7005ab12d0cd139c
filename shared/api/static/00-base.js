// Orbit's base script. Every static/*.js is served as one bundle, in name
// order; each file is one IIFE that reads the page's data- attributes (the
// Content-Security-Policy allows no inline script). Pages work without it:
// it only adds live updates and confirmations.
(function () {
  "use strict";
  var Orbit = (window.Orbit = window.Orbit || {});

  // csrf is the session's CSRF token (the orbit_csrf cookie), for fetch calls.
  Orbit.csrf = function () {
    var m = document.cookie.match(/(?:^|; )orbit_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  };

  // Orbit.live(fn) runs fn(newDocument) after each live refresh.
  var liveHooks = [];
  Orbit.live = function (fn) { liveHooks.push(fn); };

  // Live regions: while the page has unfinished work (body data-refresh=N),
  // fetch the page again every N seconds and swap each element marked
  // data-live (matched by id); stop when the new page has nothing running.
  function refresh() {
    var secs = parseInt(document.body.dataset.refresh || "0", 10);
    if (!secs) return;
    setTimeout(function () {
      fetch(location.href, { headers: { "X-Orbit-Live": "1" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live][id]").forEach(function (el) {
            var next = doc.getElementById(el.id);
            if (next && next.innerHTML !== el.innerHTML) el.replaceWith(document.importNode(next, true));
          });
          liveHooks.forEach(function (fn) { fn(doc); });
          if (doc.body.dataset.refresh) document.body.dataset.refresh = doc.body.dataset.refresh;
          else delete document.body.dataset.refresh;
          refresh();
        })
        .catch(function () { refresh(); });
    }, secs * 1000);
  }

  // Forms with data-confirm ask first (cancel, delete, suspend).
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", refresh);
})();
