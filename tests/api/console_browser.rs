//! The console in headless Chromium, as a responder at 3 a.m. would use it: open the
//! one-time link, choose a password, declare an incident from a template on two
//! components of a pod, post two updates, resolve, publish a postmortem. After each
//! step the public page and the SMTP server show the result. Screenshots of the
//! dashboard and the declare form are taken, and their key text checked in the DOM.

use std::{path::Path, time::Duration};

use fantoccini::{Client, Locator};
use herald::domain::Role;
use herald_tests::{TestApp, smtp::Sink};
use serde_json::Value;

use crate::subscribe_browser::{Driver, find_chromedriver};

const WAIT: Duration = Duration::from_secs(20);

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

type Step<T> = Result<T, String>;

fn err(what: &str) -> impl Fn(fantoccini::error::CmdError) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// The text of `main` once it contains `needle` (a submit returns before the next page
/// is there), or what it shows after the wait.
async fn main_text(b: &Client, needle: &str) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let text = match b.find(Locator::Css("main")).await {
            Ok(m) => m.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(needle) || std::time::Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn expect_text(b: &Client, needle: &str) -> Step<String> {
    let text = main_text(b, needle).await;
    if text.contains(needle) {
        Ok(text)
    } else {
        Err(format!("'{needle}' not on the page: {text}"))
    }
}

async fn click(b: &Client, css: &str) -> Step<()> {
    b.find(Locator::Css(css))
        .await
        .map_err(err(css))?
        .click()
        .await
        .map_err(err(css))
}

async fn fill(b: &Client, css: &str, text: &str) -> Step<()> {
    let field = b.find(Locator::Css(css)).await.map_err(err(css))?;
    field.clear().await.map_err(err(css))?;
    field.send_keys(text).await.map_err(err(css))
}

async fn select(b: &Client, css: &str, value: &str) -> Step<()> {
    b.find(Locator::Css(css))
        .await
        .map_err(err(css))?
        .select_by_value(value)
        .await
        .map_err(err(css))
}

async fn screenshot(b: &Client, name: &str) -> Step<()> {
    let shot = b.screenshot().await.map_err(err("screenshot"))?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(name), &shot);
    if shot.len() < 10 * 1024 {
        return Err(format!("{name}: a blank page?"));
    }
    Ok(())
}

/// Waits until the public path shows `needle`.
async fn public_shows(app: &TestApp, path: &str, needle: &str) -> Step<()> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let page = app.public(path).await;
        if page.text.contains(needle) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("'{needle}' not on the public {path}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_responder_runs_an_incident_from_the_console_in_a_real_browser() {
    let (Some(chromium), Some(driver)) = (crate::browser::find_chromium(), find_chromedriver())
    else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "Chromium and chromedriver are required in CI (apt-get install chromium-driver)"
            );
        }
        eprintln!("console flow skipped: install chromium and chromium-driver");
        return;
    };
    let sink = Sink::start().await;
    let app = TestApp::spawn_mailing(&sink).await;
    let voice = id(&app.create_component("Voice", None).await);
    let kb = id(&app.create_component("Knowledge base", None).await);
    app.create_component("Billing", None).await;
    app.create_group("Prod2 (EU)", &[&voice, &kb]).await;
    app.subscribe("sub@example.com", &[]).await;
    let link = crate::console::invite(&app, "rita@example.com", Role::Responder).await;
    let driver = Driver::start(&driver).await;
    let b = driver
        .browser_with(&chromium, &["--window-size=1100,1600"])
        .await;
    let outcome = flow(&app, &sink, &b, &link, (&voice, &kb)).await;
    let _ = b.close().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
}

