// inetkit console: a little plain JavaScript over pages that work without
// it. Tabs switch in place, new mail appears without a reload (the event
// stream of /api/v1/events), j/k move through lists, destructive buttons
// with data-confirm ask first.
(function () {
  "use strict";

  // Tabs (role=tablist): links to ?tab=X that switch panels in place.
  function initTabs() {
    var list = document.querySelector("[role=tablist]");
    if (!list) return;
    var tabs = Array.prototype.slice.call(list.querySelectorAll("[role=tab]"));
    function select(tab, focus) {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        t.tabIndex = on ? 0 : -1;
        var panel = document.getElementById(t.getAttribute("aria-controls"));
        if (panel) panel.hidden = !on;
      });
      if (focus) tab.focus();
      var u = new URL(location.href);
      u.searchParams.set("tab", tab.id.replace(/^tab-/, ""));
      history.replaceState(null, "", u);
    }
    tabs.forEach(function (t, i) {
      t.addEventListener("click", function (e) {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        select(t, false);
      });
      t.addEventListener("keydown", function (e) {
        var j = -1;
        if (e.key === "ArrowRight") j = (i + 1) % tabs.length;
        else if (e.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
        else if (e.key === "Home") j = 0;
        else if (e.key === "End") j = tabs.length - 1;
        if (j < 0) return;
        e.preventDefault();
        select(tabs[j], true);
      });
    });
  }

  // "Load remote content": reload only the frame, with remote=1.
  function initRemote() {
    var b = document.getElementById("load-remote");
    var f = document.getElementById("html-frame");
    if (!b || !f) return;
    b.addEventListener("click", function (e) {
      e.preventDefault();
      f.src = b.getAttribute("data-src");
      var n = document.getElementById("remote-notice");
      if (n) n.remove();
    });
  }

  // Forms whose button has data-confirm ask before they are sent.
  function initConfirm() {
    document.addEventListener("submit", function (e) {
      var b = e.submitter || e.target.querySelector("[data-confirm]");
      var q = b && b.getAttribute("data-confirm");
      if (q && !window.confirm(q)) e.preventDefault();
    });
  }

  // j/k (and ArrowDown/ArrowUp on a row) move the focus through a list.
  function initKeys() {
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      var t = e.target;
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      var rows = Array.prototype.slice.call(document.querySelectorAll(".msgs > li > a, .threads > li > a, .groups > li > a"));
      if (!rows.length) return;
      var i = rows.indexOf(document.activeElement);
      var down = e.key === "j" || (e.key === "ArrowDown" && i >= 0);
      var up = e.key === "k" || (e.key === "ArrowUp" && i >= 0);
      if (e.key === "/" ) {
        var q = document.getElementById("q");
        if (q) { e.preventDefault(); q.focus(); q.select(); }
        return;
      }
      if (!down && !up) return;
      e.preventDefault();
      var j = i < 0 ? 0 : Math.max(0, Math.min(rows.length - 1, i + (down ? 1 : -1)));
      rows[j].focus();
      rows[j].scrollIntoView({ block: "nearest" });
    });
  }

  // The unread count in the title and the nav.
  function setUnread(n) {
    var title = document.querySelector("title");
    var base = title.getAttribute("data-base") || document.title;
    document.title = (n > 0 ? "(" + n + ") " : "") + base;
    var badge = document.getElementById("nav-unread");
    if (badge) {
      badge.firstChild.nodeValue = String(n);
      badge.hidden = n <= 0;
    }
  }

  // Live updates: on a message or delete event, fetch the list's fragment
  // (the newest page only) or just the unread count.
  function initLive() {
    var src = document.body.getAttribute("data-live");
    if (!src || !window.EventSource) return;
    var timer = null, busy = false, again = false;
    function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      var list = document.getElementById("list");
      var url = list && list.getAttribute("data-refresh");
      var done = function () {
        busy = false;
        if (again) { again = false; schedule(); }
      };
      if (!url) {
        fetch("/mail?fragment=unread", { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
          .then(function (t) { setUnread(parseInt(t, 10) || 0); })
          .catch(function () {}).then(done);
        return;
      }
      fetch(url, { credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) return Promise.reject(r.status);
          var n = parseInt(r.headers.get("X-Unread"), 10) || 0;
          return r.text().then(function (html) { swap(html); setUnread(n); });
        })
        .catch(function () {}).then(done);
    }
    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(refresh, 150);
    }
    function swap(html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var active = document.activeElement;
      var focusHref = active && active.closest && active.closest("#list, #side") ? active.getAttribute("href") : null;
      var known = {};
      Array.prototype.forEach.call(document.querySelectorAll("#list .msg"), function (li) { known[li.getAttribute("data-id")] = true; });
      ["side", "list"].forEach(function (id) {
        var now = document.getElementById(id), next = doc.getElementById(id);
        if (!now || !next) return;
        now.innerHTML = next.innerHTML;
      });
      Array.prototype.forEach.call(document.querySelectorAll("#list .msg"), function (li) {
        if (!known[li.getAttribute("data-id")]) li.classList.add("fresh");
      });
      if (focusHref) {
        var el = document.querySelector('#list a[href="' + focusHref + '"], #side a[href="' + focusHref + '"]');
        if (el) el.focus();
      }
    }
    // One stream per page, closed when the page is hidden (navigated from,
    // or kept in the back/forward cache): a browser has only six HTTP/1.1
    // connections per host, and streams left open would take them all.
    var es = null;
    function onEvent(e) {
      var kind = e.type;
      try {
        var d = JSON.parse(e.data);
        if (d && d.kind) kind = d.kind;
      } catch (err) { /* not JSON: the event's name says it */ }
      if (kind === "message" || kind === "delete") schedule();
    }
    function open(catchUp) {
      if (es) return;
      es = new EventSource(src);
      es.addEventListener("message", onEvent);
      es.addEventListener("delete", onEvent);
      // Catch up after the stream was cut (the server restarted, a proxy
      // closed it, the page came back from the cache): what happened
      // meanwhile is not replayed.
      var first = !catchUp;
      es.addEventListener("open", function () {
        if (!first) schedule();
        first = false;
      });
    }
    function close() {
      if (es) es.close();
      es = null;
    }
    window.addEventListener("pagehide", close);
    window.addEventListener("pageshow", function (e) { if (e.persisted) open(true); });
    open(false);
  }

  // The Faults page: the examples fill the form, and the counters follow
  // the rules' (from /api/v1/faults, every 2 seconds while the page is
  // shown); rules changed elsewhere show a notice to reload.
  function initFaults() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-fill]"), function (b) {
      b.hidden = false;
      b.addEventListener("click", function () {
        var t = document.getElementById(b.getAttribute("data-fill"));
        if (!t) return;
        var v = b.getAttribute("data-value");
        t.value = t.value === "" || /\n$/.test(t.value) ? t.value + v : t.value + "\n" + v;
        t.focus();
      });
    });
    if (!document.getElementById("faults-refresh") || !window.fetch) return;
    var changed = document.getElementById("faults-changed");
    var shown = Array.prototype.map.call(document.querySelectorAll("[data-fault]"), function (tr) {
      return tr.getAttribute("data-fault");
    }).join(",");
    function poll() {
      if (document.visibilityState !== "visible" || (changed && !changed.hidden)) return;
      fetch("/api/v1/faults", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (l) {
          var ids = l.rules.map(function (x) { return String(x.id); }).join(",");
          if (ids !== shown) {
            if (changed) changed.hidden = false;
            return;
          }
          l.rules.forEach(function (x) {
            var tr = document.querySelector('[data-fault="' + x.id + '"]');
            if (!tr) return;
            tr.querySelector(".matched").textContent = String(x.matched);
            tr.querySelector(".fired").textContent = String(x.fired);
          });
        })
        .catch(function () {});
    }
    setInterval(poll, 2000);
  }

  function init() {
    initFaults();
    initTabs();
    initRemote();
    initConfirm();
    initKeys();
    initLive();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
