//! The public subscribe flow in headless Chromium, driven through chromedriver
//! (WebDriver): fill the form, open the confirmation link from the mail the real SMTP
//! server received, change what is followed on the manage page, unsubscribe. No
//! JavaScript is needed by any of these pages; the browser runs with it on, as people do.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator};
use herald_tests::{TestApp, smtp::Sink};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

pub(crate) fn find_chromedriver() -> Option<PathBuf> {
    let usual = Path::new("/usr/bin/chromedriver");
    if usual.exists() {
        return Some(usual.to_owned());
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.exists())
}

/// A chromedriver child that is killed when dropped.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub(crate) async fn start(exe: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("free port: {e}"));
        let child = Command::new(exe)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = std::time::Instant::now();
        while started.elapsed() < WAIT {
            if let Ok(r) = reqwest::get(format!("{}/status", driver.url)).await
                && r.status().is_success()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start within {WAIT:?}");
    }

    async fn browser(&self, chromium: &Path) -> Client {
        self.browser_with(chromium, &["--window-size=1100,1400"])
            .await
    }

    /// A Chromium session with `extra` arguments (`--window-size=W,H`,
    /// `--force-dark-mode`).
    pub(crate) async fn browser_with(&self, chromium: &Path, extra: &[&str]) -> Client {
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
        ];
        args.extend_from_slice(extra);
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        ClientBuilder::rustls()
            .unwrap_or_else(|e| panic!("webdriver client: {e}"))
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("a Chromium session: {e}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The page's text once it contains `needle` (a click that submits a form returns
/// before the next page is there), or what it shows after the wait.
async fn text_with(b: &Client, needle: &str) -> String {
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

async fn click(b: &Client, css: &str) {
    b.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

async fn checkbox(b: &Client, value: &str) -> fantoccini::elements::Element {
    b.find(Locator::Css(&format!(
        "input[type=checkbox][value='{value}']"
    )))
    .await
    .unwrap_or_else(|e| panic!("checkbox {value}: {e}"))
}

#[tokio::test]
async fn people_subscribe_confirm_choose_and_leave_in_a_real_browser() {
    let (Some(chromium), Some(driver)) = (crate::browser::find_chromium(), find_chromedriver())
    else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "Chromium and chromedriver are required in CI (apt-get install chromium-driver)"
            );
        }
        eprintln!("subscribe flow skipped: install chromium and chromium-driver");
        return;
    };
    let sink = Sink::start().await;
    let app = TestApp::spawn_mailing(&sink).await;
    let api = id(&app.create_component("Public API", None).await);
    let web = id(&app.create_component("Dashboard", None).await);
    let driver = Driver::start(&driver).await;
    let b = driver.browser(&chromium).await;
    let outcome = flow(&app, &sink, &b, &api, &web).await;
    let _ = b.close().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
}

async fn flow(app: &TestApp, sink: &Sink, b: &Client, api: &str, web: &str) -> Result<(), String> {
    let e = |what: &str| {
        let what = what.to_owned();
        move |err: fantoccini::error::CmdError| format!("{what}: {err}")
    };
    // From the home page, as a visitor finds it.
    b.goto(&app.url("/")).await.map_err(e("home"))?;
    b.find(Locator::LinkText("Subscribe"))
        .await
        .map_err(e("the Subscribe link"))?
        .click()
        .await
        .map_err(e("following Subscribe"))?;
    let url = b.current_url().await.map_err(e("url"))?;
    assert!(url.path().ends_with("/subscribe"), "{url}");
    // A mistyped address is refused kindly, and what was typed is kept.
    b.find(Locator::Id("email"))
        .await
        .map_err(e("email"))?
        .send_keys("ada.example.com")
        .await
        .map_err(e("typing"))?;
    click(b, "form button[type=submit]").await;
    let refused = text_with(b, "Please enter one email address").await;
    assert!(
        refused.contains("Please enter one email address"),
        "{refused}"
    );
    let field = b.find(Locator::Id("email")).await.map_err(e("email"))?;
    assert_eq!(
        field.attr("aria-invalid").await.map_err(e("aria"))?,
        Some("true".into())
    );
    field.clear().await.map_err(e("clear"))?;
    field
        .send_keys("ada@example.com")
        .await
        .map_err(e("typing"))?;
    checkbox(b, api)
        .await
        .click()
        .await
        .map_err(e("tick API"))?;
    click(b, "form button[type=submit]").await;
    let sent = text_with(b, "confirmation link is on its way").await;
    assert!(sent.contains("confirmation link is on its way"), "{sent}");

    // The confirmation mail, and its link opened in the browser.
    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(mails[0].to, "ada@example.com");
    let confirm = mails[0]
        .link(&format!("{}/subscribe/confirm?", app.base))
        .ok_or("no confirmation link")?;
    b.goto(&confirm).await.map_err(e("confirm link"))?;
    assert!(
        text_with(b, "Confirm to start receiving them")
            .await
            .contains("Confirm to start receiving them")
    );
    click(b, "form button[type=submit]").await;
    let confirmed = text_with(b, "Every mail has a link").await;
    assert!(confirmed.contains("ada@example.com"), "{confirmed}");
    let subs = app
        .get(&app.page_path("/subscribers?q=ada@example.com"))
        .await
        .expect(200)
        .json();
    let sub = subs[0].clone();
    assert_eq!(sub["state"], "active", "{subs}");
    assert_eq!(sub["components"], json!([api]), "{sub}");

    // An incident on what Ada follows reaches her, with a link to manage it.
    app.create_incident(json!({"name": "API errors", "components": {api: "major_outage"}}))
        .await;
    let mails = sink.wait_for(2, WAIT).await;
    let manage = mails[1]
        .link(&format!("{}/subscription?", app.base))
        .ok_or_else(|| format!("no manage link in {}", mails[1].text()))?;
    b.goto(&manage).await.map_err(e("manage link"))?;
    assert!(
        text_with(b, "ada@example.com")
            .await
            .contains("ada@example.com")
    );
    let api_box = checkbox(b, api).await;
    assert_eq!(
        api_box.prop("checked").await.map_err(e("checked"))?,
        Some("true".into())
    );
    api_box.click().await.map_err(e("untick API"))?;
    checkbox(b, web)
        .await
        .click()
        .await
        .map_err(e("tick Dashboard"))?;
    click(b, "form[action$='/subscription'] button[type=submit]").await;
    assert!(text_with(b, "Saved.").await.contains("Saved."));
    let got = app
        .get(&app.page_path(&format!("/subscribers/{}", id(&sub))))
        .await
        .expect(200)
        .json();
    assert_eq!(got["components"], json!([web]), "{got}");
    let shot = b.screenshot().await.map_err(e("screenshot"))?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("manage.png"), &shot);
    assert!(shot.len() > 10 * 1024, "a blank manage page?");

    // Unsubscribe from the same page.
    click(b, "form[action$='/unsubscribe'] button[type=submit]").await;
    let left = text_with(b, "No more status updates will go to").await;
    assert!(left.contains("No more status updates will go to"), "{left}");
    let got = app
        .get(&app.page_path(&format!("/subscribers/{}", id(&sub))))
        .await
        .expect(200)
        .json();
    assert_eq!(got["state"], "unsubscribed", "{got}");
    // And nothing more arrives.
    app.create_incident(
        json!({"name": "Dashboard slow", "components": {web: "degraded_performance"}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sink.to("ada@example.com").len(), 2);
    Ok(())
}
