// The job page (templates/job.html): follows the output of running steps
// (server-sent events where #job-steps says data-stream="true", else, and
// whenever the stream fails, polling the output endpoint from the page's
// sequence number), renders its ANSI colours the way shared/ansi does (the
// same classes), searches the output, toggles timestamps and keeps the
// output scrolled to its end while the reader is there. A line's time is
// when its chunk was stored (the page, the event stream) or, for polled
// output (the raw endpoint carries no times), when the browser got it.
(function () {
  "use strict";
  var steps = document.getElementById("job-steps");
  if (!steps) return;
  var stream = steps.dataset.stream === "true" && "EventSource" in window;
  var followed = {}; // run id -> true while its output is followed
  var query = "";

  document.querySelectorAll(".job-js").forEach(function (el) { el.hidden = false; });

  // --- ANSI, as shared/ansi renders it ---
  var DEFAULT = { fg: -1, bg: -1, bold: false };

  function classes(st) {
    var c = [];
    if (st.fg >= 0) c.push("a-f" + st.fg);
    if (st.bg >= 0) c.push("a-b" + st.bg);
    if (st.bold) c.push("a-bold");
    return c.join(" ");
  }

  var cube = [0, 95, 135, 175, 215, 255];
  function rgb(n) {
    if (n < 232) { n -= 16; return [cube[Math.floor(n / 36)], cube[Math.floor(n / 6) % 6], cube[n % 6]]; }
    var v = 8 + 10 * (n - 232); return [v, v, v];
  }
  function nearest(r, g, b) {
    var best = 16, bestD = -1;
    for (var n = 16; n < 256; n++) {
      var p = rgb(n), d = (p[0] - r) * (p[0] - r) + (p[1] - g) * (p[1] - g) + (p[2] - b) * (p[2] - b);
      if (bestD < 0 || d < bestD) { best = n; bestD = d; }
    }
    return best;
  }

  function apply(st, params) {
    st = { fg: st.fg, bg: st.bg, bold: st.bold };
    if (/[<=>?]/.test(params)) return st;
    var ps = params.replace(/:/g, ";").split(";");
    function num(i) {
      if (i >= ps.length) return -1;
      if (ps[i] === "") return 0;
      if (!/^\d+$/.test(ps[i])) return -1;
      var n = parseInt(ps[i], 10);
      return n > 255 ? -1 : n;
    }
    for (var i = 0; i < ps.length; i++) {
      var p = num(i);
      if (p === 0) st = { fg: -1, bg: -1, bold: false };
      else if (p === 1) st.bold = true;
      else if (p === 22) st.bold = false;
      else if (p >= 30 && p <= 37) st.fg = p - 30;
      else if (p === 39) st.fg = -1;
      else if (p >= 40 && p <= 47) st.bg = p - 40;
      else if (p === 49) st.bg = -1;
      else if (p >= 90 && p <= 97) st.fg = p - 82;
      else if (p >= 100 && p <= 107) st.bg = p - 92;
      else if (p === 38 || p === 48) {
        var c = -1, mode = num(i + 1);
        if (mode === 5) { c = num(i + 2); i += 2; }
        else if (mode === 2) {
          var r = num(i + 2), g = num(i + 3), b = num(i + 4);
          if (r >= 0 && g >= 0 && b >= 0) c = nearest(r, g, b);
          i += 4;
        } else i += 1;
        if (c >= 0) { if (p === 38) st.fg = c; else st.bg = c; }
      }
    }
    return st;
  }

  // escape measures the escape sequence at s[i] (ESC): {n, final, params},
  // or null when s ends before it does.
  function escape(s, i) {
    if (i + 1 >= s.length) return null;
    var j, c;
    if (s[i + 1] === "[") {
      j = i + 2;
      while (j < s.length && (c = s.charCodeAt(j)) >= 0x30 && c <= 0x3f) j++;
      var params = s.slice(i + 2, j);
      while (j < s.length && (c = s.charCodeAt(j)) >= 0x20 && c <= 0x2f) j++;
      if (j >= s.length) return null;
      c = s.charCodeAt(j);
      if (c >= 0x40 && c <= 0x7e) return { n: j + 1 - i, final: s[j], params: params };
      return { n: j - i, final: "" };
    }
    if (s[i + 1] === "]") {
      for (j = i + 2; j < s.length; j++) {
        if (s[j] === "\x07") return { n: j + 1 - i, final: "" };
        if (s[j] === "\x1b" && j + 1 < s.length && s[j + 1] === "\\") return { n: j + 2 - i, final: "" };
      }
      return null;
    }
    j = i + 1;
    while (j < s.length && (c = s.charCodeAt(j)) >= 0x20 && c <= 0x2f) j++;
    if (j >= s.length) return null;
    return { n: j + 1 - i, final: "" };
  }

  // --- one step's output ---
  function runState(run) {
    if (!run._out) {
      var a = (run.dataset.ansi || "-1,-1,0").split(",");
      var pre = run.querySelector(".job-out");
      run._out = {
        pre: pre, pending: "",
        st: { fg: parseInt(a[0], 10), bg: parseInt(a[1], 10), bold: a[2] === "1" },
        line: run.hasAttribute("data-open-line") ? pre.lastElementChild : null,
        decoder: window.TextDecoder ? new TextDecoder() : null
      };
    }
    return run._out;
  }

  function atBottom(el) { return el.scrollTop + el.clientHeight >= el.scrollHeight - 8; }
  function pageAtBottom() { return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 8; }
  function following() { var f = document.getElementById("job-follow"); return !f || f.checked; }

  function markHit(ln) {
    var hit = query !== "" && ln.textContent.toLowerCase().indexOf(query) >= 0;
    ln.classList.toggle("job-hit", hit);
    return hit;
  }

  // append renders text (a piece of output stored at `at`) onto the run.
  function append(run, text, at) {
    var o = runState(run), pre = o.pre;
    var keep = following() && atBottom(pre), keepPage = following() && pageAtBottom();
    var s = o.pending + text, buf = "";
    o.pending = "";
    var touched = [];
    function flush() {
      if (!buf) return;
      if (!o.line) {
        o.line = document.createElement("span");
        o.line.className = "job-ln";
        if (at) o.line.dataset.t = at;
        pre.appendChild(o.line);
      }
      var cls = classes(o.st), node;
      if (cls) { node = document.createElement("span"); node.className = cls; node.textContent = buf; }
      else node = document.createTextNode(buf);
      o.line.appendChild(node);
      if (touched.indexOf(o.line) < 0) touched.push(o.line);
      buf = "";
    }
    for (var i = 0; i < s.length;) {
      var ch = s[i], code = s.charCodeAt(i);
      if (ch === "\x1b") {
        var e = escape(s, i);
        if (!e) { o.pending = s.slice(i); break; }
        if (e.final === "m") { flush(); o.st = apply(o.st, e.params); }
        i += e.n;
        continue;
      }
      if (ch === "\n") {
        if (!buf && !o.line) { buf = ""; o.line = document.createElement("span"); o.line.className = "job-ln"; if (at) o.line.dataset.t = at; pre.appendChild(o.line); }
        flush(); o.line = null;
      } else if (ch === "\r") {
        buf = ""; if (o.line) o.line.textContent = "";
      } else if (ch === "\t" || (code >= 0x20 && code !== 0x7f)) buf += ch;
      i++;
    }
    flush();
    if (query) {
      var any = false;
      touched.forEach(function (ln) { any = markHit(ln) || any; });
      if (any) { run.open = true; countHits(); }
    }
    if (keep) pre.scrollTop = pre.scrollHeight;
    if (keepPage) window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function utcNow() { return new Date().toISOString().slice(11, 19); }
  function q(run) { return "?step=" + run.dataset.step + "&task=" + run.dataset.task + "&from=" + (run.dataset.next || "0"); }

  // --- following a running step ---
  function follow(run) {
    if (followed[run.id]) return;
    followed[run.id] = true;
    if (stream) streamRun(run); else poll(run);
  }

  function streamRun(run) {
    var got = false, es = new EventSource(steps.dataset.events + q(run));
    es.addEventListener("output", function (e) {
      got = true;
      var d = JSON.parse(e.data);
      append(run, d.text, d.at || "");
      run.dataset.via = "events"; // how live output came (the browser tests read it)
      if (e.lastEventId) run.dataset.next = e.lastEventId;
    });
    es.addEventListener("status", function (e) {
      got = true;
      var d = JSON.parse(e.data);
      run.dataset.status = d.status;
      var badge = run.querySelector("summary .badge");
      if (badge) { badge.textContent = d.status; badge.className = "badge " + badgeClass(d.status); }
      if (d.status === "failed" || d.status === "timedout") run.open = true;
    });
    es.addEventListener("end", function () {
      es.close();
      run.removeAttribute("data-running");
      delete followed[run.id];
    });
    es.onerror = function () {
      // Reconnects (with Last-Event-ID) after a stream that worked;
      // falls back to polling when the stream cannot be had.
      if (!got || es.readyState === 2) { es.close(); poll(run); }
    };
  }

  function badgeClass(s) {
    if (s === "success") return "ok";
    if (s === "running") return "run";
    if (s === "failed" || s === "timedout") return "bad";
    return "idle";
  }

  function poll(run) {
    var o = runState(run);
    fetch(steps.dataset.output + q(run), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) return Promise.reject(r.status);
        var next = r.headers.get("X-Orbit-Next-Seq");
        return r.arrayBuffer().then(function (b) {
          var moved = next && next !== run.dataset.next;
          if (b.byteLength) {
            append(run, o.decoder ? o.decoder.decode(b, { stream: true }) : String.fromCharCode.apply(null, new Uint8Array(b)), utcNow());
            run.dataset.via = "poll";
          }
          if (next) run.dataset.next = next;
          return moved;
        });
      })
      .then(function (moved) {
        if (!moved && !run.hasAttribute("data-running")) { delete followed[run.id]; return; }
        setTimeout(function () { poll(run); }, moved ? 300 : 1000);
      })
      .catch(function () { setTimeout(function () { poll(run); }, 2000); });
  }

  // --- the live refresh: new steps, statuses ---
  Orbit.live(function (doc) {
    doc.querySelectorAll(".job-run").forEach(function (next) {
      var cur = document.getElementById(next.id);
      if (!cur) {
        var col = document.querySelector("#job-task-" + next.dataset.task + " .job-runs");
        if (!col) return;
        var none = col.querySelector(".job-none");
        if (none) none.remove();
        cur = document.importNode(next, true);
        col.appendChild(cur);
        if (query) { cur.querySelectorAll(".job-ln").forEach(markHit); countHits(); }
        if (cur.hasAttribute("data-running")) follow(cur);
        return;
      }
      var summary = cur.querySelector("summary"), fresh = next.querySelector("summary");
      if (summary && fresh && summary.innerHTML !== fresh.innerHTML) summary.replaceWith(document.importNode(fresh, true));
      cur.dataset.status = next.dataset.status;
      if (!next.hasAttribute("data-running")) cur.removeAttribute("data-running");
      if (next.hasAttribute("open") && next.dataset.status !== "running") cur.open = true;
    });
    doc.querySelectorAll(".job-task > h3").forEach(function (h) {
      var cur = document.querySelector("#" + h.parentNode.id + " > h3");
      if (cur && cur.innerHTML !== h.innerHTML) cur.replaceWith(document.importNode(h, true));
    });
  });

  // --- search, timestamps ---
  function countHits() {
    var out = document.getElementById("job-search-count");
    if (!out) return;
    var n = query ? steps.querySelectorAll(".job-hit").length : 0;
    out.textContent = query ? n + (n === 1 ? " matching line" : " matching lines") : "";
  }

  var search = document.getElementById("job-search");
  if (search) search.addEventListener("input", function () {
    query = search.value.toLowerCase();
    steps.classList.toggle("job-searching", query !== "");
    steps.querySelectorAll(".job-run").forEach(function (run) {
      var any = false;
      run.querySelectorAll(".job-ln").forEach(function (ln) { any = markHit(ln) || any; });
      if (any) run.open = true;
    });
    countHits();
  });

  var times = document.getElementById("job-times");
  if (times) times.addEventListener("change", function () { steps.classList.toggle("job-notimes", !times.checked); });

  steps.querySelectorAll(".job-run[data-running]").forEach(follow);
  steps.querySelectorAll(".job-out").forEach(function (pre) { pre.scrollTop = pre.scrollHeight; });
})();
