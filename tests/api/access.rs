//! The public page for everyone: the 90-day strips by keyboard, live updates that keep the
//! reader's place and can be paused, no sideways scrolling on a 320 px screen, and
//! axe-core (WCAG 2.2 A/AA and best practices) finding nothing on every public page at
//! 320, 375 and 1280 px, light and dark, in headless Chromium through chromedriver.
//!
//! The HTML facts (headings, a past incident's wording, favicon, history, postmortems'
//! links and scrolling regions) are checked without a browser, so they run everywhere.

use std::{path::Path, time::Duration};

use chrono::{Duration as Days, Utc};
use fantoccini::{
    Client, Locator,
    actions::{InputSource, KeyAction, KeyActions},
    key::Key,
};
use herald_tests::TestApp;
use serde_json::{Value, json};

use crate::subscribe_browser::{Driver, find_chromedriver};

/// axe-core 4.14.1 (MPL-2.0), as published on npm (`axe.min.js`), vendored so the
/// check needs no network.
const AXE: &str = include_str!("../fixtures/axe-4.14.1.min.js");

const WAIT: Duration = Duration::from_secs(20);

const POSTMORTEM: &str = "## What happened\n\nThe queue consumer stalled; see https://example.com/runbooks/queue_consumer_(v2) for the runbook.\n\n```\n2026-11-23T03:31:07.123Z ERROR queue-consumer[4411]: delivery batch 918273645 failed after 30000 ms: upstream connect error or disconnect/reset before headers. reset reason: connection termination\n```\n\n| Region | Started | Detected | Mitigated | Resolved | Deliveries delayed | Deliveries lost | Longest delay | Customers told |\n|---|---|---|---|---|---|---|---|---|\n| Prod2 (EU) | 03:31 UTC | 03:38 UTC | 04:10 UTC | 04:45 UTC | 18,204 | 0 | 19 minutes | 412 |\n";

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// The demo page plus what every page can show: a resolved incident with a postmortem
/// (a long code line, a wide table, a bare URL), a backfilled incident, a scheduled
/// maintenance; the demo's incident is still going on.
struct World {
    app: TestApp,
    ongoing: String,
    ongoing_name: String,
    resolved: String,
    backfilled: String,
    upcoming: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let now = Utc::now();
    let components = app
        .get(&app.page_path("/components"))
        .await
        .expect(200)
        .json();
    let some = components
        .as_array()
        .and_then(|a| a.iter().find(|c| c["group_id"].is_string()))
        .map(id)
        .unwrap_or_default();
    let resolved = id(&app
        .create_incident(json!({
            "name": "Webhook deliveries delayed",
            "body": "We are looking into delayed webhook deliveries.",
            "components": {some.as_str(): "major_outage"},
        }))
        .await);
    app.update_incident(
        &resolved,
        json!({"status": "resolved", "body": "Deliveries have caught up."}),
    )
    .await;
    let pm = app.page_path(&format!("/incidents/{resolved}/postmortem"));
    app.put(&pm, json!({"postmortem": {"body_draft": POSTMORTEM}}))
        .await
        .expect(200);
    app.put(
        &format!("{pm}/publish"),
        json!({"postmortem": {"notify_subscribers": false}}),
    )
    .await
    .expect(200);
    let backfilled = id(&app
        .create_incident(json!({
            "name": "Search errors (entered after the fact)",
            "status": "resolved",
            "backfilled": true,
            "body": "Search returned errors for some customers.",
            "started_at": (now - Days::days(3)).to_rfc3339(),
            "resolved_at": (now - Days::days(3) + Days::minutes(40)).to_rfc3339(),
            "components": {some.as_str(): "partial_outage"},
        }))
        .await);
    let upcoming = id(&app
        .create_incident(json!({
            "name": "Database upgrade",
            "body": "We will upgrade the primary database.",
            "scheduled_for": (now + Days::days(2)).to_rfc3339(),
            "scheduled_until": (now + Days::days(2) + Days::hours(2)).to_rfc3339(),
        }))
        .await);
    let unresolved = app
        .public("/api/v2/incidents/unresolved.json")
        .await
        .expect(200)
        .json();
    let ongoing = &unresolved["incidents"][0];
    app.settle().await;
    World {
        ongoing: id(ongoing),
        ongoing_name: ongoing["name"].as_str().unwrap_or_default().to_owned(),
        resolved,
        backfilled,
        upcoming,
        app,
    }
}

// ---------------------------------------------------------------------------------------
// Without a browser