async fn flow(
    app: &TestApp,
    sink: &Sink,
    b: &Client,
    link: &str,
    (voice, kb): (&str, &str),
) -> Step<()> {
    // The one-time link: choose a password, land on the dashboard.
    b.goto(&app.url(link)).await.map_err(err("the link"))?;
    expect_text(b, "choose your password").await?;
    fill(b, "#password", "a long night on call").await?;
    fill(b, "#confirm", "a long night on call").await?;
    click(b, "form button[type=submit]").await?;
    let dash = expect_text(b, "Open incidents").await?;
    for needle in [
        "No open incidents",
        "Components",
        "Prod2 (EU)",
        "Voice",
        "Billing",
        "No failed deliveries",
    ] {
        if !dash.contains(needle) {
            return Err(format!("dashboard without '{needle}': {dash}"));
        }
    }
    screenshot(b, "console-dashboard.png").await?;

    // Declare from the Investigating template on the pod's two components.
    click(b, "a[href$='/admin/incidents/new']").await?;
    expect_text(b, "Declare an incident").await?;
    let template = b
        .find(Locator::XPath(
            "//select[@id='template_id']/option[normalize-space()='Investigating']",
        ))
        .await
        .map_err(err("the Investigating template"))?;
    template
        .click()
        .await
        .map_err(err("choosing the template"))?;
    for c in [voice, kb] {
        click(b, &format!("input[name='affected[]'][value='{c}']")).await?;
    }
    select(
        b,
        &format!("select[name='status_of[{voice}]']"),
        "major_outage",
    )
    .await?;
    select(
        b,
        &format!("select[name='status_of[{kb}]']"),
        "degraded_performance",
    )
    .await?;
    click(b, "button[value=preview]").await?;
    let preview = expect_text(b, "will be told").await?;
    // The template names the components in the board's order.
    let named = "Voice and Knowledge base";
    if !preview.contains(&format!("Degraded service: {named} in Prod2 (EU)")) {
        return Err(format!(
            "the template's title is not in the preview: {preview}"
        ));
    }
    for needle in [
        "1 subscriber, 0 tenants, 0 webhooks will be told",
        "We are investigating reports of problems",
    ] {
        if !preview.contains(needle) {
            return Err(format!("preview without '{needle}': {preview}"));
        }
    }
    screenshot(b, "console-declare.png").await?;
    if !sink.to("sub@example.com").is_empty() {
        return Err("a preview sent mail".into());
    }
    click(b, "button[value=publish]").await?;
    expect_text(b, "The incident is published").await?;
    let url = b.current_url().await.map_err(err("url"))?;
    let incident = url.path().rsplit('/').next().unwrap_or_default().to_owned();
    public_shows(app, "/", &format!("Degraded service: {named}")).await?;
    sink.wait_for(1, WAIT).await;
    let mails = sink.to("sub@example.com");
    if mails.len() != 1 || !mails[0].text().contains("We are investigating reports") {
        return Err(format!("{} mails after declaring", mails.len()));
    }
    if app.component(voice).await["status"] != "major_outage" {
        return Err("Voice is not in a major outage".into());
    }

    // Two updates.
    for (n, (status, body)) in [
        ("identified", "We found a bad route in Prod2."),
        ("monitoring", "A fix is rolling out; calls connect again."),
    ]
    .into_iter()
    .enumerate()
    {
        select(b, "#status", status).await?;
        fill(b, "#body", body).await?;
        click(b, "button[value=update]").await?;
        expect_text(b, "The update is posted").await?;
        public_shows(app, &format!("/incidents/{incident}"), body).await?;
        sink.wait_for(2 + n, WAIT).await;
        if !sink
            .to("sub@example.com")
            .iter()
            .any(|m| m.text().contains(body))
        {
            return Err(format!("no mail saying '{body}'"));
        }
    }

    // Resolve.
    fill(b, "#resolve-body", "Calls in Prod2 work normally again.").await?;
    click(b, "form[action$='/resolve'] button[type=submit]").await?;
    expect_text(b, "The incident is resolved").await?;
    public_shows(
        app,
        &format!("/incidents/{incident}"),
        "Calls in Prod2 work normally again.",
    )
    .await?;
    sink.wait_for(4, WAIT).await;
    if app.component(voice).await["status"] != "operational" {
        return Err("Voice did not come back".into());
    }

    // The postmortem: preview, publish, on the public page.
    click(b, "a[href$='/postmortem']").await?;
    expect_text(b, "Postmortem").await?;
    fill(
        b,
        "#body",
        "## What happened\n\nA **bad route** sent calls nowhere.",
    )
    .await?;
    click(b, "button[value=preview]").await?;
    let shown = expect_text(b, "as the public page will show it").await?;
    let strong = b
        .find(Locator::Css(".console-preview strong"))
        .await
        .map_err(err("the rendered Markdown"))?
        .text()
        .await
        .map_err(err("its text"))?;
    if strong != "bad route" || !shown.contains("What happened") {
        return Err(format!("the preview is not rendered Markdown: {shown}"));
    }
    click(b, "button[value=publish]").await?;
    expect_text(b, "The postmortem is published").await?;
    public_shows(app, &format!("/incidents/{incident}"), "sent calls nowhere").await?;
    sink.wait_for(5, WAIT).await;
    if !sink
        .to("sub@example.com")
        .iter()
        .any(|m| m.text().contains("sent calls nowhere"))
    {
        return Err("subscribers were not told of the postmortem".into());
    }
    Ok(())
}

