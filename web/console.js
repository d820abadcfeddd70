// The console's script. Every page works without it (each action is a plain form, each
// countdown is right when the page is loaded). It adds:
//
// - Live countdowns: every `[data-due]` counts down to its promised time against the
//   server's clock (`<body data-now>`, so a skewed laptop clock does not lie), turning
//   amber five minutes before and red when overdue.
// - In-place updates: a page region marked `data-refresh="SECONDS"` is fetched again on
//   that period and swapped in when it changed, unless the person is typing in it.
// - Keyboard shortcuts: `g` then a letter follows the navigation link with that
//   `data-key` (g d dashboard, g n declare, ...); `/` focuses the page's search box;
//   Ctrl/Cmd+Enter sends the form being edited; `?` lists the shortcuts.
// - A confirmation before a button marked `data-confirm` sends its form.
(() => {
  "use strict";

  const SOON_MS = 5 * 60 * 1000;
  const body = document.body;
  if (!body) return;

  // The server's clock minus this one's, from when the page was rendered.
  let skew = 0;
  const serverNow = Date.parse(body.dataset.now || "");
  if (!Number.isNaN(serverNow)) skew = serverNow - Date.now();
  const now = () => Date.now() + skew;

  // ---- Countdowns

  const span = (minutes) => {
    if (minutes < 60) return `${minutes} min`;
    const h = Math.floor(minutes / 60);
    const m = minutes % 60;
    return m === 0 ? `${h} h` : `${h} h ${m} min`;
  };

  // The same words and classes as the server (`domain::user::countdown`).
  const countdown = (due) => {
    const left = due - now();
    if (left <= 0) {
      const late = Math.floor(-left / 60000);
      return { text: late < 1 ? "overdue" : `overdue by ${span(late)}`, cls: "overdue" };
    }
    const minutes = Math.ceil(left / 60000);
    return { text: `in ${span(minutes)}`, cls: left < SOON_MS ? "soon" : "ok" };
  };

  const tick = () => {
    document.querySelectorAll("[data-due]").forEach((box) => {
      const due = Date.parse(box.dataset.due);
      if (Number.isNaN(due)) return;
      const c = countdown(due);
      const out = box.querySelector("[data-countdown]");
      if (out && out.textContent !== c.text) out.textContent = c.text;
      ["ok", "soon", "overdue"].forEach((k) => box.classList.toggle(`countdown-${k}`, k === c.cls));
    });
  };
  tick();
  setInterval(tick, 15000);

  // ---- In-place updates

  const typing = (region) => {
    const a = document.activeElement;
    return a && region.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName);
  };

  document.querySelectorAll("[data-refresh][id]").forEach((region) => {
    const seconds = Math.max(10, Number(region.dataset.refresh) || 30);
    const refresh = async () => {
      if (document.hidden || typing(region)) return;
      try {
        const res = await fetch(location.href, {
          credentials: "same-origin",
          headers: { Accept: "text/html" },
        });
        // A session that ended sends to sign-in: leave the page as it is.
        if (!res.ok || res.redirected) return;
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const fresh = doc.getElementById(region.id);
        if (!fresh || fresh.innerHTML === region.innerHTML) return;
        region.innerHTML = fresh.innerHTML;
        const stamp = doc.body && doc.body.dataset.now;
        const t = Date.parse(stamp || "");
        if (!Number.isNaN(t)) skew = t - Date.now();
        tick();
      } catch (_) {
        // Offline for a moment: the next period tries again.
      }
    };
    setInterval(refresh, seconds * 1000);
  });

  // ---- Confirmations

  document.addEventListener("click", (e) => {
    const b = e.target.closest && e.target.closest("[data-confirm]");
    if (b && !window.confirm(b.dataset.confirm)) e.preventDefault();
  });

  // ---- Keyboard shortcuts

  const editing = (t) =>
    t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  let leader = 0;
  let help = null;

  const showHelp = () => {
    if (help) {
      help.remove();
      help = null;
      return;
    }
    help = document.createElement("div");
    help.className = "console-keys";
    help.setAttribute("role", "dialog");
    help.setAttribute("aria-label", "Keyboard shortcuts");
    const h = document.createElement("h2");
    h.textContent = "Keyboard shortcuts";
    const dl = document.createElement("dl");
    const row = (k, what) => {
      const dt = document.createElement("dt");
      const kbd = document.createElement("kbd");
      kbd.textContent = k;
      dt.append(kbd);
      const dd = document.createElement("dd");
      dd.textContent = what;
      dl.append(dt, dd);
    };
    document.querySelectorAll("a[data-key]").forEach((a) => row(`g ${a.dataset.key}`, a.textContent));
    row("/", "Search this list");
    row("Ctrl+Enter", "Send the form you are editing");
    row("?", "Show or hide this list");
    const close = document.createElement("button");
    close.type = "button";
    close.className = "button button-quiet";
    close.textContent = "Close";
    close.addEventListener("click", showHelp);
    help.append(h, dl, close);
    body.append(help);
    close.focus();
  };

  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && editing(e.target) && e.target.form) {
      e.preventDefault();
      const send = e.target.form.querySelector('button[type="submit"][value="publish"], button[type="submit"]:not([value="preview"])');
      if (send) send.click();
      else e.target.form.requestSubmit();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || editing(e.target)) return;
    if (e.key === "Escape" && help) {
      showHelp();
      return;
    }
    if (e.key === "?") {
      e.preventDefault();
      showHelp();
      return;
    }
    if (e.key === "/") {
      const search = document.querySelector('input[type="search"]');
      if (search) {
        e.preventDefault();
        search.focus();
      }
      return;
    }
    if (e.key === "g") {
      leader = Date.now();
      return;
    }
    if (leader && Date.now() - leader < 1500) {
      leader = 0;
      const a = document.querySelector(`a[data-key="${CSS.escape(e.key)}"]`);
      if (a) {
        e.preventDefault();
        a.click();
      }
    }
  });
})();
