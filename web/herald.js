// Herald live updates. The page is complete without this script; it only keeps an open
// tab current: it polls /live.json (revalidated with its ETag) and, when the page has
// changed since this copy was made, fetches it again and swaps in the new <main> if it
// differs.
(() => {
  "use strict";

  const POLL_MS = 15000;
  // The server re-renders at least once a minute, so a promise that has passed by more
  // than that is shown as overdue on a fresh copy of the page.
  const OVERDUE_GRACE_MS = 90000;
  const body = document.body;
  if (!body || !window.fetch || !window.DOMParser) return;
  let busy = false;

  const promiseDue = () =>
    Array.from(document.querySelectorAll("main .next:not(.overdue) time[datetime]")).some(
      (t) => Date.parse(t.getAttribute("datetime")) + OVERDUE_GRACE_MS < Date.now(),
    );

  const imported = (nodes) => Array.from(nodes, (n) => document.importNode(n, true));

  const announce = (text) => {
    const note = document.getElementById("live-note");
    if (!note) return;
    note.textContent = "";
    window.setTimeout(() => {
      note.textContent = text;
    }, 100);
  };

  // Replaces the content of `main` with that of `fresh`, keeping the banner's own node:
  // it is an aria-live region, so changing its text in place is what gets announced.
  const replaceMain = (main, fresh) => {
    const banner = main.querySelector(":scope > .banner");
    const next = fresh.querySelector(":scope > .banner");
    if (!banner || !next) {
      main.replaceChildren(...imported(fresh.childNodes));
      return false;
    }
    const children = Array.from(fresh.childNodes);
    const at = children.indexOf(next);
    while (banner.previousSibling) banner.previousSibling.remove();
    while (banner.nextSibling) banner.nextSibling.remove();
    banner.before(...imported(children.slice(0, at)));
    banner.after(...imported(children.slice(at + 1)));
    const changed = banner.textContent.trim() !== next.textContent.trim();
    banner.className = next.className;
    if (banner.innerHTML !== next.innerHTML) banner.innerHTML = next.innerHTML;
    return changed;
  };

  const refresh = async () => {
    const res = await fetch(window.location.href, {
      cache: "no-cache",
      headers: { Accept: "text/html" },
    });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.querySelector("main");
    const main = document.querySelector("main");
    if (!fresh || !main) return;

    const { scrollX, scrollY } = window;
    const active = document.activeElement;
    const focusHref = active && main.contains(active) ? active.getAttribute("href") : null;

    body.dataset.updated = doc.body.dataset.updated || "";
    if (fresh.innerHTML === main.innerHTML) return;
    const bannerChanged = replaceMain(main, fresh);
    if (doc.title) document.title = doc.title;
    const stamp = doc.querySelector("footer .updated");
    const oldStamp = document.querySelector("footer .updated");
    if (stamp && oldStamp) oldStamp.replaceWith(document.importNode(stamp, true));

    window.scrollTo(scrollX, scrollY);
    if (focusHref) {
      const again = Array.from(main.querySelectorAll("[href]")).find(
        (el) => el.getAttribute("href") === focusHref,
      );
      if (again) again.focus({ preventScroll: true });
    }
    if (!bannerChanged) announce("This page has been updated.");
  };

  // The live version seen at the previous poll; before the first, this copy's own time.
  let seen = null;

  const poll = async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const res = await fetch((body.dataset.base || "") + "/live.json", {
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

  window.setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });
})();
