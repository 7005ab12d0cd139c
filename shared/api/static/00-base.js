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

  // focusKey is a selector that finds el's counterpart in a new copy of
  // its live region: its id, its data-key, or (a link) its href; null when
  // el has none of them.
  function focusKey(el) {
    if (el.id) return "#" + CSS.escape(el.id);
    if (el.dataset && el.dataset.key) return '[data-key="' + CSS.escape(el.dataset.key) + '"]';
    if (el.tagName === "A" && el.getAttribute("href")) return 'a[href="' + CSS.escape(el.getAttribute("href")) + '"]';
    return null;
  }

  // swap replaces a live region with its new copy, keeping the keyboard
  // focus: if the focused element was inside, its counterpart in the copy
  // (focusKey) takes the focus, so a keyboard or screen-reader user is not
  // thrown back to the top of the page by a refresh.
  function swap(el, next) {
    var active = document.activeElement;
    var inside = active && active !== document.body && el.contains(active);
    var key = inside && active !== el ? focusKey(active) : null;
    var copy = document.importNode(next, true);
    el.replaceWith(copy);
    if (!inside) return;
    var target = active === el ? copy : key && copy.querySelector(key);
    if (target) target.focus({ preventScroll: true });
  }

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
            if (next && next.innerHTML !== el.innerHTML) swap(el, next);
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
