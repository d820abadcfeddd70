//! Behind a reverse proxy under a path (`https://example.com/status/`): every route,
//! link, asset and feed lives under it.

use herald_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn everything_lives_under_the_public_urls_path() {
    let app = TestApp::spawn_with(|s| {
        s.public_url = Some(format!("http://{}/status/", s.bind));
    })
    .await;
    app.seed_demo().await;
    let page = app.public("/status/").await.expect(200).text;
    for link in [
        "href=\"/status/history\"",
        "href=\"/status/static/herald.css?v",
        "src=\"/status/static/herald.js?v",
        "href=\"/status/api/v2/summary.json\"",
        "href=\"/status/incidents/",
        "data-base=\"/status\"",
    ] {
        assert!(page.contains(link), "{link} missing");
    }
    assert!(
        !page.contains("href=\"/history"),
        "no link escapes the prefix"
    );
    for path in [
        "/status",
        "/status/history",
        "/status/api/v2/summary.json",
        "/status/history.atom",
        "/status/maintenance.ics",
        "/status/readyz",
        "/status/live.json",
    ] {
        app.public(path).await.expect(200);
    }
    let css = page
        .split("href=\"")
        .find(|s| s.starts_with("/status/static/herald.css"))
        .and_then(|s| s.split('"').next())
        .unwrap_or("")
        .replace("&#x3D;", "=");
    app.public(&css).await.expect(200);
    let feed = app.public("/status/history.atom").await.text;
    assert!(
        feed.contains("/status/incidents/"),
        "feed links carry the path"
    );
    // The admin API too.
    let list = app
        .get(&format!("/status/v1/pages/{}/incidents", app.page_id))
        .await
        .expect(200)
        .json();
    assert!(list.as_array().is_some_and(|a| !a.is_empty()));
    app.post(
        &format!("/status/v1/pages/{}/components", app.page_id),
        json!({"component": {"name": "Billing"}}),
    )
    .await
    .expect(201);
    // Outside the prefix there is nothing.
    app.public("/").await.expect(404);
    app.public("/api/v2/summary.json").await.expect(404);
    app.public("/statusx").await.expect(404);
}
