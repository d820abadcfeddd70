// Herald's page script. The page is complete without it (each strip of days has a table
// of its eventful days; the page is current when loaded). It adds two things:
//
// - Each 90-day strip becomes one keyboard stop: arrow keys, Home/End and PageUp/PageDown
//   move between days (a roving tabindex: only the current day is a button, so a screen
//   reader meets one per strip, not 90), and the day's detail opens on focus, hover or
//   tap, stays while hovered or focused, and closes on Escape.
// - Live updates: it polls /live.json and, when the page changed, fetches it and updates
//   in place only the parts that changed, keeping focus and what is on screen where they
//   were, and says so once through a live region that is never replaced. A button pauses
//   this, remembered across visits.
(() => {
  "use strict";

  const POLL_MS = 15000;
  // The server re-renders at least once a minute, so a promise that has passed by more
  // than that is shown as overdue on a fresh copy of the page.
  const OVERDUE_GRACE_MS = 90000;
  const PAUSED_KEY = "herald.live.paused";
  const DAY_MS = 86400000;
  const body = document.body;
  if (!body) return;

  // ---- Strips of days

  const dateLabel = new Intl.DateTimeFormat("en-US", {
    timeZone: "UTC",
    month: "short",
    day: "numeric",
    year: "numeric",
  });
  let tips = 0;

  const el = (tag, text) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    return e;
  };

  const strip = (u) => {
    const bars = u.querySelector(".bars");
    if (!bars || u.dataset.ready) return;
    u.dataset.ready = "1";
    const days = Array.from(bars.children);
    const rows = new Map();
    u.querySelectorAll("tr[data-day]").forEach((tr) => rows.set(Number(tr.dataset.day), tr));
    const today = Date.parse(`${u.dataset.today}T00:00:00Z`);
    const tip = el("div");
    tip.className = "tip";
    tip.id = `tip-${++tips}`;
    tip.hidden = true;
    tip.dataset.added = "1";
    bars.after(tip);
    bars.removeAttribute("aria-hidden");
    bars.setAttribute("role", "group");
    bars.setAttribute("aria-label", `${u.dataset.name}, day by day`);

    const facts = (i) => {
      const row = rows.get(i);
      const date = row
        ? row.querySelector("th").textContent.trim()
        : dateLabel.format(new Date(today - (days.length - 1 - i) * DAY_MS));
      if (days[i].classList.contains("n")) {
        return { date, name: `${date}: no data`, lines: ["No data yet"], links: [] };
      }
      if (!row) {
        return { date, name: `${date}: 100% uptime, no incidents`, lines: ["100% uptime", "No downtime"], links: [] };
      }
      const [uptime, what, which] = Array.from(row.querySelectorAll("td"));
      const links = Array.from(which.querySelectorAll("a"));
      const n = links.length;
      const incidents = n ? `${n} incident${n > 1 ? "s" : ""}` : "no incidents";
      return {
        date,
        name: `${date}: ${uptime.textContent} uptime, ${incidents}; ${what.textContent}`,
        lines: [`${uptime.textContent} uptime`, what.textContent],
        links,
      };
    };

    const shown = () => days.filter((d) => d.getClientRects().length > 0);
    let active = -1;
    let open = -1;

    const show = (i) => {
      const f = facts(i);
      const list = el("ul");
      f.links.forEach((a) => {
        const li = el("li");
        li.append(a.cloneNode(true));
        list.append(li);
      });
      const head = el("p");
      head.append(el("strong", f.date));
      tip.replaceChildren(head, ...f.lines.map((l) => el("p", l)), ...(f.links.length ? [list] : []));
      tip.hidden = false;
      open = i;
      days.forEach((d, k) => d.classList.toggle("on", k === i));
      const bar = days[i];
      const left = bar.offsetLeft + bar.offsetWidth / 2 - tip.offsetWidth / 2;
      tip.style.left = `${Math.max(0, Math.min(left, u.clientWidth - tip.offsetWidth))}px`;
      tip.style.top = `${bars.offsetTop + bars.offsetHeight + 8}px`;
      if (active >= 0) days[active].setAttribute("aria-expanded", String(open === active));
    };

    const hide = () => {
      tip.hidden = true;
      open = -1;
      days.forEach((d) => d.classList.remove("on"));
      if (active >= 0) days[active].setAttribute("aria-expanded", "false");
    };

    // Makes day `i` the strip's one stop (and a button with its facts for a name).
    const activate = (i) => {
      if (active >= 0 && active !== i) {
        const old = days[active];
        ["role", "tabindex", "aria-label", "aria-expanded", "aria-controls"].forEach((a) =>
          old.removeAttribute(a),
        );
      }
      active = i;
      const d = days[i];
      d.setAttribute("role", "button");
      d.setAttribute("tabindex", "0");
      d.setAttribute("aria-label", facts(i).name);
      d.setAttribute("aria-controls", tip.id);
      d.setAttribute("aria-expanded", "false");
    };

    const last = () => shown().pop() || days[days.length - 1];
    activate(days.indexOf(last()));

    bars.addEventListener("keydown", (e) => {
      const list = shown();
      let at = list.indexOf(days[active]);
      if (at < 0) at = list.length - 1;
      const to = {
        ArrowRight: at + 1,
        ArrowDown: at + 1,
        ArrowLeft: at - 1,
        ArrowUp: at - 1,
        Home: 0,
        End: list.length - 1,
        PageUp: at - 7,
        PageDown: at + 7,
      }[e.key];
      if (e.key === "Escape") {
        if (open >= 0) {
          hide();
          e.preventDefault();
          e.stopPropagation();
        }
        return;
      }
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        if (open === active) hide();
        else show(active);
        return;
      }
      if (to === undefined) return;
      e.preventDefault();
      const i = days.indexOf(list[Math.max(0, Math.min(list.length - 1, to))]);
      activate(i);
      days[i].focus();
    });
    bars.addEventListener("focusin", (e) => {
      const i = days.indexOf(e.target);
      if (i >= 0) show(i);
    });
    bars.addEventListener("click", (e) => {
      const i = days.indexOf(e.target);
      if (i < 0) return;
      activate(i);
      days[i].focus();
      show(i);
    });
    bars.addEventListener("mouseover", (e) => {
      const i = days.indexOf(e.target);
      if (i >= 0 && i !== open) show(i);
    });
    let leaving = 0;
    const away = () => {
      window.clearTimeout(leaving);
      leaving = window.setTimeout(() => {
        if (u.contains(document.activeElement) && active >= 0) show(active);
        else hide();
      }, 400);
    };
    const back = () => window.clearTimeout(leaving);
    bars.addEventListener("mouseleave", away);
    tip.addEventListener("mouseleave", away);
    bars.addEventListener("mouseenter", back);
    tip.addEventListener("mouseenter", back);
    u.addEventListener("focusout", (e) => {
      if (!u.contains(e.relatedTarget) && !u.matches(":hover")) hide();
    });
    tip.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        days[active].focus();
        hide();
      }
    });
    u.hideTip = hide;
    u.focusDay = (i) => {
      activate(Math.min(i, days.length - 1));
      days[active].focus();
    };
  };

  const strips = (root) => root.querySelectorAll(".uptime").forEach(strip);

  // Escape closes a detail opened by hovering too (WCAG 1.4.13).
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") document.querySelectorAll(".uptime").forEach((u) => u.hideTip && u.hideTip());
  });

  // ---- Live updates

  const main = document.querySelector("main");
  if (!main || !window.fetch || !window.DOMParser) {
    strips(document);
    return;
  }
  // The page as the server sent it, before this script added to it: what a new copy is
  // compared with, so only what the server changed is touched.
  let served = main.cloneNode(true);
  strips(document);

  const elements = (node) =>
    Array.from(node.children).filter((c) => !c.dataset || !c.dataset.added);
  const sameShape = (a, b) =>
    a.length === b.length &&
    a.every((x, k) => x.tagName === b[k].tagName && x.id === b[k].id);
  const textOf = (node) =>
    Array.from(node.childNodes)
      .filter((n) => n.nodeType === Node.TEXT_NODE)
      .map((n) => n.data)
      .join("");
  // Parts replaced whole rather than followed into (a strip's script keeps its own state).
  const ATOMIC = ".uptime, p, h1, h2, h3, h4, li.update, table, time";

  // Brings `live` (shown) from `before` (as served) to `after` (as now served), changing
  // only what differs. Returns whether anything did.
  const sync = (live, before, after) => {
    if (before.isEqualNode(after)) return false;
    const was = elements(before);
    const now = elements(after);
    const here = elements(live);
    const deep =
      !live.matches(ATOMIC) &&
      sameShape(was, now) &&
      here.length === was.length &&
      textOf(before) === textOf(after);
    if (!deep) {
      const fresh = document.importNode(after, true);
      live.replaceWith(fresh);
      strips(fresh.matches(".uptime") ? fresh.parentNode : fresh);
      return true;
    }
    Array.from(after.attributes).forEach((a) => {
      if (before.getAttribute(a.name) !== a.value) live.setAttribute(a.name, a.value);
    });
    Array.from(before.attributes).forEach((a) => {
      if (!after.hasAttribute(a.name)) live.removeAttribute(a.name);
    });
    now.forEach((n, k) => sync(here[k], was[k], n));
    return true;
  };

  const note = document.getElementById("live-note");
  const announce = (text) => {
    if (!note) return;
    note.textContent = "";
    window.setTimeout(() => {
      note.textContent = text;
    }, 100);
  };

  // What the reader is on: the focused element, or the first thing at the top of the
  // window; after an update it is put back at the same height on screen.
  const anchor = () => {
    const focused = document.activeElement;
    if (focused && focused !== main && main.contains(focused)) return focused;
    return Array.from(main.querySelectorAll("section, article, li, p, h2, h3, table")).find(
      (e) => e.getBoundingClientRect().bottom > 0,
    );
  };

  // How to find the focused element again if the part holding it was replaced.
  const focusKey = () => {
    const a = document.activeElement;
    if (!a || !main.contains(a) || a === main) return null;
    const u = a.closest(".uptime");
    const c = a.closest("[id]");
    if (u && a.classList.contains("b")) {
      return { strip: u.closest("[id]") && u.closest("[id]").id, day: Array.from(a.parentNode.children).indexOf(a) };
    }
    return { href: a.getAttribute("href"), id: c && c.id };
  };

  const refocus = (key) => {
    if (!key || main.contains(document.activeElement)) return;
    if (key.strip !== undefined) {
      const holder = key.strip && document.getElementById(key.strip);
      const u = holder && holder.querySelector(".uptime");
      if (u && u.focusDay) u.focusDay(key.day);
      return;
    }
    const scope = (key.id && document.getElementById(key.id)) || main;
    const again = key.href && Array.from(scope.querySelectorAll("[href]")).find((e) => e.getAttribute("href") === key.href);
    if (again) again.focus({ preventScroll: true });
  };

  const promiseDue = () =>
    Array.from(main.querySelectorAll(".next:not(.overdue) time[datetime]")).some(
      (t) => Date.parse(t.getAttribute("datetime")) + OVERDUE_GRACE_MS < Date.now(),
    );

  const refresh = async () => {
    const res = await fetch(window.location.href, {
      cache: "no-cache",
      headers: { Accept: "text/html" },
    });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.querySelector("main");
    if (!fresh) return;
    body.dataset.updated = doc.body.dataset.updated || "";
    if (fresh.isEqualNode(served)) return;

    const bannerBefore = (main.querySelector(".banner") || { textContent: "" }).textContent.trim();
    const mark = anchor();
    const top = mark ? mark.getBoundingClientRect().top : 0;
    const key = focusKey();
    sync(main, served, fresh);
    served = fresh;
    if (mark && mark.isConnected) window.scrollBy(0, mark.getBoundingClientRect().top - top);
    refocus(key);

    if (doc.title) document.title = doc.title;
    const stamp = doc.querySelector("footer .updated");
    const oldStamp = document.querySelector("footer .updated");
    if (stamp && oldStamp) oldStamp.replaceWith(document.importNode(stamp, true));
    const bannerAfter = (main.querySelector(".banner") || { textContent: "" }).textContent.trim();
    announce(
      bannerAfter && bannerAfter !== bannerBefore
        ? `Status updated: ${bannerAfter}`
        : "This page has been updated.",
    );
  };

  // The live version seen at the previous poll; before the first, this copy's own time.
  let seen = null;
  let busy = false;
  let paused = false;
  try {
    paused = window.localStorage.getItem(PAUSED_KEY) === "1";
  } catch (_) {
    // Storage refused (private mode): not remembered.
  }

  const poll = async () => {
    if (busy || paused || document.hidden) return;
    busy = true;
    try {
      const res = await fetch(`${body.dataset.base || ""}/live.json`, {
        cache: "no-cache",
        headers: { Accept: "application/json" },
      });
      if (res.ok) {
        const live = await res.json();
        const stale =
          seen === null
            ? Date.parse(live.updated) > Date.parse(body.dataset.updated || "")
            : live.version !== seen;
        seen = live.version;
        if (stale || promiseDue()) await refresh();
      }
    } catch (_) {
      // Offline or the server is restarting: try again on the next tick.
    } finally {
      busy = false;
    }
  };

  const control = document.getElementById("live-control");
  const toggle = control && control.querySelector("button");
  const state = control && control.querySelector(".live-state");
  const showPaused = () => {
    if (!toggle) return;
    toggle.setAttribute("aria-pressed", String(paused));
    if (state) {
      state.textContent = paused
        ? "Live updates are paused: reload the page to see changes."
        : "This page updates itself when the status changes.";
    }
  };
  if (control && toggle) {
    control.hidden = false;
    showPaused();
    toggle.addEventListener("click", () => {
      paused = !paused;
      try {
        if (paused) window.localStorage.setItem(PAUSED_KEY, "1");
        else window.localStorage.removeItem(PAUSED_KEY);
      } catch (_) {
        // Not remembered.
      }
      showPaused();
      if (!paused) poll();
    });
  }

  window.setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });
})();
