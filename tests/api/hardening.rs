//! No request can freeze, slow down or brick the status page: each finding of the
//! white-box review, against the real server.

use std::time::{Duration, Instant};

use herald_tests::TestApp;
use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

/// A far-future maintenance is refused with the field named; one already stored (by an
/// older version, or by hand) cannot stop the page from updating or Herald from
/// starting.
#[tokio::test]
async fn a_far_future_date_cannot_brick_the_page() {
    let app = TestApp::spawn().await;
    for (field, body) in [
        (
            "incident.scheduled_for",
            json!({"name": "m", "scheduled_for": "+262142-12-31T23:30:00Z", "scheduled_until": "+262142-12-31T23:45:00Z"}),
        ),
        (
            "incident.started_at",
            json!({"name": "x", "started_at": "0000-01-01T00:00:00Z"}),
        ),
        (
            "incident.started_at",
            json!({"name": "x", "started_at": "2026-04-14T13:51:00"}),
        ),
    ] {
        let r = app
            .post(&app.page_path("/incidents"), json!({ "incident": body }))
            .await
            .expect(422)
            .json();
        assert_eq!(r["error"]["field"], field, "{r}");
    }
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "x", "started_at": "2026-04-14T13:51:00"}}),
        )
        .await
        .json();
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("2026-04-14T13:51:00Z"),
        "the error says how to write a time: {r}"
    );

    // A row stored before the check: the furthest time there is, no end.
    let m = app
        .create_incident(json!({"name": "Old window", "scheduled_for": "2099-01-01T00:00:00Z"}))
        .await;
    {
        use herald::store::entity::incidents;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        incidents::Entity::update_many()
            .col_expr(
                incidents::Column::ScheduledFor,
                Expr::value(chrono::DateTime::<chrono::Utc>::MAX_UTC),
            )
            .col_expr(
                incidents::Column::ScheduledUntil,
                Expr::value(None::<chrono::DateTime<chrono::Utc>>),
            )
            .filter(incidents::Column::Id.eq(m["id"].as_str().unwrap_or("")))
            .exec(app.state.store.db())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let started = Instant::now();
    app.create_incident(json!({"name": "REAL OUTAGE NOW"}))
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let page = app.public("/").await.expect(200).text;
    assert!(
        page.contains("REAL OUTAGE NOW"),
        "a new incident reaches the page"
    );
    app.public("/maintenance.ics").await.expect(200);
    let ready = app.public("/readyz").await.expect(200).json();
    assert_eq!(ready["problems"], json!([]), "{ready}");
    // And a server started on that database serves it.
    let again = app.sibling().await;
    again.public("/").await.expect(200);
    again
        .public("/api/v2/scheduled-maintenances.json")
        .await
        .expect(200);
}

