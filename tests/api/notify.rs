//! Subscribers, tenants and email, end to end against a real SMTP server (aiosmtpd):
//! who is told, what the mail says, threading and unsubscribe headers, retries when the
//! server refuses for a while, quarantine after repeated refusals, the ledger.

use std::{collections::BTreeSet, time::Duration};

use chrono::{DateTime, Utc};
use herald_tests::{TestApp, smtp::Sink};
use serde_json::{Value, json};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

const WAIT: Duration = Duration::from_secs(20);

fn recipients(mails: &[herald_tests::smtp::Mail]) -> BTreeSet<String> {
    mails.iter().map(|m| m.to.to_lowercase()).collect()
}

/// Prod2 (EU) with Voice and Knowledge base, Prod1 (US) with Voice, and a Public API.
async fn pods(app: &TestApp) -> (String, String, String, String, String) {
    let eu = id(&app.create_group("Prod2 (EU)", &[]).await);
    let us = id(&app.create_group("Prod1 (US)", &[]).await);
    let voice_eu = id(&app.create_component("Voice", Some(&eu)).await);
    let _kb = id(&app.create_component("Knowledge base", Some(&eu)).await);
    let voice_us = id(&app.create_component("Voice", Some(&us)).await);
    let api = id(&app.create_component("Public API", None).await);
    (eu, us, voice_eu, voice_us, api)
}