#[tokio::test]
async fn the_pages_say_what_a_reader_needs_without_a_browser() {
    let w = world().await;
    let app = &w.app;

    // Component names are headings; the strips are one sentence each for a screen
    // reader (the bars hidden), with a table of the days that were not operational.
    let home = app.public("/").await.expect(200).text;
    for name in ["Web client", "Voice", "Knowledge base", "Outbound webhooks"] {
        assert!(
            home.contains(&format!("<h4 class=\"name\">{name}</h4>")),
            "{name} is not a heading"
        );
    }
    assert!(home.contains("<h3 class=\"name\">Public API</h3>"));
    assert!(home.contains("<h3 class=\"name\">Prod2 (EU)</h3>"));
    assert_eq!(
        home.matches("<div class=\"bars\" aria-hidden=\"true\">")
            .count(),
        home.matches("class=\"uptime\"").count(),
        "every strip's bars are hidden from assistive technology"
    );
    assert!(
        !home.contains("No downtime</span>"),
        "no list of 90 days read out"
    );
    assert!(
        home.contains("uptime over 90 days; no incidents.</p>"),
        "a quiet component is one sentence"
    );
    assert!(
        home.contains(&format!("href=\"/incidents/{}\"", w.ongoing))
            && home.contains("day with incidents</summary>"),
        "a component with an incident offers its days as a table linking to it"
    );
    // The phone's figure covers the days it shows.
    for n in ["90", "60", "30"] {
        assert!(
            home.contains(&format!("uptime over {n} days</span>")),
            "no figure over {n} days"
        );
    }

    // A resolved incident's page says what its components went through, and how they
    // are now, separately.
    let page = app
        .public(&format!("/incidents/{}", w.resolved))
        .await
        .expect(200)
        .text;
    let affected = &page[page.find("Affected components").unwrap_or(0)..];
    let affected = &affected[..affected.find("</section>").unwrap_or(affected.len())];
    assert!(
        affected.contains("Was Major Outage from "),
        "the past is told as past: {affected}"
    );
    assert!(
        affected.contains("Now ") && !affected.contains(">Major Outage<"),
        "the current status is told apart: {affected}"
    );

    // Postmortems: wide content scrolls in named, focusable regions; bare URLs link.
    for region in [
        "<pre class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Code\">",
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table>",
    ] {
        assert!(page.contains(region), "{region} missing");
    }
    assert!(
        page.contains("<a href=\"https://example.com/runbooks/queue_consumer_(v2)\" rel=\"noopener noreferrer nofollow\">"),
        "the bare URL is a link"
    );

    // History is the past only.
    let history = app.public("/history").await.expect(200).text;
    for name in [
        "Webhook deliveries delayed",
        "Search errors (entered after the fact)",
    ] {
        assert!(history.contains(name), "history lacks {name}");
    }
    for name in ["Database upgrade", w.ongoing_name.as_str()] {
        assert!(!history.contains(name), "history lists {name}");
    }

    // An icon for every page (inline, so it costs no request), and at the address
    // browsers ask for.
    assert!(home.contains(
        "<link rel=\"icon\" href=\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'"
    ));
    let ico = app.public("/favicon.ico").await.expect(200);
    assert_eq!(ico.header("content-type"), Some("image/x-icon"));
    // The feeds page explains each feed to people; the feeds stay as they were.
    assert!(home.contains("<a href=\"/feeds\">Feeds</a>"));
    let feeds = app.public("/feeds").await.expect(200).text;
    for what in [
        "RSS",
        "Atom",
        "iCalendar",
        "JSON",
        "/history.atom",
        "/maintenance.ics",
    ] {
        assert!(
            feeds.contains(what),
            "the feeds page does not mention {what}"
        );
    }
    let atom = app.public("/history.atom").await.expect(200);
    assert!(
        atom.header("content-type")
            .unwrap_or_default()
            .starts_with("application/atom+xml")
    );
}

// ---------------------------------------------------------------------------------------
// In Chromium

/// Chromium and chromedriver, or `None` (a skip, outside CI) without them.
fn tools() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    match (crate::browser::find_chromium(), find_chromedriver()) {
        (Some(c), Some(d)) => Some((c, d)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("Chromium and chromedriver are required in CI (apt-get install chromium-driver)")
        }
        _ => {
            eprintln!(
                "accessibility checks in Chromium skipped: install chromium and chromium-driver"
            );
            None
        }
    }
}

async fn run(b: &Client, script: &str) -> Value {
    b.execute(script, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("script failed ({e}): {script}"))
}

async fn press(b: &Client, key: Key) {
    let k: char = key.into();
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: k })
        .then(KeyAction::Up { value: k });
    b.perform_actions(keys)
        .await
        .unwrap_or_else(|e| panic!("pressing a key: {e}"));
}