/// Markdown whose cost grows faster than its size is refused at once, and later writes
/// stay fast.
#[tokio::test]
async fn costly_markdown_is_refused_quickly() {
    let app = TestApp::spawn().await;
    let inc = app.create_incident(json!({"name": "Slow search"})).await;
    let path = app.page_path(&format!("/incidents/{}", inc["id"].as_str().unwrap_or("")));
    for body in [
        "> ".repeat(20_000),
        "1. ".repeat(10_000),
        "x".repeat(40_000),
    ] {
        let started = Instant::now();
        let r = app
            .patch(&path, json!({"incident": {"body": body}}))
            .await
            .expect(422)
            .json();
        assert_eq!(r["error"]["field"], "incident.body");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    // The old thematic-break case renders, and fast.
    let started = Instant::now();
    app.patch(&path, json!({"incident": {"body": "- ".repeat(15_000)}}))
        .await
        .expect(200);
    assert!(started.elapsed() < Duration::from_secs(2));
    let started = Instant::now();
    app.patch(&path, json!({"incident": {"body": "Found it."}}))
        .await
        .expect(200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "later writes stay fast"
    );
    // Postmortems have their own, larger, bound and the same nesting limit.
    app.patch(&path, json!({"incident": {"status": "resolved"}}))
        .await
        .expect(200);
    let r = app
        .put(
            &format!("{path}/postmortem"),
            json!({"postmortem": {"body_draft": "> ".repeat(100)}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "postmortem.body_draft");
}

/// Lists in a request are capped; a search is text, not a pattern.
#[tokio::test]
async fn lists_and_searches_have_bounded_cost() {
    let app = TestApp::spawn().await;
    let ids: Vec<String> = (0..110_000).map(|n| format!("c{n}")).collect();
    let started = Instant::now();
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "x", "component_ids": ids}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "incident.components");
    assert!(started.elapsed() < Duration::from_secs(3));
    let members: Vec<String> = vec!["same".to_owned(); 60_000];
    let r = app
        .post(
            &app.page_path("/component-groups"),
            json!({"component_group": {"name": "Pod", "components": members}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "component_group.components");

    app.create_incident(json!({"name": "Calls dropping"})).await;
    app.create_incident(json!({"name": "snake_case_name"}))
        .await;
    let found = app
        .get(&app.page_path("/incidents?q=_"))
        .await
        .expect(200)
        .json();
    let names: Vec<&str> = found
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["snake_case_name"], "_ matches only itself");
    let found = app
        .get(&app.page_path("/incidents?q=%25"))
        .await
        .expect(200)
        .json();
    assert_eq!(
        found.as_array().map(Vec::len),
        Some(0),
        "% matches only itself"
    );
    let r = app
        .get(&app.page_path(&format!("/incidents?q={}", "a".repeat(60_000))))
        .await;
    assert!(matches!(r.status.as_u16(), 414 | 422 | 400), "{}", r.status);
    app.get(&app.page_path(&format!("/incidents?q={}", "a".repeat(201))))
        .await
        .expect(422);
}

/// A token's key is never stored for replays, however the path is spelled.
#[tokio::test]
async fn token_creation_is_never_replayed_however_spelled() {
    let app = TestApp::spawn().await;
    let mut keys = Vec::new();
    for path in ["/api%2Dtokens", "/api-tokens", "/api%2dtokens.json"] {
        let r = app
            .client
            .post(app.url(&app.page_path(path)))
            .header("Authorization", format!("OAuth {}", app.admin))
            .header("Idempotency-Key", "same-key")
            .json(&json!({"api_token": {"name": "bot", "role": "viewer"}}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 201, "{path}");
        assert!(r.headers().get("idempotent-replayed").is_none());
        assert_eq!(
            r.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "a key is never cached"
        );
        let t: Value = r.json().await.unwrap_or_default();
        keys.push(t["key"].as_str().unwrap_or("").to_owned());
    }
    keys.dedup();
    assert_eq!(keys.len(), 3, "three tokens, three keys");
    let stored = app
        .state
        .store
        .db()
        .query_all_raw(sea_orm::Statement::from_string(
            app.state.store.backend(),
            "SELECT response_body FROM idempotency_keys",
        ))
        .await
        .unwrap_or_default();
    for row in stored {
        let body: Option<String> = row.try_get("", "response_body").unwrap_or(None);
        assert!(
            !body.unwrap_or_default().contains("hrld_"),
            "no key is stored"
        );
    }
}

/// Every response carries the security headers, error pages included.
#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn_with(|s| s.hsts_max_age = 31_536_000).await;
    app.seed_demo().await;
    for (path, token) in [
        ("/", None),
        ("/does-not-exist", None),
        ("/incidents/nope", None),
        ("/api/v2/summary.json", None),
        ("/history.atom", None),
        ("/v1/pages/nope/incidents", None),
        ("/v1/openapi.json", None),
        (
            &app.page_path("/incidents") as &str,
            Some(app.admin.as_str()),
        ),
    ] {
        let r = app.send(Method::GET, path, token, None).await;
        for h in [
            "x-content-type-options",
            "x-frame-options",
            "content-security-policy",
            "referrer-policy",
            "strict-transport-security",
        ] {
            assert!(r.header(h).is_some(), "{path} ({}) lacks {h}", r.status);
        }
        let csp = r.header("content-security-policy").unwrap_or("");
        assert!(
            csp.contains("style-src 'self';") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    }
    let plain = TestApp::spawn().await;
    assert!(
        plain
            .public("/")
            .await
            .header("strict-transport-security")
            .is_none(),
        "HSTS is opt-in"
    );
}

/// Work readers cannot see leaves the public page as it was: same version, same
/// times, same ETags.
#[tokio::test]
async fn private_work_moves_nothing_public() {
    let app = TestApp::spawn().await;
    let inc = app.create_incident(json!({"name": "Blip"})).await;
    let id = inc["id"].as_str().unwrap_or("").to_owned();
    app.update_incident(&id, json!({"status": "resolved"}))
        .await;
    app.settle().await;
    let paths = [
        "/live.json",
        "/api/v2/summary.json",
        "/api/v2/incidents.json",
        "/",
        "/history.atom",
    ];
    let mut before = Vec::new();
    for p in paths {
        let r = app.public(p).await;
        before.push((r.header("etag").unwrap_or("").to_owned(), r.text));
    }
    app.post(
        &app.page_path("/api-tokens"),
        json!({"api_token": {"name": "ci", "role": "viewer"}}),
    )
    .await
    .expect(201);
    app.put(
        &app.page_path(&format!("/incidents/{id}/postmortem")),
        json!({"postmortem": {"body_draft": "## Draft, not for readers yet"}}),
    )
    .await
    .expect(200);
    app.settle().await;
    for (p, (etag, text)) in paths.iter().zip(&before) {
        let r = app.public(p).await;
        assert_eq!(r.header("etag").unwrap_or(""), etag, "{p} moved");
        assert_eq!(&r.text, text, "{p} moved");
    }
}

/// An image in an update cannot make readers' browsers call a third party.
#[tokio::test]
async fn a_tracking_pixel_is_never_loaded() {
    let Some(exe) = crate::browser::find_chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium is required in CI"
        );
        eprintln!("skipped: no Chromium");
        return;
    };
    let tracker = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = tracker.local_addr().map(|a| a.port()).unwrap_or(0);
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((_, _)) = tracker.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let app = TestApp::spawn().await;
    let body = format!(
        "We are investigating. ![x](http://127.0.0.1:{port}/p.gif) <img src=\"//127.0.0.1:{port}/q\"> <img src=\"http://127.0.0.1:{port}/r\">"
    );
    let inc = app
        .create_incident(json!({"name": "Pixel", "body": body}))
        .await;
    let url = app.url(&format!("/incidents/{}", inc["id"].as_str().unwrap_or("")));
    let dom = crate::browser::chromium(&exe, &url, &["--dump-dom"]).await;
    assert!(dom.contains("We are investigating."));
    let home = crate::browser::chromium(&exe, &app.url("/"), &["--dump-dom"]).await;
    assert!(home.contains("Pixel"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the tracker was called"
    );
}
