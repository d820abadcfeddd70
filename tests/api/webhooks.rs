//! Webhooks and chat against a real HTTP receiver on loopback (tests/hooks.rs) that
//! verifies Standard Webhooks signatures: order per endpoint, exactly once after
//! de-duplication by `webhook-id`, retries on the manual clock (never sleeping for the
//! gaps), pausing and resuming, the chat apps' formats, redelivery, refused targets.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_tests::{TestApp, hooks::Receiver, smtp::Sink};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Subscribes `url` in `mode` (owned by `owner`) to `components`; returns the id and the
/// signing secret shown once.
async fn hook(app: &TestApp, url: &str, mode: &str, components: &[&str]) -> (String, String) {
    let s = app
        .post(
            &app.page_path("/subscribers"),
            json!({"subscriber": {"endpoint": url, "mode": mode, "email": "owner@example.com", "component_ids": components}}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(s["mode"], mode);
    assert_eq!(s["state"], "active");
    let secret = s["signing_secret"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("whsec_"), "{s}");
    // Shown once: never again.
    let again = app
        .get(&app.page_path(&format!("/subscribers/{}", id(&s))))
        .await
        .expect(200)
        .json();
    assert!(again.get("signing_secret").is_none(), "{again}");
    (id(&s), secret)
}

/// An incident with three more updates: four events, in this order.
async fn story(app: &TestApp, component: &str) -> String {
    let inc = app
        .create_incident(json!({
            "name": "Elevated API latency",
            "status": "investigating",
            "body": "We are investigating elevated latency on the API.",
            "components": {component: "degraded_performance"}
        }))
        .await;
    for (status, body) in [
        ("identified", "A misbehaving cache node was identified."),
        ("monitoring", "The node was replaced; watching."),
        ("resolved", "Latency is back to normal."),
    ] {
        app.update_incident(&id(&inc), json!({"status": status, "body": body}))
            .await;
    }
    id(&inc)
}

fn seqs(list: &[herald_tests::hooks::Received]) -> Vec<i64> {
    list.iter()
        .map(herald_tests::hooks::Received::seq)
        .collect()
}

fn assert_in_order(path: &str, rx: &Receiver) {
    // Arrival order never goes back: a later event is never tried before an earlier one
    // was accepted.
    let all = seqs(&rx.requests(path));
    assert!(all.windows(2).all(|w| w[0] <= w[1]), "{path}: {all:?}");
    assert!(
        rx.requests(path).iter().all(|r| r.verified),
        "{path}: a signature did not verify"
    );
}

#[tokio::test]
async fn every_event_arrives_signed_in_order_and_once_through_a_flaky_receiver() {
    let rx = Receiver::start().await;
    let app = TestApp::spawn_hooks_at(t0(), None).await;
    let api = id(&app.create_component("API", None).await);
    let (_, sa) = hook(&app, &rx.url("/a"), "webhook", &[]).await;
    let (_, sb) = hook(&app, &rx.url("/b"), "webhook", &[&api]).await;
    rx.secret("/a", &sa);
    rx.secret("/b", &sb);
    rx.fail_next("/a", 503, 3);
    let incident = story(&app, &api).await;

    // The failing endpoint holds up no one else.
    let b = rx.wait_for("/b", 4, WAIT).await;
    let order = seqs(&b);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(
        rx.accepted("/a").is_empty(),
        "the first try of /a was refused"
    );

    // Retries on the clock: 5 s, 30 s, 2 min...
    for _ in 0..30 {
        if rx.accepted("/a").len() == 4 {
            break;
        }
        app.clock.advance(chrono::Duration::minutes(1));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let a = rx.wait_for("/a", 4, WAIT).await;
    assert_eq!(seqs(&a), order, "the same events, in the same order");
    assert_in_order("/a", &rx);
    assert_in_order("/b", &rx);
    let first = rx.requests("/a");
    assert_eq!(first.len(), 7, "three refusals, then four deliveries");
    assert!(
        first[..4].iter().all(|r| r.id == first[0].id),
        "webhook-id is stable across retries"
    );

    // Statuspage's payload, updates newest first, with Herald's key.
    let last = &a[3].body;
    for key in ["meta", "page", "incident", "herald"] {
        assert!(last.get(key).is_some(), "{key} missing: {last}");
    }
    assert!(last["meta"]["unsubscribe"].is_string());
    assert!(last["meta"]["documentation"].is_string());
    assert!(last["page"]["status_indicator"].is_string());
    assert!(last["page"]["status_description"].is_string());
    assert_eq!(last["incident"]["id"], incident.as_str());
    assert_eq!(last["incident"]["status"], "resolved");
    assert_eq!(
        last["incident"]["incident_updates"][0]["status"],
        "resolved"
    );
    assert_eq!(
        last["incident"]["incident_updates"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    assert_eq!(last["herald"]["type"], "incident.resolved");
    // Each event as of itself: the first tells of "investigating" only.
    assert_eq!(a[0].body["incident"]["status"], "investigating");
    assert_eq!(
        a[0].body["incident"]["incident_updates"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(a[0].body["herald"]["type"], "incident.created");

    // The ledger: each attempt with the status and what the receiver said.
    let l = app
        .deliveries(&format!("recipient={}&channel=webhook", rx.url("/a")))
        .await;
    assert_eq!(l.len(), 4);
    let d = l.iter().find(|d| d["attempts"] == 4).unwrap_or(&l[0]);
    assert_eq!(d["attempts"], 4, "{d}");
    assert_eq!(d["attempt_log"][3]["status_code"], 503);
    assert_eq!(d["attempt_log"][3]["response"], "not now");
    assert_eq!(d["attempt_log"][0]["status_code"], 200);

    // Admins replay everything an endpoint was sent since a time: same ids, in order.
    let r = app
        .post(
            &app.page_path("/deliveries/redeliver"),
            json!({"recipient": rx.url("/a"), "since": "2026-11-23T00:00:00Z", "include_delivered": true}),
        )
        .await
        .expect(202)
        .json();
    assert_eq!(r["redelivering"], 4);
    let deadline = tokio::time::Instant::now() + WAIT;
    while rx.requests("/a").len() < 11 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = rx.requests("/a");
    assert_eq!(seqs(&again[7..]), order);
    assert_eq!(again[7].id, a[0].id);
    assert!(again.iter().all(|r| r.verified));
    // A range of events.
    let r = app
        .post(
            &app.page_path("/deliveries/redeliver"),
            json!({"recipient": rx.url("/a"), "from_seq": order[1], "to_seq": order[2], "include_delivered": true}),
        )
        .await
        .expect(202)
        .json();
    assert_eq!(r["redelivering"], 2);
}

#[tokio::test]
async fn chat_apps_get_their_own_format_and_filters_hold() {
    let rx = Receiver::start().await;
    let app = TestApp::spawn_hooks_at(t0(), None).await;
    let api = id(&app.create_component("API", None).await);
    let other = id(&app.create_component("Billing", None).await);
    for mode in ["slack", "discord", "teams"] {
        hook(&app, &rx.url(&format!("/{mode}")), mode, &[]).await;
    }
    hook(&app, &rx.url("/other"), "webhook", &[&other]).await;
    let (gone, _) = hook(&app, &rx.url("/gone"), "webhook", &[]).await;
    rx.down("/gone", 410);
    let inc = app
        .create_incident(json!({
            "name": "Elevated API latency",
            "status": "identified",
            "body": "A cache node is being replaced.",
            "components": {api.clone(): "partial_outage"}
        }))
        .await;
    let link_part = format!("/incidents/{}", id(&inc));

    let slack = rx.wait_for("/slack", 1, WAIT).await[0].body.clone();
    let blocks = &slack["attachments"][0]["blocks"];
    assert!(
        slack["text"]
            .as_str()
            .is_some_and(|t| t.contains("Elevated API latency"))
    );
    assert!(
        slack["attachments"][0]["color"]
            .as_str()
            .is_some_and(|c| c.starts_with('#'))
    );
    let first = blocks[0]["text"]["text"].as_str().unwrap_or_default();
    assert!(
        first.contains(&link_part) && first.contains("|Elevated API latency>"),
        "{slack}"
    );
    assert!(first.contains("A cache node is being replaced."));
    assert!(
        blocks.to_string().contains("API: Partial outage"),
        "{slack}"
    );

    let discord = rx.wait_for("/discord", 1, WAIT).await[0].body.clone();
    let e = &discord["embeds"][0];
    assert_eq!(e["title"], "Elevated API latency");
    assert!(e["url"].as_str().is_some_and(|u| u.contains(&link_part)));
    assert_eq!(e["description"], "A cache node is being replaced.");
    assert!(e["color"].as_u64().is_some());
    assert!(e["fields"].to_string().contains("API: Partial outage"));

    let teams = rx.wait_for("/teams", 1, WAIT).await[0].body.clone();
    assert_eq!(teams["@type"], "MessageCard");
    assert!(teams["themeColor"].as_str().is_some_and(|c| c.len() == 6));
    assert!(
        teams["sections"][0]["activityTitle"]
            .as_str()
            .is_some_and(|t| t.contains(&link_part))
    );
    assert_eq!(
        teams["sections"][0]["text"],
        "A cache node is being replaced."
    );
    assert!(
        teams["sections"][0]["facts"]
            .to_string()
            .contains("API: Partial outage")
    );

    // 410 unsubscribes at once.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = app
            .get(&app.page_path(&format!("/subscribers/{gone}")))
            .await
            .expect(200)
            .json();
        if s["state"] == "unsubscribed" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rx.requests("/gone").len(), 1);
    // Counted in the metrics under their channel.
    let text = app.public("/metrics").await.expect(200).text;
    for line in [
        "herald_deliveries_total{channel=\"slack\",result=\"delivered\"} 1",
        "herald_deliveries_total{channel=\"discord\",result=\"delivered\"} 1",
        "herald_deliveries_total{channel=\"teams\",result=\"delivered\"} 1",
        "herald_deliveries_total{channel=\"webhook\",result=\"failed\"} 1",
        "herald_webhook_endpoints_paused 0",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    // A webhook following another component hears nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx.requests("/other").is_empty());
}

#[tokio::test]
async fn a_receiver_down_for_twenty_minutes_gets_everything_in_order() {
    let rx = Receiver::start().await;
    let app = TestApp::spawn_hooks_at(t0(), None).await;
    let api = id(&app.create_component("API", None).await);
    let (_, secret) = hook(&app, &rx.url("/a"), "webhook", &[]).await;
    rx.secret("/a", &secret);
    rx.down("/a", 503);
    rx.retry_after("/a", "20");
    story(&app, &api).await;
    for _ in 0..20 {
        app.clock.advance(chrono::Duration::minutes(1));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let tried = rx.requests("/a");
    assert!(tried.len() >= 3, "retried while down: {}", tried.len());
    assert!(
        tried.iter().all(|r| r.seq() == tried[0].seq()),
        "only the first event is tried while it fails"
    );
    rx.up("/a");
    for _ in 0..30 {
        if rx.accepted("/a").len() == 4 {
            break;
        }
        app.clock.advance(chrono::Duration::minutes(10));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = rx.wait_for("/a", 4, WAIT).await;
    let s = seqs(&got);
    assert!(s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
    assert_in_order("/a", &rx);
}

#[tokio::test]
async fn an_endpoint_down_for_days_is_paused_its_owner_mailed_and_it_resumes_in_order() {
    let sink = Sink::start().await;
    let rx = Receiver::start().await;
    let app = TestApp::spawn_hooks_at(t0(), Some(&sink)).await;
    let api = id(&app.create_component("API", None).await);
    let (sub, secret) = hook(&app, &rx.url("/down"), "webhook", &[]).await;
    rx.secret("/down", &secret);
    rx.down("/down", 503);
    let inc = app
        .create_incident(json!({"name": "Queue delays", "status": "investigating", "body": "Looking.", "components": {api.clone(): "major_outage"}}))
        .await;
    app.update_incident(
        &id(&inc),
        json!({"status": "identified", "body": "Found it."}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while rx.requests("/down").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never tried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut paused = false;
    for _ in 0..40 {
        app.clock.advance(chrono::Duration::hours(3));
        tokio::time::sleep(Duration::from_millis(250)).await;
        let s = app
            .get(&app.page_path(&format!("/subscribers/{sub}")))
            .await
            .expect(200)
            .json();
        if s["paused_at"].is_string() {
            assert!(s["failing_since"].is_string());
            paused = true;
            break;
        }
    }
    assert!(paused, "the endpoint was not paused");
    let text = app.public("/metrics").await.expect(200).text;
    assert!(text.contains("herald_webhook_endpoints_paused 1"), "{text}");
    // Nothing given up: the deliveries wait.
    let l = app.deliveries("channel=webhook").await;
    assert!(l.iter().all(|d| d["state"] != "dead"), "{l:?}");
    // The owner was told it was failing, then that it was paused.
    let mails = sink.wait_for(2, WAIT).await;
    let subjects: Vec<String> = mails
        .iter()
        .map(herald_tests::smtp::Mail::subject)
        .collect();
    assert!(
        subjects.iter().any(|s| s.contains("failing")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("paused")),
        "{subjects:?}"
    );
    assert!(mails.iter().all(|m| m.to == "owner@example.com"));

    // Paused: nothing is tried, even when due.
    let before = rx.requests("/down").len();
    app.update_incident(&id(&inc), json!({"status": "resolved", "body": "Fixed."}))
        .await;
    app.clock.advance(chrono::Duration::hours(5));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(rx.requests("/down").len(), before);

    // Re-enabled: it resumes where it stopped, in order.
    rx.up("/down");
    let s = app
        .post(
            &app.page_path(&format!("/subscribers/{sub}/reactivate")),
            json!({}),
        )
        .await
        .expect(200)
        .json();
    assert!(s.get("paused_at").is_none(), "{s}");
    let got = rx.wait_for("/down", 3, WAIT).await;
    let order = seqs(&got);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert_eq!(got[2].body["incident"]["status"], "resolved");
    assert_in_order("/down", &rx);
}

#[tokio::test]
async fn refused_targets_are_a_clear_422_and_nothing_is_sent() {
    // No allow-list: loopback is refused like any inside address.
    let app = TestApp::spawn().await;
    for (mode, url) in [
        ("webhook", "http://169.254.169.254/latest/meta-data/"),
        ("webhook", "http://10.0.0.1/"),
        ("webhook", "file:///etc/passwd"),
        ("webhook", "http://localhost:1/"),
        ("webhook", "http://[::1]/"),
        ("slack", "http://127.0.0.1:9/hook"),
        ("teams", "http://100.64.0.1/"),
    ] {
        let r = app
            .post(
                &app.page_path("/subscribers"),
                json!({"subscriber": {"endpoint": url, "mode": mode, "email": "owner@example.com"}}),
            )
            .await
            .expect(422)
            .json();
        assert_eq!(r["error"]["field"], "subscriber.endpoint", "{url}: {r}");
    }
    let r = app
        .post(
            &app.page_path("/tenants"),
            json!({"tenant": {"name": "Acme", "webhooks": ["http://169.254.169.254/"]}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "tenant.webhooks.0", "{r}");
    app.create_incident(json!({"name": "Anything"})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(app.deliveries("channel=webhook").await.is_empty());
    assert!(app.deliveries("channel=slack").await.is_empty());
}

#[tokio::test]
async fn secrets_rotate_with_both_signatures_for_a_day() {
    let rx = Receiver::start().await;
    let app = TestApp::spawn_hooks_at(t0(), None).await;
    let api = id(&app.create_component("API", None).await);
    let (sub, old) = hook(&app, &rx.url("/r"), "webhook", &[]).await;
    let r = app
        .post(
            &app.page_path(&format!("/subscribers/{sub}/rotate_secret")),
            json!({}),
        )
        .await
        .expect(200)
        .json();
    let new = r["signing_secret"].as_str().unwrap_or_default().to_owned();
    assert!(new.starts_with("whsec_") && new != old);
    // A receiver that knows only the new secret, or only the old, accepts.
    rx.secret("/r", &new);
    app.create_incident(
        json!({"name": "Blip", "components": {api.clone(): "degraded_performance"}}),
    )
    .await;
    let got = rx.wait_for("/r", 1, WAIT).await;
    assert!(got[0].verified);
    assert!(herald_tests::hooks::verify(
        &old,
        &got[0].id,
        &got[0].timestamp,
        &got[0].raw,
        &got[0].signature
    ));
    assert_eq!(got[0].signature.split(' ').count(), 2);
    // After the window, only the new one.
    app.clock.advance(chrono::Duration::hours(25));
    app.create_incident(json!({"name": "Blip 2"})).await;
    let got = rx.wait_for("/r", 2, WAIT).await;
    assert_eq!(got[1].signature.split(' ').count(), 1);
    assert!(got[1].verified);
}

#[tokio::test]
async fn a_sigkill_in_the_middle_of_a_fanout_to_a_thousand_endpoints_loses_nothing() {
    use crate::ops::Server;
    use futures_util::StreamExt;
    const N: usize = 1_000;
    let rx = Receiver::start().await;
    rx.slow(Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = match crate::ops::postgres() {
        Some(_) => herald_tests::fresh_postgres().await,
        None => herald_tests::sqlite_in(dir.path()),
    };
    let env = [
        ("HERALD_DATABASE_URL", db.as_str()),
        ("HERALD_WEBHOOK_ALLOW", "127.0.0.0/8"),
        // 16 sent at once, so at most 16 x 4 are sent and not yet recorded at the kill.
        ("HERALD_DELIVERY_CONCURRENCY", "16"),
    ];
    let server = Server::start(dir.path(), &env).await;
    let token = server.admin_token();
    let client = reqwest::Client::new();
    let base = server.url.clone();
    let pages: Value = client
        .get(format!("{base}/v1/pages"))
        .header("Authorization", format!("OAuth {token}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let page = pages[0]["id"].as_str().unwrap_or_default().to_owned();
    let made: Vec<u16> = futures_util::stream::iter(0..N)
        .map(|n| {
            let (client, base, token, page) = (&client, &base, &token, &page);
            let url = rx.url(&format!("/e{n}"));
            async move {
                client
                    .post(format!("{base}/v1/pages/{page}/subscribers"))
                    .header("Authorization", format!("OAuth {token}"))
                    .json(&json!({"subscriber": {"endpoint": url, "email": "owner@example.com"}}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(made.iter().all(|s| *s == 201), "{made:?}");
    client
        .post(format!("{base}/v1/pages/{page}/incidents"))
        .header("Authorization", format!("OAuth {token}"))
        .json(&json!({"incident": {"name": "Fan-out", "body": "Everyone hears of this."}}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Kill it mid-way.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while rx.all().len() < N / 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the fan-out did not start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut server = server;
    server.signal("KILL");
    server.wait(10).await;
    let at_kill = rx.all().len();
    assert!(at_kill < N, "the fan-out ended before the kill ({at_kill})");
    let _again = Server::start(dir.path(), &env).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let got: std::collections::HashSet<String> = rx.all().into_iter().map(|r| r.path).collect();
        if got.len() == N {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {N} endpoints reached",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = rx.all();
    let mut ids: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for r in &all {
        ids.entry(r.path.clone()).or_default().push(r.id.clone());
    }
    let repeats = all.len() - N;
    // Only what was in flight at the kill (sent, not yet recorded: at most the
    // concurrency times four) is sent twice, with its id.
    assert!(repeats <= 64, "{repeats} repeats");
    assert!(
        ids.values().all(|v| v.iter().all(|i| i == &v[0])),
        "a repeat carried another webhook-id"
    );
    eprintln!(
        "fan-out to {N} endpoints: {at_kill} before SIGKILL, {repeats} repeated after restart"
    );
}
