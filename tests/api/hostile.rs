//! No input breaks the server: each hostile input of the probe gets a clear answer
//! while the server keeps serving, and what is stored cannot corrupt a feed.

use std::time::{Duration, Instant};

use herald::domain::Role;
use herald_tests::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

/// Sends a form body with `token`.
async fn form(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: String,
) -> (u16, Value) {
    let r = app
        .client
        .request(method, app.url(path))
        .header("Authorization", format!("OAuth {token}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn form_bodies_are_bounded_and_named() {
    let app = TestApp::spawn().await;
    let responder = app.token(Role::Responder).await;
    // 5,000 levels (15 KB): a clear 422, and the server keeps serving.
    let deep = format!("component{}=1", "[a]".repeat(5_000));
    let (status, body) = form(
        &app,
        Method::POST,
        &app.page_path("/components"),
        &responder,
        deep,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "form_too_deep");
    assert!(message(&body).contains("32"), "{body}");
    assert!(
        body["error"]["field"]
            .as_str()
            .unwrap_or("")
            .starts_with("component[a]")
    );
    app.public("/healthz").await.expect(200);
    // Within the cap, forms nest as before.
    let ok = format!("component[name]=API&component{}=1", "[a]".repeat(30));
    let (status, body) = form(
        &app,
        Method::POST,
        &app.page_path("/components"),
        &responder,
        ok,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        app.get(&app.page_path("/components"))
            .await
            .text
            .contains("\"API\""),
        "the component was made"
    );
    // Empty keys are not read positionally.
    let (status, body) = form(
        &app,
        Method::POST,
        &app.page_path("/components"),
        &responder,
        "=pos-name&=pos-desc".into(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "empty_form_key");
    assert_eq!(
        app.get(&app.page_path("/components"))
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(1),
        "nothing was made of the nameless fields"
    );
    // JSON nested deeper than serde's limit is refused too, and the server lives on.
    let deep_json = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    let r = app
        .client
        .post(app.url(&app.page_path("/components")))
        .header("Authorization", format!("OAuth {responder}"))
        .header("Content-Type", "application/json")
        .body(deep_json)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 422);
    app.public("/healthz").await.expect(200);
}

#[tokio::test]
async fn errors_name_fields_in_plain_words() {
    let app = TestApp::spawn().await;
    for (path, body, field) in [
        ("/components", json!({"component": "API"}), "component"),
        (
            "/components",
            json!({"component": {"name": ["API"]}}),
            "component.name",
        ),
        (
            "/incidents",
            json!({"incident": {"name": "x", "status": 5}}),
            "incident.status",
        ),
        (
            "/incidents",
            json!({"incident": {"name": "x", "components": []}}),
            "incident.components",
        ),
        (
            "/incidents",
            json!({"incident": {"name": "x", "next_update_in_minutes": -5}}),
            "incident.next_update_in_minutes",
        ),
    ] {
        let r = app
            .post(&app.page_path(path), body.clone())
            .await
            .expect(422)
            .json();
        assert_eq!(r["error"]["field"], field, "{body}: {r}");
        let m = message(&r);
        for leak in [
            "struct ",
            "enum ",
            "Body",
            "IncidentStatus",
            "BTreeMap",
            "u32",
            "i64",
            "Option",
        ] {
            assert!(
                !m.contains(leak),
                "{body}: the message names a Rust type: {m}"
            );
        }
    }
}

/// Reads the counts that a write moves: events, audit entries, the public ETag.
async fn marks(app: &TestApp) -> (usize, usize, String) {
    app.settle().await;
    let events = app.events().await.len();
    let audit = app
        .get(&app.page_path("/audit-log?limit=1000"))
        .await
        .expect(200)
        .json()
        .as_array()
        .map_or(0, Vec::len);
    let etag = app
        .public("/api/v2/summary.json")
        .await
        .header("etag")
        .unwrap_or("")
        .to_owned();
    (events, audit, etag)
}

#[tokio::test]
async fn an_empty_patch_changes_and_records_nothing() {
    let app = TestApp::spawn().await;
    let c = app.create_component("API", None).await;
    let cid = c["id"].as_str().unwrap_or("").to_owned();
    let g = app.create_group("Core", &[&cid]).await;
    let gid = g["id"].as_str().unwrap_or("").to_owned();
    let inc = app
        .create_incident(json!({"name": "Blip", "components": {&cid: "major_outage"}}))
        .await;
    let iid = inc["id"].as_str().unwrap_or("").to_owned();
    let uid = inc["incident_updates"][0]["id"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let before = marks(&app).await;
    let cases: Vec<(String, &str, &str)> = vec![
        (app.page_path(""), "page", "name"),
        (
            app.page_path(&format!("/components/{cid}")),
            "component",
            "name",
        ),
        (
            app.page_path(&format!("/component-groups/{gid}")),
            "component_group",
            "name",
        ),
        (
            app.page_path(&format!("/incidents/{iid}")),
            "incident",
            "name",
        ),
        (
            app.page_path(&format!("/incidents/{iid}/incident_updates/{uid}")),
            "incident_update",
            "body",
        ),
    ];
    for (path, key, shown) in &cases {
        let current = app.get(path).await;
        let current = if current.status == 405 {
            Value::Null
        } else {
            current.json()
        };
        for method in [Method::PATCH, Method::PUT] {
            for body in [
                None,
                Some(json!({})),
                Some(json!({ *key: {} })),
                Some(json!({ *key: {"stauts": "x"} })),
            ] {
                let r = app
                    .send(method.clone(), path, Some(&app.admin), body.clone())
                    .await;
                assert_eq!(r.status, 200, "{method} {path} {body:?}: {}", r.text);
                let got = r.json();
                assert!(
                    got[shown].is_string(),
                    "{method} {path}: answers the object: {got}"
                );
                if !current.is_null() {
                    assert_eq!(got[shown], current[shown], "{path}");
                }
            }
        }
    }
    // A form body that says nothing is the same.
    let (status, _) = form(
        &app,
        Method::PATCH,
        &app.page_path(&format!("/incidents/{iid}")),
        &app.admin,
        String::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        marks(&app).await,
        before,
        "no event, no audit entry, no rebuild"
    );
    // Unknown ids are still 404.
    app.send(
        Method::PATCH,
        &app.page_path("/incidents/nope"),
        Some(&app.admin),
        None,
    )
    .await
    .expect(404);
    app.send(
        Method::PATCH,
        &app.page_path("/components/nope"),
        Some(&app.admin),
        None,
    )
    .await
    .expect(404);
}

#[tokio::test]
async fn names_refuse_control_characters() {
    let app = TestApp::spawn().await;
    let c = app.create_component("API", None).await;
    let cid = c["id"].as_str().unwrap_or("").to_owned();
    for (path, body, field) in [
        (
            "/incidents".to_owned(),
            json!({"incident": {"name": "Down\u{0}now"}}),
            "incident.name",
        ),
        (
            "/incidents".to_owned(),
            json!({"incident": {"name": "Down\u{1b}[31m"}}),
            "incident.name",
        ),
        (
            "/components".to_owned(),
            json!({"component": {"name": "API\u{202e}lmth.exe"}}),
            "component.name",
        ),
        (
            "/components".to_owned(),
            json!({"component": {"name": "A\u{85}PI"}}),
            "component.name",
        ),
    ] {
        let r = app
            .post(&app.page_path(&path), body)
            .await
            .expect(422)
            .json();
        assert_eq!(r["error"]["field"], field, "{r}");
    }
    for (path, body, field) in [
        (
            app.page_path(""),
            json!({"page": {"name": "Acme\r\nBEGIN:VEVENT"}}),
            "page.name",
        ),
        (
            app.page_path(&format!("/components/{cid}")),
            json!({"component": {"name": "A\u{7}"}}),
            "component.name",
        ),
    ] {
        let r = app.patch(&path, body).await.expect(422).json();
        assert_eq!(r["error"]["field"], field, "{r}");
    }
    // `%00` in a form.
    let (status, body) = form(
        &app,
        Method::POST,
        &app.page_path("/incidents"),
        &app.admin,
        "incident[name]=Down%00now".into(),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "incident.name");
}

/// Whatever is stored (by an older version, by hand), the feeds stay valid XML and the
/// calendar stays one event per maintenance, escaped and folded per RFC 5545.
#[tokio::test]
async fn stored_control_characters_cannot_break_the_feeds() {
    let app = TestApp::spawn().await;
    let inc = app.create_incident(json!({"name": "Placeholder"})).await;
    let m = app
        .create_incident(json!({"name": "Window", "scheduled_for": "2099-01-01T00:00:00Z", "scheduled_until": "2099-01-01T02:00:00Z", "body": "Para one.\r\n\r\nLine two; with, commas \\ and a backslash"}))
        .await;
    let bad_name = "Evil\u{1b}[31m\u{7}\u{c}\u{b} name\r\nBEGIN:VEVENT\u{fffe}";
    {
        use herald::store::entity::{incidents, pages};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let db = app.state.store.db();
        for (id, name) in [
            (inc["id"].as_str().unwrap_or(""), bad_name.to_owned()),
            (
                m["id"].as_str().unwrap_or(""),
                format!(
                    "Maint\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:injected;x,y\\z {}",
                    "long ".repeat(40)
                ),
            ),
        ] {
            incidents::Entity::update_many()
                .col_expr(incidents::Column::Name, Expr::value(name))
                .filter(incidents::Column::Id.eq(id))
                .exec(db)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        pages::Entity::update_many()
            .col_expr(
                pages::Column::Name,
                Expr::value("Acme\r\nBEGIN:VEVENT\r\nSUMMARY:page, inc; ltd\u{0b}"),
            )
            .exec(db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    app.rebuild_all().await;
    for feed in ["/history.atom", "/history.rss"] {
        let r = app.public(feed).await.expect(200);
        let bad: Vec<char> = r
            .text
            .chars()
            .filter(|c| {
                (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
                    || matches!(c, '\u{fffe}' | '\u{ffff}')
            })
            .collect();
        assert!(
            bad.is_empty(),
            "{feed} holds characters XML forbids: {bad:?}"
        );
        assert!(
            r.text.contains("Evil[31m name"),
            "{feed}: the name is kept, cleaned"
        );
    }
    let ics = app.public("/maintenance.ics").await.expect(200).text;
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "a line longer than 75 octets: {line:?}");
        assert!(
            !line.contains('\r') && !line.contains('\n'),
            "a bare line break: {line:?}"
        );
        assert!(
            !line.chars().any(|c| c.is_control() && c != '\t'),
            "{line:?}"
        );
    }
    let unfolded = ics.replace("\r\n ", "");
    assert_eq!(
        unfolded.lines().filter(|l| l.starts_with("BEGIN:")).count(),
        2,
        "one calendar, one event: {unfolded}"
    );
    assert_eq!(
        unfolded.matches("\r\nBEGIN:VEVENT\r\n").count(),
        1,
        "{unfolded}"
    );
    assert!(!unfolded.contains("\r\nSUMMARY:injected"), "{unfolded}");
    assert!(
        unfolded.contains("SUMMARY:Maint END:VEVENT BEGIN:VEVENT SUMMARY:injected\\;x\\,y\\\\z"),
        "{unfolded}"
    );
    let description = unfolded
        .split("\r\n")
        .find(|l| l.starts_with("DESCRIPTION:"))
        .unwrap_or_default();
    assert!(
        description.contains("Line two\\; with\\, commas \\\\ and a backslash"),
        "{description}"
    );
    assert!(
        description.contains("Para one.\\n"),
        "paragraphs are kept as \\n: {description}"
    );
    assert!(
        unfolded.contains("NAME:Acme BEGIN:VEVENT SUMMARY:page\\, inc\\; ltd"),
        "{unfolded}"
    );
}

#[tokio::test]
async fn probes_answer_head_and_405_says_what_is_allowed() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let r = app.send(Method::HEAD, path, None, None).await;
        assert_eq!(r.status, 200, "HEAD {path}");
        assert!(r.text.is_empty());
    }
    for (method, path, allow) in [
        (
            Method::DELETE,
            app.page_path("/incidents"),
            "GET, HEAD, POST",
        ),
        (
            Method::POST,
            app.page_path("/incidents/abc"),
            "GET, HEAD, PATCH, PUT, DELETE",
        ),
        (Method::PUT, app.page_path("/audit-log"), "GET, HEAD"),
    ] {
        let r = app
            .send(method.clone(), &path, Some(&app.admin), None)
            .await
            .expect(405);
        let got: std::collections::BTreeSet<&str> =
            r.header("allow").unwrap_or("").split(", ").collect();
        let want: std::collections::BTreeSet<&str> = allow.split(", ").collect();
        assert_eq!(got, want, "{method} {path}");
        assert_eq!(r.json()["error"]["code"], "method_not_allowed");
    }
}

#[tokio::test]
async fn tokens_cannot_lock_admins_out() {
    let app = TestApp::spawn().await;
    let me = app
        .get(&app.page_path("/api-tokens"))
        .await
        .json()
        .as_array()
        .and_then(|a| a.first().cloned())
        .unwrap_or_default();
    let my_id = me["id"].as_str().unwrap_or("").to_owned();
    let r = app
        .delete(&app.page_path(&format!("/api-tokens/{my_id}")))
        .await
        .expect(409)
        .json();
    assert!(message(&r).contains("cannot revoke itself"), "{r}");
    // Another admin may not revoke the last one either, once it is the last.
    let other = app
        .post(
            &app.page_path("/api-tokens"),
            json!({"api_token": {"name": "second admin", "role": "admin"}}),
        )
        .await
        .expect(201)
        .json();
    let other_key = other["key"].as_str().unwrap_or("").to_owned();
    app.send(
        Method::DELETE,
        &app.page_path(&format!("/api-tokens/{my_id}")),
        Some(&other_key),
        None,
    )
    .await
    .expect(200);
    let other_id = other["id"].as_str().unwrap_or("").to_owned();
    let third = app.token(Role::Admin).await;
    app.send(
        Method::DELETE,
        &app.page_path(&format!("/api-tokens/{other_id}")),
        Some(&third),
        None,
    )
    .await
    .expect(200);
    // The third is now the last live admin: a token that revokes it would leave none.
    let r = app
        .send(
            Method::DELETE,
            &app.page_path(&format!("/api-tokens/{my_id}")),
            Some(&third),
            None,
        )
        .await;
    assert_eq!(
        r.status, 200,
        "revoking a revoked token changes nothing: {}",
        r.text
    );
    let list = app
        .send(
            Method::GET,
            &app.page_path("/api-tokens"),
            Some(&third),
            None,
        )
        .await
        .json();
    let third_id = list
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|t| t["revoked_at"].is_null() && t["role"] == "admin")
        })
        .map(|t| t["id"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    let r = app
        .send(
            Method::DELETE,
            &app.page_path(&format!("/api-tokens/{third_id}")),
            Some(&third),
            None,
        )
        .await
        .expect(409)
        .json();
    assert!(message(&r).contains("itself"), "{r}");
    // Through the store, as `herald token revoke` does, the last admin stays.
    {
        let mut w = app
            .state
            .store
            .begin(&herald::store::Actor::system("cli"), app.clock.now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = herald::store::tokens::withdraw(&mut w, &third_id).await;
        assert!(
            matches!(&refused, Err(herald::store::StoreError::Conflict(m)) if m.contains("last active admin")),
            "{:?}",
            refused.map(|t| t.id)
        );
        // Dropped without a commit: rolled back.
    }
    // A new token is a viewer unless a role is given.
    let t = app
        .send(
            Method::POST,
            &app.page_path("/api-tokens"),
            Some(&third),
            Some(json!({"api_token": {"name": "reader"}})),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(t["role"], "viewer");
}

#[tokio::test]
async fn errors_say_how_to_fix_them() {
    let app = TestApp::spawn().await;
    let c = app.create_component("API", None).await;
    let cid = c["id"].as_str().unwrap_or("").to_owned();
    let g = app.create_group("Core", &[&cid]).await;
    let gid = g["id"].as_str().unwrap_or("").to_owned();
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "Upgrade", "status": "scheduled"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "incident.scheduled_for");
    assert!(
        message(&r).contains("a maintenance needs `scheduled_for`"),
        "{r}"
    );
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "Down", "components": {&gid: "major_outage"}}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], format!("incident.components.{gid}"));
    assert!(
        message(&r).contains("is a component group; name its components"),
        "{r}"
    );
    // As the message says: component_group_ids stands for all of a group's components.
    let member = app.create_component("Voice", Some(&gid)).await;
    let member = member["id"].as_str().unwrap_or("").to_owned();
    let inc = app
        .create_incident(json!({"name": "Pod down", "component_group_ids": [&gid]}))
        .await;
    let affected: Vec<&str> = inc["components"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(affected, [cid.as_str(), member.as_str()], "{inc}");
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "Down", "component_group_ids": ["nope"]}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "incident.component_group_ids", "{r}");
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "Down", "started_at": "2026-04-14T13:51:00"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "incident.started_at");
    assert!(
        message(&r).contains("expected ISO 8601 with an offset, e.g. 2026-04-14T13:51:00Z"),
        "{r}"
    );
    // The audit log refuses filters it does not know, naming them.
    let r = app
        .get(&app.page_path("/audit-log?actor=bob"))
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "actor");
    assert_eq!(r["error"]["code"], "unknown_parameter");
    app.get(&app.page_path("/audit-log?limit=5&before=1000"))
        .await
        .expect(200);
    app.get(&format!(
        "{}?api_key={}",
        app.page_path("/audit-log"),
        app.admin
    ))
    .await
    .expect(200);
    // Other endpoints keep taking their own parameters.
    app.get(&app.page_path("/subscribers?q=a&type=email&state=active&limit=5&page=1&sort_field=created_at&sort_direction=desc"))
        .await
        .expect(200);
    app.get(&app.page_path(&format!(
        "/components/{cid}/uptime?start=2026-01-01&end=2026-01-31"
    )))
    .await
    .expect(200);
}

