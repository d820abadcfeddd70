//! The public page as a browser sees it: headless Chromium renders `/` and the ongoing
//! incident of the demo page, and the rendered DOM must carry what a visitor needs.
//! Screenshots are taken too, so a broken stylesheet or a blank page shows.
//!
//! Chromium is needed: CI installs it and fails without it; a plain `cargo test` on a
//! machine without it skips this check and says so.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use herald_tests::TestApp;
use tokio::process::Command;

const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// `/usr/bin/chromium`, or `chromium` / `chromium-browser` on `PATH`.
pub(crate) fn find_chromium() -> Option<PathBuf> {
    let usual = Path::new("/usr/bin/chromium");
    if usual.is_file() {
        return Some(usual.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on `url` with `extra` arguments and a fresh profile; returns
/// its standard output. Never waits longer than [`CHROMIUM_TIMEOUT`].
pub(crate) async fn chromium(exe: &Path, url: &str, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("profile dir: {e}"));
    let mut cmd = Command::new(exe);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let out = tokio::time::timeout(CHROMIUM_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("chromium took longer than {CHROMIUM_TIMEOUT:?} on {url}"))
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
    assert!(
        out.status.success(),
        "chromium failed on {url} ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn assert_shows(dom: &str, page: &str, wanted: &[&str]) {
    for text in wanted {
        assert!(
            dom.contains(text),
            "{page} as rendered by Chromium does not show {text:?}; DOM:\n{dom}"
        );
    }
    assert!(
        !dom.contains("Something went wrong"),
        "{page} fell back to the error page; DOM:\n{dom}"
    );
}

async fn assert_screenshot(exe: &Path, url: &str, file: &Path, width: u32) {
    chromium(
        exe,
        url,
        &[
            &format!("--window-size={width},2000"),
            &format!("--screenshot={}", file.display()),
        ],
    )
    .await;
    let bytes = std::fs::read(file)
        .unwrap_or_else(|e| panic!("no screenshot of {url} at {}: {e}", file.display()));
    assert!(
        bytes.starts_with(PNG_MAGIC),
        "the screenshot of {url} is not a PNG"
    );
    assert!(
        bytes.len() > 10 * 1024,
        "the screenshot of {url} is only {} bytes: a blank page?",
        bytes.len()
    );
}

#[tokio::test]
async fn the_status_page_renders_in_a_real_browser() {
    let Some(exe) = find_chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "Chromium is required for the browser check in CI: install it \
                 (apt-get install chromium)"
            );
        }
        eprintln!("browser check skipped: install chromium (apt-get install chromium)");
        return;
    };

    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let unresolved = app
        .public("/api/v2/incidents/unresolved.json")
        .await
        .expect(200)
        .json();
    let incident = &unresolved["incidents"][0];
    let id = incident["id"].as_str().unwrap_or_default().to_owned();
    let name = incident["name"].as_str().unwrap_or_default().to_owned();
    assert!(
        !id.is_empty() && !name.is_empty(),
        "the demo has an ongoing incident: {unresolved}"
    );
    let status = app.public("/api/v2/status.json").await.expect(200).json();
    let banner = status["status"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !banner.is_empty(),
        "status.json has a description: {status}"
    );

    let index_url = app.url("/");
    let incident_url = app.url(&format!("/incidents/{id}"));

    let shots = tempfile::tempdir().unwrap_or_else(|e| panic!("screenshot dir: {e}"));
    let (index_png, incident_png, phone_png) = (
        shots.path().join("index.png"),
        shots.path().join("incident.png"),
        shots.path().join("index-phone.png"),
    );
    // Each run has its own profile, so they can run side by side.
    let (index_dom, incident_dom, (), (), ()) = tokio::join!(
        chromium(&exe, &index_url, &["--dump-dom"]),
        chromium(&exe, &incident_url, &["--dump-dom"]),
        assert_screenshot(&exe, &index_url, &index_png, 1280),
        assert_screenshot(&exe, &incident_url, &incident_png, 1280),
        assert_screenshot(&exe, &index_url, &phone_png, 390),
    );

    assert_shows(
        &index_dom,
        "/",
        &[
            "Herald Demo",
            &banner,
            "Active incidents",
            &name,
            "Next update expected",
            "Prod1 (US)",
            "Prod2 (EU)",
            "Public API",
            "uptime",
            "Past incidents",
            "data-updated=",
        ],
    );
    assert_shows(
        &incident_dom,
        &format!("/incidents/{id}"),
        &[
            "Herald Demo",
            &name,
            "Identified",
            "Started",
            "Duration",
            "Next update expected",
            "Affected components",
            "Voice",
            "Updates",
        ],
    );
}