/// The console's script, in Chromium: a promise counts down and turns red without a
/// reload, `?` lists the shortcuts and `g n` opens the declare form, and the dashboard
/// shows an incident declared elsewhere in place (the page is never reloaded).
#[tokio::test]
async fn the_console_script_counts_down_takes_shortcuts_and_updates_in_place() {
    let (Some(chromium), Some(driver)) = (crate::browser::find_chromium(), find_chromedriver())
    else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "Chromium and chromedriver are required in CI (apt-get install chromium-driver)"
            );
        }
        eprintln!("console script test skipped: install chromium and chromium-driver");
        return;
    };
    let app = TestApp::spawn().await;
    let api = id(&app.create_component("API", None).await);
    app.create_incident(serde_json::json!({"name": "Slow logins", "status": "identified", "body": "A cache is cold.", "components": {&api: "degraded_performance"}, "next_update_in_minutes": 4}))
        .await;
    let link = crate::console::invite(&app, "sam@example.com", Role::Responder).await;
    let driver = Driver::start(&driver).await;
    let b = driver
        .browser_with(&chromium, &["--window-size=1100,1400"])
        .await;
    let outcome = script(&app, &b, &link).await;
    let _ = b.close().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
}

async fn js(b: &Client, code: &str) -> Step<Value> {
    b.execute(code, vec![]).await.map_err(err(code))
}

/// Waits until `code` returns true.
async fn until(b: &Client, code: &str, within: Duration) -> Step<()> {
    let deadline = std::time::Instant::now() + within;
    loop {
        if js(b, code).await? == Value::Bool(true) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("never true: {code}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn keys(b: &Client, text: &str) -> Step<()> {
    b.find(Locator::Css("body"))
        .await
        .map_err(err("body"))?
        .send_keys(text)
        .await
        .map_err(err(text))
}

async fn script(app: &TestApp, b: &Client, link: &str) -> Step<()> {
    b.goto(&app.url(link)).await.map_err(err("the link"))?;
    expect_text(b, "choose your password").await?;
    fill(b, "#password", "a long night on call").await?;
    fill(b, "#confirm", "a long night on call").await?;
    click(b, "form button[type=submit]").await?;
    expect_text(b, "Slow logins").await?;
    // Four minutes left: amber, as the server rendered it.
    let shown = js(
        b,
        "const c = document.querySelector('[data-due]'); return [c.className, c.querySelector('[data-countdown]').textContent];",
    )
    .await?;
    if !shown[0]
        .as_str()
        .is_some_and(|c| c.contains("countdown-soon"))
        || !shown[1].as_str().is_some_and(|t| t.starts_with("in "))
    {
        return Err(format!("the countdown as rendered: {shown}"));
    }
    // The promise passes (moved three minutes into the past): the script turns it red
    // on its next tick, with no reload.
    js(
        b,
        "window.stayed = true; const c = document.querySelector('[data-due]'); c.dataset.due = new Date(Date.now() - 181000).toISOString(); return true;",
    )
    .await?;
    until(
        b,
        "const c = document.querySelector('[data-due]'); return c.classList.contains('countdown-overdue') && c.querySelector('[data-countdown]').textContent === 'overdue by 3 min' && window.stayed === true;",
        Duration::from_secs(20),
    )
    .await?;

    // Shortcuts: `?` lists them, Escape closes the list, `g n` declares.
    keys(b, "?").await?;
    until(
        b,
        "const k = document.querySelector('.console-keys'); return !!k && k.textContent.includes('g n') && k.textContent.includes('Declare incident');",
        WAIT,
    )
    .await?;
    keys(b, "\u{e00c}").await?;
    until(b, "return !document.querySelector('.console-keys');", WAIT).await?;
    keys(b, "g").await?;
    keys(b, "n").await?;
    expect_text(b, "Declare an incident").await?;

    // Back on the dashboard, an incident declared through the API appears in place.
    b.back().await.map_err(err("back"))?;
    expect_text(b, "Slow logins").await?;
    js(b, "window.stayed = true; return true;").await?;
    app.create_incident(serde_json::json!({"name": "Webhooks delayed", "status": "investigating", "body": "Looking."}))
        .await;
    until(
        b,
        "return document.querySelector('main').textContent.includes('Webhooks delayed') && window.stayed === true;",
        Duration::from_secs(45),
    )
    .await?;

    // The other sections a responder works in, each looked at.
    for (path, needle, shot) in [
        (
            "/admin/maintenance/new",
            "Schedule maintenance",
            "console-maintenance-new.png",
        ),
        ("/admin/components", "API", "console-components.png"),
        (
            "/admin/subscribers",
            "Subscribers",
            "console-subscribers.png",
        ),
    ] {
        b.goto(&app.url(path)).await.map_err(err(path))?;
        expect_text(b, needle).await?;
        screenshot(b, shot).await?;
    }
    Ok(())
}
