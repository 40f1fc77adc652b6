// redscope dashboard: live progress, the live honeypot feed, the search count and sortable
// tables (click a column's header: numbers as numbers, versions as versions, addresses as
// addresses; again to reverse).
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

  // ---------- sortable tables ----------

  /** An IPv4 or IPv6 address as [family, BigInt], or undefined. */
  const ipKey = (text) => {
    const t = text.trim().replace(/^\[|\](:\d+)?$/g, "");
    const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(:\d+)?$/.exec(t);
    if (v4) {
      let n = 0n;
      for (let i = 1; i <= 4; i++) n = (n << 8n) + BigInt(Number(v4[i]) & 255);
      return [4, n];
    }
    if (!/^[0-9a-f:.]+$/i.test(t) || !t.includes(":")) return undefined;
    let s = t;
    // An embedded IPv4 tail (::ffff:192.0.2.1) as two groups.
    const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
    if (tail) {
      const b = tail.slice(1).map(Number);
      s = `${s.slice(0, tail.index)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
    }
    const halves = s.split("::");
    if (halves.length > 2) return undefined;
    const left = halves[0] ? halves[0].split(":") : [];
    const right = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
    const fill = halves.length === 2 ? 8 - left.length - right.length : 0;
    const groups = [...left, ...Array(Math.max(fill, 0)).fill("0"), ...right];
    if (groups.length !== 8) return undefined;
    let n = 0n;
    for (const g of groups) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
      n = (n << 16n) + BigInt(Number.parseInt(g, 16));
    }
    return [6, n];
  };

  /** A version's numeric parts (7.0.15 → [7, 0, 15]), or undefined when it has none. */
  const versionKey = (text) => {
    const m = /\d+(?:\.\d+)*/.exec(text);
    return m ? m[0].split(".").map(Number) : undefined;
  };

  const numKey = (text) => {
    const n = Number(text.replace(/[,\s%]/g, ""));
    return text.trim() === "" || Number.isNaN(n) ? undefined : n;
  };

  const compareArrays = (a, b) => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = a[i] ?? -1;
      const y = b[i] ?? -1;
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  };

  const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

  /** Compare two cells' keys of one kind; undefined keys (empty, unreadable) go last. */
  const KINDS = {
    num: { key: numKey, cmp: (a, b) => a - b },
    version: { key: versionKey, cmp: compareArrays },
    ip: {
      key: ipKey,
      cmp: (a, b) => (a[0] !== b[0] ? a[0] - b[0] : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0),
    },
    text: { key: (t) => (t.trim() === "" ? undefined : t.trim()), cmp: (a, b) => collator.compare(a, b) },
  };

  const cellText = (td) => (td ? (td.getAttribute("data-key") ?? td.textContent ?? "") : "");

  /** A column without a declared kind: the kind all its non-empty cells read as. */
  const guessKind = (th, rows, i) => {
    if (th.classList.contains("num")) return "num";
    const texts = rows.map((r) => cellText(r.children[i]).trim()).filter((t) => t !== "");
    if (texts.length === 0) return "text";
    for (const kind of ["num", "ip", "version"]) {
      const ok = texts.every((t) =>
        kind === "version" ? /^v?\d+(\.\d+)+\S*$/.test(t) : KINDS[kind].key(t) !== undefined,
      );
      if (ok) return kind;
    }
    return "text";
  };

  const sortBy = (table, th) => {
    const tbody = table.tBodies[0];
    if (!tbody) return;
    const headers = [...th.parentElement.children];
    const i = headers.indexOf(th);
    const rows = [...tbody.rows];
    let kind = th.getAttribute("data-sort");
    if (!KINDS[kind]) kind = guessKind(th, rows, i);
    const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    const { key, cmp } = KINDS[kind];
    const keyed = rows.map((row, n) => ({ row, n, k: key(cellText(row.children[i])) }));
    keyed.sort((a, b) => {
      if (a.k === undefined || b.k === undefined) {
        if (a.k === b.k) return a.n - b.n;
        return a.k === undefined ? 1 : -1;
      }
      return dir * cmp(a.k, b.k) || a.n - b.n;
    });
    for (const h of headers) h.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    tbody.append(...keyed.map((x) => x.row));
  };

  for (const table of document.querySelectorAll("table")) {
    if (!table.tHead || !table.tBodies[0] || table.tBodies[0].rows.length === 0) continue;
    for (const th of table.tHead.rows[0]?.cells ?? []) {
      if (!th.hasAttribute("data-sort")) th.setAttribute("data-sort", "auto");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.title = "sort by this column";
      button.append(...th.childNodes);
      th.append(button);
      button.addEventListener("click", () => sortBy(table, th));
    }
  }
})();
