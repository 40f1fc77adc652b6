// redscope dashboard: live progress, the live honeypot feed and the search count.
// Loaded from /static/app.js under a CSP that allows no inline script. Text from the server
// goes into the page only through textContent and attribute setters, never as HTML.
"use strict";
(() => {
  const fmt = new Intl.NumberFormat("en-US");

  const live = document.querySelectorAll("[data-live-scan]");
  if (live.length > 0) {
    const es = new EventSource("/events/scans");
    es.onmessage = (ev) => {
      const data = JSON.parse(ev.data);
      for (const el of live) {
        const s = data.scans.find((x) => x.id === el.getAttribute("data-live-scan"));
        if (!s) continue;
        if (s.finished && el.hasAttribute("data-reload")) {
          es.close();
          window.location.reload();
          return;
        }
        const bar = el.querySelector("progress");
        const label = el.querySelector(".live-text");
        const total = Math.max(s.total, s.done, 1);
        if (bar) {
          bar.max = total;
          bar.value = s.done;
        }
        if (label) {
          label.textContent = s.finished
            ? `finished: ${fmt.format(s.done)}`
            : `${fmt.format(s.done)} / ${fmt.format(total)}${s.stalled ? " (no news for a while: stopped?)" : ""}`;
        }
      }
    };
  }

  const feed = document.querySelector("[data-live-honeypot] tbody");
  if (feed) {
    const es = new EventSource("/events/honeypot");
    es.onmessage = (ev) => {
      const sessions = JSON.parse(ev.data).sessions;
      // Oldest first, so that each new one lands on top.
      for (const s of sessions.reverse()) {
        let row = feed.querySelector(`tr[data-id="${CSS.escape(s.id)}"]`);
        if (!row) {
          row = document.createElement("tr");
          row.setAttribute("data-id", s.id);
          feed.insertBefore(row, feed.firstChild);
        }
        row.replaceChildren();
        const cell = (t) => {
          const td = document.createElement("td");
          td.textContent = t;
          row.appendChild(td);
          return td;
        };
        const first = cell("");
        const a = document.createElement("a");
        a.href = `/honeypot/sessions/${encodeURIComponent(s.id)}`;
        a.textContent = s.startedAt.slice(0, 19).replace("T", " ");
        first.appendChild(a);
        cell(s.srcIp);
        cell(s.persona);
        cell(fmt.format(s.commands)).className = "num";
        cell(s.classes || "-");
        cell(s.endedAt ? "ended" : "open");
      }
      while (feed.children.length > 200) feed.removeChild(feed.lastChild);
    };
  }

  const count = document.querySelector("[data-count-url]");
  if (count) {
    fetch(count.getAttribute("data-count-url"), { credentials: "same-origin" })
      .then((r) => r.json())
      .then((j) => {
        count.textContent = j.capped
          ? `more than ${fmt.format(j.n)} results`
          : `${fmt.format(j.n)} result${j.n === 1 ? "" : "s"}`;
      })
      .catch(() => {
        count.textContent = "";
      });
  }
})();