#[tokio::test]
async fn an_incident_reaches_exactly_its_subscribers_and_tenants() {
    let sink = Sink::start().await;
    let app = TestApp::spawn_mailing(&sink).await;
    let (eu, us, voice_eu, _voice_us, api) = pods(&app).await;
    app.subscribe("all@example.com", &[]).await;
    app.subscribe("pod2@example.com", &[&eu]).await;
    app.subscribe("voice2@example.com", &[&voice_eu]).await;
    // Follows the affected component and its group: told once, counted once.
    app.subscribe("both@example.com", &[&eu, &voice_eu]).await;
    app.subscribe("us@example.com", &[&us]).await;
    app.subscribe("api@example.com", &[&api]).await;
    for (name, emails, groups) in [
        (
            "Acme",
            vec!["acme-ops@example.com", "acme-cto@example.com"],
            vec![eu.clone()],
        ),
        ("Globex", vec!["globex@example.com"], vec![us.clone()]),
    ] {
        app.post(
            &app.page_path("/tenants"),
            json!({"tenant": {"name": name, "emails": emails, "group_ids": groups}}),
        )
        .await
        .expect(201);
    }

    let preview = app
        .post(
            &app.page_path("/incidents/preview"),
            json!({"incident": {"name": "Calls dropping in Prod2 (EU)",
                                "components": {voice_eu.clone(): "major_outage"}}}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(preview["audience"]["total"], 6, "{preview}");
    let inc = app
        .create_incident(json!({
            "name": "Calls dropping in Prod2 (EU)",
            "body": "We are investigating dropped calls. Please expect additional updates within the next 30 minutes.",
            "components": {voice_eu.clone(): "major_outage"},
            "next_update_in_minutes": 30
        }))
        .await;
    let expected: BTreeSet<String> = [
        "all@example.com",
        "pod2@example.com",
        "voice2@example.com",
        "both@example.com",
        "acme-ops@example.com",
        "acme-cto@example.com",
    ]
    .map(str::to_owned)
    .into();
    let first = sink.wait_for(expected.len(), WAIT).await;
    // Give any stray mail a moment to arrive before checking nobody else got one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first = sink
        .messages()
        .into_iter()
        .take(first.len().max(sink.messages().len()))
        .collect::<Vec<_>>();
    assert_eq!(
        recipients(&first),
        expected,
        "exactly the followers of Prod2 Voice"
    );
    assert_eq!(first.len(), expected.len(), "one mail each");

    for m in &first {
        assert_eq!(m.subject(), "[Herald] Calls dropping in Prod2 (EU)");
        assert!(
            m.text().contains("We are investigating dropped calls."),
            "{}",
            m.text()
        );
        assert!(
            m.html().contains("We are investigating dropped calls."),
            "{}",
            m.html()
        );
        assert!(
            m.text().contains("Voice (Prod2 (EU)): Major Outage"),
            "{}",
            m.text()
        );
        assert!(m.text().contains("Next update expected by"), "{}", m.text());
        assert!(m.message_id().contains(&id(&inc)), "{}", m.message_id());
        assert_eq!(
            m.header("Auto-Submitted").as_deref(),
            Some("auto-generated")
        );
    }
    let acme = sink.to("acme-ops@example.com");
    assert!(
        acme[0]
            .text()
            .contains("Your organisation, Acme, runs on Prod2 (EU), which is affected."),
        "{}",
        acme[0].text()
    );
    assert!(
        acme[0].header("List-Unsubscribe").is_none(),
        "tenant contacts are set by admins"
    );
    let all = sink.to("all@example.com");
    let unsubscribe = all[0].header("List-Unsubscribe").unwrap_or_default();
    assert!(
        unsubscribe.starts_with(&format!("<{}/unsubscribe?s=", app.base)),
        "{unsubscribe}"
    );
    assert_eq!(
        all[0].header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(
        all[0].text().contains("Manage your subscription: "),
        "{}",
        all[0].text()
    );
    assert!(!all[0].text().contains("HERALD0"), "links are filled in");

    // The next update is in the same thread.
    app.update_incident(
        &id(&inc),
        json!({"status": "identified", "body": "A faulty media relay was identified."}),
    )
    .await;
    sink.wait_for(expected.len() * 2, WAIT).await;
    let both = sink.to("voice2@example.com");
    assert_eq!(both.len(), 2);
    let root = both[0].message_id();
    assert_ne!(both[1].message_id(), root, "one Message-ID per update");
    assert!(
        both[1]
            .header("In-Reply-To")
            .unwrap_or_default()
            .contains(&root)
    );
    assert!(
        both[1]
            .header("References")
            .unwrap_or_default()
            .contains(&root)
    );
    assert_eq!(
        both[1].subject(),
        both[0].subject(),
        "one subject per thread"
    );
    assert!(both[1].text().contains("Identified"));

    // One click (RFC 8058) stops the next mail.
    let url = unsubscribe.trim_matches(['<', '>']).to_owned();
    let res = app
        .client
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    app.update_incident(
        &id(&inc),
        json!({"status": "resolved", "body": "Calls are back to normal."}),
    )
    .await;
    sink.wait_for(expected.len() * 3 - 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sink.to("all@example.com").len(),
        2,
        "unsubscribed after the second mail"
    );
    assert_eq!(sink.to("pod2@example.com").len(), 3);

    // The ledger has every delivery; the incident shows its counts.
    let ledger = app.deliveries(&format!("incident_id={}", id(&inc))).await;
    let delivered = ledger.iter().filter(|d| d["state"] == "delivered").count();
    assert_eq!(delivered, expected.len() * 3 - 1, "{ledger:?}");
    assert!(ledger.iter().all(
        |d| d["attempt_log"].as_array().is_some_and(|a| !a.is_empty()) || d["state"] == "cancelled"
    ));
    let got = app
        .get(&app.page_path(&format!("/incidents/{}", id(&inc))))
        .await
        .expect(200)
        .json();
    assert_eq!(
        got["deliveries"]["email"]["delivered"],
        (expected.len() * 3 - 1) as u64,
        "{got}"
    );
}

#[tokio::test]
async fn a_refusing_server_gets_every_mail_once_when_it_comes_back() {
    let sink = Sink::start().await;
    let t0 = DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let app = TestApp::spawn_mailing_at(&sink, t0).await;
    for n in 0..5 {
        app.subscribe(&format!("p{n}@example.com"), &[]).await;
    }
    sink.refuse(Some("451 4.3.0 Try again later"));
    let inc = app.create_incident(json!({"name": "Queue delays"})).await;
    // Every delivery tried and scheduled again.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let l = app.deliveries(&format!("incident_id={}", id(&inc))).await;
        if l.len() == 5 && l.iter().all(|d| d["state"] == "retrying") {
            assert!(
                l[0]["last_error"].as_str().unwrap_or("").contains("451"),
                "{:?}",
                l[0]
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{l:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Still refusing at the next try: the gaps grow.
    app.clock.advance(chrono::Duration::seconds(10));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let l = app.deliveries(&format!("incident_id={}", id(&inc))).await;
        if l.iter()
            .all(|d| d["attempts"] == 2 && d["state"] == "retrying")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{l:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sink.messages().is_empty());
    sink.refuse(None);
    app.clock.advance(chrono::Duration::minutes(10));
    let mails = sink.wait_for(5, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 5, "each once");
    assert_eq!(recipients(&mails).len(), 5);
    let l = app.deliveries(&format!("incident_id={}", id(&inc))).await;
    assert!(
        l.iter()
            .all(|d| d["state"] == "delivered" && d["attempts"] == 3),
        "{l:?}"
    );
    assert_eq!(l[0]["attempt_log"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn repeated_permanent_refusals_quarantine_a_subscriber() {
    let sink = Sink::start().await;
    let app = TestApp::spawn_mailing(&sink).await;
    let bad = app.subscribe("gone@example.com", &[]).await;
    app.subscribe("fine@example.com", &[]).await;
    sink.reject(&["gone@example.com"]);
    for n in 0..3 {
        app.create_incident(json!({"name": format!("Blip {n}")}))
            .await;
        sink.wait_for(n + 1, WAIT).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = app
            .get(&app.page_path(&format!("/subscribers/{}", id(&bad))))
            .await
            .expect(200)
            .json();
        if s["state"] == "quarantined" {
            assert!(s["quarantined_at"].is_string());
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed = app
        .deliveries("recipient=gone@example.com&state=failed")
        .await;
    assert_eq!(failed.len(), 3);
    assert!(
        failed[0]["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("550")
    );
    // Quarantined: no more tries.
    app.create_incident(json!({"name": "Blip 4"})).await;
    sink.wait_for(4, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.deliveries("recipient=gone@example.com").await.len(), 3);
    // An admin can bring it back.
    app.post(
        &app.page_path("/subscribers/reactivate"),
        json!({"subscribers": id(&bad)}),
    )
    .await
    .expect(202);
    let s = app
        .get(&app.page_path(&format!("/subscribers/{}", id(&bad))))
        .await
        .expect(200)
        .json();
    assert_eq!(s["state"], "active");
    // And redeliver what failed.
    sink.reject(&[]);
    app.post(
        &app.page_path("/deliveries/redeliver"),
        json!({"recipient": "gone@example.com"}),
    )
    .await
    .expect(202);
    let deadline = tokio::time::Instant::now() + WAIT;
    while sink.to("gone@example.com").len() < 3 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn people_confirm_by_mail_and_bad_links_get_friendly_pages() {
    let sink = Sink::start().await;
    let app = TestApp::spawn_mailing(&sink).await;
    let s = app
        .post(
            &app.page_path("/subscribers"),
            json!({"subscriber": {"email": "new@example.com"}}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(s["state"], "unconfirmed");
    assert_eq!(s["components"], json!([]));
    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(
        mails[0].subject(),
        "Confirm your subscription to Herald status updates"
    );
    let link = mails[0]
        .link(&format!("{}/subscribe/confirm?", app.base))
        .unwrap_or_default();
    assert!(!link.is_empty(), "{}", mails[0].text());
    // Nothing is sent to someone who has not confirmed.
    app.create_incident(json!({"name": "Before confirmation"}))
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sink.messages().len(), 1);
    let page = app
        .client
        .get(&link)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.status().as_u16(), 200);
    let body = page.text().await.unwrap_or_default();
    assert!(body.contains("Confirm subscription"), "{body}");
    let query = link
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .to_owned();
    let res = app
        .client
        .post(format!("{}/subscribe/confirm", app.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(query.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("You are subscribed")
    );
    let got = app
        .get(&app.page_path(&format!("/subscribers/{}", id(&s))))
        .await
        .expect(200)
        .json();
    assert_eq!(got["state"], "active");
    // The same link again: already done, said kindly.
    let again = app
        .client
        .get(&link)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        again
            .text()
            .await
            .unwrap_or_default()
            .contains("already subscribed")
    );
    // A forged token, an unknown subscriber.
    for bad in [
        format!("{}/subscribe/confirm?s=nosuchsub&e=1&t=abc", app.base),
        format!("{}/subscription?s={}&t=forged", app.base, id(&s)),
        format!("{}/unsubscribe?s={}&t=forged", app.base, id(&s)),
    ] {
        let r = app
            .client
            .get(&bad)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), 400, "{bad}");
        let text = r.text().await.unwrap_or_default();
        assert!(
            text.contains("This link does not work") && text.contains("<html"),
            "{text}"
        );
    }
    // Refused input through the API, naming the field.
    for (body, status, field) in [
        (
            json!({"subscriber": {"email": "not an address"}}),
            422,
            "subscriber.email",
        ),
        (
            json!({"subscriber": {"email": "x@example.com", "component_ids": ["nosuchcomp"]}}),
            422,
            "subscriber.component_ids",
        ),
        (
            json!({"subscriber": {"phone_number": "+15555550100"}}),
            422,
            "subscriber.phone_number",
        ),
        (json!({"subscriber": {}}), 422, "subscriber.email"),
    ] {
        let r = app
            .post(&app.page_path("/subscribers"), body)
            .await
            .expect(status)
            .json();
        assert_eq!(r["error"]["field"], field, "{r}");
    }
    let dup = app
        .post(
            &app.page_path("/subscribers"),
            json!({"subscriber": {"email": "NEW@example.com"}}),
        )
        .await
        .expect(409)
        .json();
    assert!(
        dup["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("already subscribed")
    );
}

#[tokio::test]
async fn counts_histogram_and_bulk_actions_follow_statuspage() {
    let app = TestApp::spawn().await;
    for n in 0..3 {
        app.subscribe(&format!("a{n}@example.com"), &[]).await;
    }
    app.post(
        &app.page_path("/subscribers"),
        json!({"subscriber": {"email": "waiting@example.com"}}),
    )
    .await
    .expect(201);
    app.post(
        &app.page_path("/subscribers"),
        json!({"subscriber": {"endpoint": "https://hooks.example.com/status", "email": "owner@example.com"}}),
    )
    .await
    .expect(201);
    let count = app
        .get(&app.page_path("/subscribers/count"))
        .await
        .expect(200)
        .json();
    assert_eq!(count["email"], 3);
    assert_eq!(count["webhook"], 1);
    let h = app
        .get(&app.page_path("/subscribers/histogram_by_state"))
        .await
        .expect(200)
        .json();
    assert_eq!(h["email"]["active"], 3);
    assert_eq!(h["email"]["unconfirmed"], 1);
    assert_eq!(h["email"]["total"], 4);
    let listed = app
        .get(&app.page_path("/subscribers?type=email&state=all&limit=2&page=1&sort_direction=desc"))
        .await
        .expect(200)
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    let found = app
        .get(&app.page_path("/subscribers?q=A1%40"))
        .await
        .expect(200)
        .json();
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    app.get(&app.page_path("/subscribers?state=gone"))
        .await
        .expect(422);
    app.post(
        &app.page_path("/subscribers/unsubscribe"),
        json!({"subscribers": "all", "type": "email", "state": "active"}),
    )
    .await
    .expect(202);
    let count = app
        .get(&app.page_path("/subscribers/count"))
        .await
        .expect(200)
        .json();
    assert_eq!(count["email"], 0);
    let gone = app
        .get(&app.page_path("/subscribers/unsubscribed"))
        .await
        .expect(200)
        .json();
    assert_eq!(gone.as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn metrics_describe_the_delivery_machinery() {
    let app = TestApp::spawn().await;
    app.subscribe("m@example.com", &[]).await;
    app.create_incident(json!({"name": "Counted"})).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = app.public("/metrics").await.expect(200).text;
        // Delivered, and the outbox row finished (it is marked done just after its last
        // step, which may come after the mail went).
        if text.contains("herald_deliveries_total{channel=\"email\",result=\"delivered\"} 1")
            && text.contains("herald_outbox_depth 0")
        {
            for name in [
                "herald_outbox_depth 0",
                "herald_delivery_oldest_pending_seconds",
                "herald_dead_letters 0",
                "herald_quarantined_subscribers 0",
                "herald_http_requests_total",
                "herald_http_request_duration_seconds_bucket",
                "herald_delivery_workers_heartbeat_timestamp_seconds",
                "herald_process_resident_memory_bytes",
            ] {
                assert!(text.contains(name), "{name} missing:\n{text}");
            }
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // With no SMTP server the mail is a file a newcomer can open.
    let ready = app.public("/readyz").await.expect(200).json();
    assert_eq!(ready["delivery"]["stuck"], false);
}

/// What notifies is chosen per call: `deliver_notifications: false` sends nothing, a
/// postmortem is mailed only with `notify_subscribers`, and a component's status set by
/// hand (outside any incident) reaches the people who follow that component.
#[tokio::test]
async fn each_call_chooses_whether_people_are_told() {
    let sink = Sink::start().await;
    let app = TestApp::spawn_mailing(&sink).await;
    let api = id(&app.create_component("Public API", None).await);
    let web = id(&app.create_component("Dashboard", None).await);
    app.subscribe("all@example.com", &[]).await;
    app.subscribe("api@example.com", &[&api]).await;
    app.subscribe("web@example.com", &[&web]).await;

    // Quietly: no delivery at all.
    let quiet = app
        .create_incident(json!({"name": "Quiet fix", "deliver_notifications": false,
                                "components": {api.clone(): "degraded_performance"}}))
        .await;
    app.update_incident(
        &id(&quiet),
        json!({"status": "resolved", "body": "Done.", "deliver_notifications": false}),
    )
    .await;

    // A status set by hand on the dashboard: its followers and everyone-followers.
    app.patch(
        &app.page_path(&format!("/components/{web}")),
        json!({"component": {"status": "partial_outage"}}),
    )
    .await
    .expect(200);
    let mails = sink.wait_for(2, WAIT).await;
    assert_eq!(
        recipients(&mails),
        BTreeSet::from(["all@example.com".to_owned(), "web@example.com".to_owned()]),
    );
    assert!(
        mails[0].subject().contains("Dashboard"),
        "{}",
        mails[0].subject()
    );
    assert!(
        mails[0].text().contains("Partial Outage"),
        "{}",
        mails[0].text()
    );
    assert!(
        app.deliveries(&format!("incident_id={}", id(&quiet)))
            .await
            .is_empty(),
        "a quiet incident is delivered to nobody"
    );

    // A postmortem: published quietly, then (changed) with notify_subscribers.
    let inc = app
        .create_incident(json!({"name": "API errors", "status": "resolved",
                                "deliver_notifications": false,
                                "components": {api.clone(): "major_outage"}}))
        .await;
    let pm = app.page_path(&format!("/incidents/{}/postmortem", id(&inc)));
    app.put(
        &pm,
        json!({"postmortem": {"body_draft": "## What happened\n\nA bad deploy."}}),
    )
    .await
    .expect(200);
    app.put(
        &format!("{pm}/publish"),
        json!({"postmortem": {"notify_subscribers": false}}),
    )
    .await
    .expect(200);
    app.put(
        &pm,
        json!({"postmortem": {"body_draft": "## What happened\n\nA bad deploy, rolled back."}}),
    )
    .await
    .expect(200);
    app.put(
        &format!("{pm}/publish"),
        json!({"postmortem": {"notify_subscribers": true}}),
    )
    .await
    .expect(200);
    let mails = sink.wait_for(4, WAIT).await;
    let pms: Vec<_> = mails
        .iter()
        .filter(|m| m.subject().contains("API errors"))
        .collect();
    assert_eq!(
        recipients(&pms.iter().map(|m| (*m).clone()).collect::<Vec<_>>()),
        BTreeSet::from(["all@example.com".to_owned(), "api@example.com".to_owned()]),
    );
    assert!(pms[0].text().contains("rolled back"), "{}", pms[0].text());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 4, "nothing else was sent");
}