/// Where the focus is: in a strip (its name, the day's index and name), or elsewhere.
const FOCUS: &str = r#"
const a = document.activeElement;
const u = a && a.closest(".uptime");
const tip = u && u.querySelector(".tip");
return {
  strip: u && a.classList.contains("b") ? u.dataset.name : null,
  day: a && a.classList.contains("b") ? Array.from(a.parentNode.children).indexOf(a) : null,
  label: a ? a.getAttribute("aria-label") : null,
  role: a ? a.getAttribute("role") : null,
  href: a ? a.getAttribute("href") : null,
  inTip: !!(a && a.closest(".tip")),
  inFooter: !!(a && a.closest("footer")),
  tip: tip && !tip.hidden ? tip.textContent : null,
  stops: u ? u.querySelectorAll('.bars [tabindex="0"]').length : null,
};"#;

async fn focus(b: &Client) -> Value {
    run(b, FOCUS).await
}

async fn wait_for(b: &Client, script: &str) -> bool {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if run(b, script).await == json!(true) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn the_uptime_strips_work_by_keyboard() {
    let Some((chromium, driver)) = tools() else {
        return;
    };
    let w = world().await;
    let driver = Driver::start(&driver).await;
    let b = driver
        .browser_with(&chromium, &["--window-size=1280,1000"])
        .await;
    b.goto(&w.app.url("/"))
        .await
        .unwrap_or_else(|e| panic!("opening /: {e}"));
    let strips = run(&b, "return document.querySelectorAll('.uptime').length").await;
    let strips = strips.as_u64().unwrap_or_default();
    assert!(strips >= 13, "the demo has 13 strips: {strips}");

    // Tab through the page: each strip is one stop, and a day's detail opens with it.
    run(&b, "document.activeElement.blur(); window.scrollTo(0, 0)").await;
    let mut seen: Vec<String> = Vec::new();
    let mut voice: Option<Value> = None;
    for _ in 0..400 {
        press(&b, Key::Tab).await;
        let f = focus(&b).await;
        if f["inFooter"] == json!(true) {
            break;
        }
        if let Some(name) = f["strip"].as_str() {
            assert!(
                seen.last().map(String::as_str) != Some(name),
                "a second Tab stop in {name}"
            );
            assert_eq!(f["stops"], json!(1), "{name} has one stop");
            assert_eq!(f["role"], "button", "the current day is a button: {f}");
            assert!(f["tip"].is_string(), "focus opens the day's detail: {f}");
            seen.push(name.to_owned());
            if name == "Voice, Prod1 (US)" {
                voice = Some(f);
                break;
            }
        }
    }
    let Some(today) = voice else {
        panic!("Tab never reached Voice in Prod1 (US); stops in strips: {seen:?}")
    };
    assert_eq!(today["day"], json!(89), "the stop is today: {today}");
    let label = today["label"].as_str().unwrap_or_default();
    assert!(label.contains("1 incident"), "today's name: {label}");
    let tip = today["tip"].as_str().unwrap_or_default();
    assert!(
        tip.contains(&w.ongoing_name),
        "today's detail names the incident: {tip}"
    );

    // Arrows, Home, End, PageUp move the one stop; Esc closes the detail, Enter opens it.
    press(&b, Key::Left).await;
    let f = focus(&b).await;
    assert_eq!(f["day"], json!(88), "{f}");
    assert!(f["tip"].is_string(), "{f}");
    assert_eq!(f["stops"], json!(1));
    press(&b, Key::Home).await;
    let f = focus(&b).await;
    assert_eq!(f["day"], json!(0), "{f}");
    assert!(
        f["label"].as_str().unwrap_or_default().ends_with("no data"),
        "the demo's first days have no data: {f}"
    );
    press(&b, Key::End).await;
    assert_eq!(focus(&b).await["day"], json!(89));
    press(&b, Key::PageUp).await;
    assert_eq!(focus(&b).await["day"], json!(82), "a week back");
    press(&b, Key::PageDown).await;
    assert_eq!(focus(&b).await["day"], json!(89), "a week on");
    press(&b, Key::Escape).await;
    let f = focus(&b).await;
    assert!(f["tip"].is_null(), "Esc closes the detail: {f}");
    assert_eq!(f["day"], json!(89), "and keeps the focus: {f}");
    press(&b, Key::Enter).await;
    assert!(focus(&b).await["tip"].is_string(), "Enter opens it again");
    // Tab goes into the detail, to the incident's link.
    press(&b, Key::Tab).await;
    let f = focus(&b).await;
    assert_eq!(f["inTip"], json!(true), "{f}");
    assert_eq!(
        f["href"].as_str(),
        Some(format!("/incidents/{}", w.ongoing).as_str())
    );

    // The detail does not cover the component's name or status.
    let overlap = run(
        &b,
        r#"const u = [...document.querySelectorAll('.uptime')].find(u => u.dataset.name === 'Voice, Prod1 (US)');
           const t = u.querySelector('.tip').getBoundingClientRect();
           const h = u.closest('.component').querySelector('.component-head').getBoundingClientRect();
           return t.top < h.bottom && t.bottom > h.top;"#,
    )
    .await;
    assert_eq!(overlap, json!(false), "the detail covers the status label");

    // A hovered detail stays while the pointer is on it, and Esc closes it too.
    run(&b, "document.activeElement.blur()").await;
    let bar = b
        .find(Locator::Css(".uptime .bars .b:last-child"))
        .await
        .unwrap_or_else(|e| panic!("a bar: {e}"));
    let tip_open = "return [...document.querySelectorAll('.tip')].some(t => !t.hidden)";
    bar.click()
        .await
        .unwrap_or_else(|e| panic!("tapping a day: {e}"));
    assert_eq!(
        run(&b, tip_open).await,
        json!(true),
        "a tap opens the detail"
    );
    press(&b, Key::Escape).await;
    assert_eq!(run(&b, tip_open).await, json!(false), "Esc closes it");
    let _ = b.close().await;
}

#[tokio::test]
async fn live_updates_keep_the_readers_place_and_can_be_paused() {
    let Some((chromium, driver)) = tools() else {
        return;
    };
    let w = world().await;
    let app = &w.app;
    let driver = Driver::start(&driver).await;
    let b = driver
        .browser_with(&chromium, &["--window-size=1280,1000"])
        .await;
    b.goto(&app.url("/"))
        .await
        .unwrap_or_else(|e| panic!("opening /: {e}"));
    let control = "document.getElementById('live-control')";
    assert_eq!(
        run(&b, &format!("return !{control}.hidden")).await,
        json!(true),
        "the pause control is shown when the script runs"
    );
    let pressed = format!("return {control}.querySelector('button').getAttribute('aria-pressed')");
    assert_eq!(run(&b, &pressed).await, json!("false"));
    b.find(Locator::Css("#live-control button"))
        .await
        .unwrap_or_else(|e| panic!("the pause button: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("pausing: {e}"));
    assert_eq!(run(&b, &pressed).await, json!("true"));
    b.refresh().await.unwrap_or_else(|e| panic!("reload: {e}"));
    assert_eq!(
        run(&b, &pressed).await,
        json!("true"),
        "paused is remembered"
    );

    // A change while paused does not reach the page.
    let mark = "document.querySelector('.component-list').dataset.mark = 'kept'; document.getElementById('live-note').dataset.mark = 'kept'; document.querySelector('.banner').dataset.mark = 'kept'";
    run(&b, mark).await;
    let banner = run(
        &b,
        "return document.querySelector('.banner').textContent.trim()",
    )
    .await;
    let web = app
        .get(&app.page_path("/components"))
        .await
        .expect(200)
        .json()
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == "Public API").map(id))
        .unwrap_or_default();
    app.create_incident(json!({
        "name": "Public API unavailable",
        "body": "The API answers 503.",
        "components": {web.as_str(): "major_outage"},
    }))
    .await;
    app.settle().await;
    run(&b, "document.dispatchEvent(new Event('visibilitychange'))").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        run(
            &b,
            "return document.querySelector('.banner').textContent.trim()"
        )
        .await,
        banner,
        "paused, the page stays as it was"
    );

    // Resumed, it updates in place: the parts that did not change are the same nodes,
    // and the live region (never replaced) says what changed, once.
    b.find(Locator::Css("#live-control button"))
        .await
        .unwrap_or_else(|e| panic!("the pause button: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("resuming: {e}"));
    assert!(
        wait_for(
            &b,
            "return document.body.textContent.includes('Public API unavailable')"
        )
        .await,
        "the new incident never showed"
    );
    let kept = run(
        &b,
        "return [document.querySelector('.component-list').dataset.mark, document.getElementById('live-note').dataset.mark, document.getElementById('live-note').textContent]",
    )
    .await;
    assert_eq!(
        kept[0], "kept",
        "the component list was replaced, not updated"
    );
    assert_eq!(kept[1], "kept", "the live region was replaced");
    assert!(
        wait_for(
            &b,
            "return document.getElementById('live-note').textContent.startsWith('Status updated')"
        )
        .await,
        "the change was not announced: {kept}"
    );
    assert!(
        run(&b, "return document.querySelector('.uptime .bars').getAttribute('role') === 'group' && document.querySelectorAll('.uptime:not([data-ready])').length === 0").await == json!(true),
        "the strips work after the update"
    );
    let _ = b.close().await;
}

/// Runs axe-core on the page open in `b`; the violations, in short.
async fn axe(b: &Client) -> Vec<String> {
    let injected = run(b, &format!("{AXE}\n;return typeof axe;")).await;
    assert_eq!(injected, "object", "axe-core did not load");
    let script = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"] },
}).then(
  (r) => done(r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`)),
  (e) => done([`axe failed: ${e}`]),
);"#;
    let out = b
        .execute_async(script, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("running axe: {e}"));
    out.as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_public_page_passes_axe_and_fits_a_small_phone() {
    let Some((chromium, driver)) = tools() else {
        return;
    };
    let w = world().await;
    let app = &w.app;
    let paths = [
        "/".to_owned(),
        format!("/incidents/{}", w.ongoing),
        format!("/incidents/{}", w.resolved),
        format!("/incidents/{}", w.backfilled),
        format!("/incidents/{}", w.upcoming),
        "/history".to_owned(),
        "/feeds".to_owned(),
        "/subscribe".to_owned(),
        "/no/such/page".to_owned(),
    ];
    let driver = Driver::start(&driver).await;
    let mut problems = Vec::new();
    for scheme in ["light", "dark"] {
        let b = match scheme {
            "dark" => driver.browser_with(&chromium, &["--force-dark-mode"]).await,
            _ => driver.browser_with(&chromium, &[]).await,
        };
        for width in [320u32, 375, 1280] {
            b.set_window_size(width, 900)
                .await
                .unwrap_or_else(|e| panic!("window size {width}: {e}"));
            for path in &paths {
                b.goto(&app.url(path))
                    .await
                    .unwrap_or_else(|e| panic!("opening {path}: {e}"));
                let dark = run(
                    &b,
                    "return matchMedia('(prefers-color-scheme: dark)').matches",
                )
                .await;
                assert_eq!(dark, json!(scheme == "dark"), "{scheme} is not in effect");
                let fit = run(
                    &b,
                    "return [document.documentElement.clientWidth, document.documentElement.scrollWidth]",
                )
                .await;
                if fit[1].as_u64() > fit[0].as_u64() {
                    problems.push(format!(
                        "{path} at {width} px ({scheme}) scrolls sideways: {fit}"
                    ));
                }
                for v in axe(&b).await {
                    problems.push(format!("{path} at {width} px ({scheme}): {v}"));
                }
            }
        }
        let _ = b.close().await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Screenshots for a person to look at (not compared): `HERALD_SCREENSHOTS=DIR`.
#[tokio::test]
async fn screenshots_for_people() {
    let Some(dir) = std::env::var_os("HERALD_SCREENSHOTS") else {
        return;
    };
    let Some((chromium, driver)) = tools() else {
        return;
    };
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let w = world().await;
    let driver = Driver::start(&driver).await;
    for scheme in ["light", "dark"] {
        let b = match scheme {
            "dark" => driver.browser_with(&chromium, &["--force-dark-mode"]).await,
            _ => driver.browser_with(&chromium, &[]).await,
        };
        for width in [320u32, 375, 1280] {
            b.set_window_size(width, 1800)
                .await
                .unwrap_or_else(|e| panic!("window size: {e}"));
            for (name, path) in [
                ("home", "/".to_owned()),
                ("resolved", format!("/incidents/{}", w.resolved)),
                ("history", "/history".to_owned()),
            ] {
                b.goto(&w.app.url(&path))
                    .await
                    .unwrap_or_else(|e| panic!("opening {path}: {e}"));
                if name == "home" {
                    // The Voice strip of Prod1 with today's detail open, by keyboard.
                    run(&b, "const u = [...document.querySelectorAll('.uptime')].find(u => u.dataset.name === 'Voice, Prod1 (US)'); u.querySelector('.bars [tabindex=\"0\"]').focus(); u.scrollIntoView({block: 'center'})").await;
                }
                let png = b
                    .screenshot()
                    .await
                    .unwrap_or_else(|e| panic!("screenshot: {e}"));
                std::fs::write(dir.join(format!("{name}-{width}-{scheme}.png")), png)
                    .unwrap_or_else(|e| panic!("writing: {e}"));
            }
        }
        let _ = b.close().await;
    }
}