#[tokio::test]
async fn ignored_fields_are_named_in_a_header() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "Typo", "stauts": "identified", "metadata": {"x": 1}, "components": {}}, "extra": true}),
        )
        .await
        .expect(201);
    let fields: std::collections::BTreeSet<&str> = r
        .header("herald-ignored-fields")
        .unwrap_or("")
        .split(',')
        .collect();
    assert_eq!(
        fields,
        ["extra", "incident.stauts"].into(),
        "{:?}",
        r.header("herald-ignored-fields")
    );
    let r = app
        .post(
            &app.page_path("/components"),
            json!({"component": {"name": "Clean"}}),
        )
        .await
        .expect(201);
    assert_eq!(
        r.header("herald-ignored-fields"),
        None,
        "nothing ignored, no header"
    );
}

/// Sends `bytes` and no more; returns what the server said before closing, and when.
async fn half_request(addr: &str, bytes: Vec<u8>) -> (String, Duration) {
    let addr = addr.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let started = Instant::now();
        let mut s = std::net::TcpStream::connect(&addr).unwrap_or_else(|e| panic!("{e}"));
        s.set_read_timeout(Some(Duration::from_secs(6)))
            .unwrap_or_else(|e| panic!("{e}"));
        s.write_all(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let mut got = Vec::new();
        let read = s.read_to_end(&mut got);
        assert!(read.is_ok(), "the connection was left open: {read:?}");
        (
            String::from_utf8_lossy(&got).into_owned(),
            started.elapsed(),
        )
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A client that sends half a request is answered 408 and let go within the timeouts.
#[tokio::test]
async fn slow_clients_are_timed_out() {
    let app = TestApp::spawn_with(|s| {
        s.header_read_timeout = 1;
        s.body_read_timeout = 1;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Headers never finished.
    let (text, took) = half_request(&addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec()).await;
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
    // A body that never arrives.
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nAuthorization: OAuth {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"incident\":",
        app.page_path("/incidents"),
        app.admin
    );
    let (text, took) = half_request(&addr, head.into_bytes()).await;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    app.public("/healthz").await.expect(200);
}

#[tokio::test]
async fn failed_authentication_is_throttled_per_client() {
    let start = chrono::Utc::now();
    let app = TestApp::spawn_at_with(start, |s| s.trusted_proxies = "127.0.0.1".into()).await;
    let path = app.url(&app.page_path("/incidents"));
    let from = |ip: &'static str, key: String| {
        app.client
            .get(&path)
            .header("X-Forwarded-For", ip)
            .header("Authorization", format!("OAuth {key}"))
            .send()
    };
    for i in 0..20 {
        let r = from("203.0.113.7", format!("hrld_wrong{i}"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 401, "failure {i}");
    }
    let r = from("203.0.113.7", "hrld_wrong".into())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 429);
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    // Even a valid key from that client waits: the throttle cannot be used to test keys.
    let r = from("203.0.113.7", app.admin.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 429);
    // Other clients, with valid keys, are not slowed; nor with wrong ones, at first.
    for _ in 0..50 {
        let r = from("198.51.100.1", app.admin.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 200);
    }
    let r = from("198.51.100.2", "hrld_wrong".into())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    // Once the wait is over, the client is heard again.
    app.clock.advance(chrono::Duration::seconds(
        i64::try_from(retry).unwrap_or(60),
    ));
    let r = from("203.0.113.7", app.admin.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
}

/// The OpenAPI document says what the server answers: the status of a success, the
/// errors, the query parameters and the fields a create needs.
#[tokio::test]
async fn the_openapi_document_is_exact() {
    let app = TestApp::spawn().await;
    let doc = app.public("/v1/openapi.json").await.expect(200).json();
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let create = op("/v1/pages/{page_id}/incidents", "post");
    assert!(create["responses"]["201"].is_object(), "{create}");
    assert!(create["responses"]["200"].is_null());
    for code in ["400", "401", "403", "404", "409", "422", "429"] {
        assert!(create["responses"][code].is_object(), "{code}");
    }
    let body = &create["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["required"], json!(["incident"]));
    assert_eq!(body["properties"]["incident"]["required"], json!(["name"]));
    let names = |o: &Value| -> Vec<String> {
        o["parameters"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        names(&op(
            "/v1/pages/{page_id}/components/{component_id}",
            "delete"
        )),
        ["force"]
    );
    let mut uptime = names(&op(
        "/v1/pages/{page_id}/components/{component_id}/uptime",
        "get",
    ));
    uptime.sort();
    assert_eq!(uptime, ["end", "start"]);
    let subscribers = names(&op("/v1/pages/{page_id}/subscribers", "get"));
    for p in [
        "q",
        "type",
        "state",
        "limit",
        "page",
        "sort_field",
        "sort_direction",
    ] {
        assert!(subscribers.iter().any(|n| n == p), "{p} in {subscribers:?}");
    }
    assert!(
        op("/v1/pages/{page_id}/subscribers/reactivate", "post")["responses"]["202"].is_object()
    );
    for path in [
        "/v1/pages/{page_id}/tenants",
        "/v1/pages/{page_id}/deliveries",
        "/v1/pages/{page_id}/incidents/{incident_id}/postmortem",
        "/v1/pages/{page_id}/component-groups/{group_id}/uptime",
    ] {
        assert!(op(path, "get").is_object(), "{path} is documented");
    }
    // A token's creation is never replayed, so it takes no Idempotency-Key.
    assert!(
        !op("/v1/pages/{page_id}/api-tokens", "post")["parameters"]
            .to_string()
            .contains("Idempotency-Key")
    );
}
