//! Kept promises: responders are reminded before a promised update is due, through a
//! real SMTP server and a real webhook receiver, on an injected clock (never by
//! sleeping); an update posted in time cancels the reminder; a restart before the
//! reminder still reminds, once. Preview shows what a send would do and sends nothing.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use herald_tests::{TestApp, hooks, smtp};
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// A time the API gave (in the page's zone), as UTC.
fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

async fn template_id(app: &TestApp, name: &str) -> String {
    let all = app
        .get(&app.page_path("/incident_templates"))
        .await
        .expect(200)
        .json();
    all.as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == name))
        .map(id)
        .unwrap_or_else(|| panic!("no template {name} in {all}"))
}

/// The page's responders: one address on `sink`, the receiver's `/oncall`.
async fn responders(app: &TestApp, receiver: &hooks::Receiver) {
    let page = app
        .patch(
            &app.page_path(""),
            json!({"page": {
                "time_zone": "Europe/Berlin",
                "support_url": "https://help.acme.test",
                "responder_emails": ["oncall@acme.test"],
                "responder_webhook_url": receiver.url("/oncall"),
            }}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(page["responder_emails"], json!(["oncall@acme.test"]));
    assert_eq!(page["reminder_lead_minutes"], 5);
}

/// Reminder deliveries in the ledger.
async fn reminders(app: &TestApp) -> Vec<Value> {
    app.deliveries("")
        .await
        .into_iter()
        .filter(|d| d["recipient_kind"] == "responder")
        .collect()
}

/// Due at T with a 5-minute lead: nothing at T-6; an update posted at T-6 moves the
/// promise (so nothing at T-5); the new promise is reminded at its own T-5, once, by
/// mail and by webhook, and the reminder is in the ledger under the incident.
#[tokio::test]
async fn responders_are_reminded_before_a_promise_falls_due_and_a_timely_update_cancels_it() {
    let sink = smtp::Sink::start().await;
    let receiver = hooks::Receiver::start().await;
    let t0 = at("2026-11-23T20:00:00Z");
    let app = TestApp::spawn_hooks_at(t0, Some(&sink)).await;
    responders(&app, &receiver).await;
    let voice = id(&app.create_component("Voice", None).await);
    let investigating = template_id(&app, "Investigating").await;
    let inc = app
        .create_incident(json!({"template_id": investigating,
                                "components": {voice.clone(): "major_outage"},
                                "deliver_notifications": false}))
        .await;
    assert_eq!(time(&inc["next_update_due_at"]), at("2026-11-23T20:30:00Z"));
    let body = inc["incident_updates"][0]["body"]
        .as_str()
        .unwrap_or_default();
    assert!(
        // Escaped for Markdown, as every variable in a body is.
        body.contains(r"reach out to Herald Support via https://help\.acme\.test."),
        "the support contact is a template variable: {body}"
    );

    // T-6: nothing is due yet; the update posted now promises 30 more minutes.
    app.clock.set(at("2026-11-23T20:24:00Z"));
    let updated = app
        .update_incident(
            &id(&inc),
            json!({"status": "identified", "body": "Found it.", "next_update_in_minutes": 30,
                   "deliver_notifications": false}),
        )
        .await;
    assert_eq!(
        time(&updated["next_update_due_at"]),
        at("2026-11-23T20:54:00Z")
    );
    // T-5 of the first promise, and the minutes after it: no reminder (it was kept).
    for minute in 25..=48 {
        app.clock.set(at(&format!("2026-11-23T20:{minute}:00Z")));
        tokio::task::yield_now().await;
    }
    // T-5 of the new promise: one mail, one webhook post.
    app.clock.set(at("2026-11-23T20:49:00Z"));
    let mails = sink.wait_for(1, StdDuration::from_secs(20)).await;
    let posts = receiver
        .wait_for("/oncall", 1, StdDuration::from_secs(20))
        .await;
    app.deliveries_settled().await;
    let mail = &mails[0];
    assert_eq!(sink.to("oncall@acme.test").len(), 1);
    assert!(
        mail.subject().contains("Next update due at 21:54 CET"),
        "{}",
        mail.subject()
    );
    let text = mail.text();
    assert!(text.contains("in 5 minutes"), "{text}");
    assert!(text.contains(&format!("/incidents/{}", id(&inc))), "{text}");
    let post = &posts[0].body;
    assert_eq!(post["herald"]["type"], "incident.reminder_due", "{post}");
    assert_eq!(post["herald"]["due_at"], "2026-11-23T20:54:00Z");
    assert_eq!(post["herald"]["minutes_left"], 5);
    assert!(
        post["text"]
            .as_str()
            .is_some_and(|t| t.contains("promised by 21:54 CET"))
    );
    // In the ledger under the incident, once per channel.
    let ledger = reminders(&app).await;
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert!(ledger.iter().all(|d| d["incident_id"] == id(&inc)));
    assert!(
        ledger.iter().all(|d| d["state"] == "delivered"),
        "{ledger:?}"
    );
    // Past the due time, overdue: still one reminder per promise.
    app.clock.set(at("2026-11-23T21:10:00Z"));
    tokio::task::yield_now().await;
    app.deliveries_settled().await;
    assert_eq!(reminders(&app).await.len(), 2);
    assert_eq!(sink.to("oncall@acme.test").len(), 1);
}

/// A reminder already made but not yet sent when the update comes is cancelled, not
/// sent: the SMTP server refuses for a while, the update is posted, the server accepts.
#[tokio::test]
async fn a_reminder_waiting_to_be_sent_is_cancelled_by_the_update() {
    let sink = smtp::Sink::start().await;
    let receiver = hooks::Receiver::start().await;
    let app = TestApp::spawn_hooks_at(at("2026-11-23T20:00:00Z"), Some(&sink)).await;
    responders(&app, &receiver).await;
    receiver.down("/oncall", 503);
    sink.refuse(Some("451 4.3.0 try again later"));
    let inc = app
        .create_incident(json!({"name": "Calls drop", "body": "Looking.",
                                "next_update_in_minutes": 30, "deliver_notifications": false}))
        .await;
    app.clock.set(at("2026-11-23T20:25:00Z"));
    // The reminder is made and its first attempts fail.
    let deadline = std::time::Instant::now() + StdDuration::from_secs(20);
    loop {
        let r = reminders(&app).await;
        if r.len() == 2 && r.iter().all(|d| d["state"] == "retrying") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{r:?}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    app.update_incident(
        &id(&inc),
        json!({"status": "identified", "body": "Found it.", "deliver_notifications": false}),
    )
    .await;
    sink.refuse(None);
    receiver.up("/oncall");
    app.clock.advance(Duration::minutes(2));
    app.deliveries_settled().await;
    let r = reminders(&app).await;
    assert!(r.iter().all(|d| d["state"] == "cancelled"), "{r:?}");
    assert_eq!(sink.to("oncall@acme.test").len(), 0);
    assert_eq!(receiver.accepted("/oncall").len(), 0);
}

/// Herald stops at T-7 and starts again: the reminder still comes at T-5, once.
#[tokio::test]
async fn a_restart_before_the_reminder_still_reminds_once() {
    let sink = smtp::Sink::start().await;
    let receiver = hooks::Receiver::start().await;
    let app = TestApp::spawn_hooks_at(at("2026-11-23T20:00:00Z"), Some(&sink)).await;
    responders(&app, &receiver).await;
    app.create_incident(json!({"name": "Calls drop", "body": "Looking.",
                               "next_update_in_minutes": 30, "deliver_notifications": false}))
        .await;
    app.clock.set(at("2026-11-23T20:23:00Z"));
    app.stop().await;
    let url = sink.url();
    let again = app
        .sibling_with(move |s| {
            s.smtp_url = Some(url);
            s.webhook_allow = "127.0.0.0/8".into();
        })
        .await;
    assert!(reminders(&again).await.is_empty());
    again.clock.set(at("2026-11-23T20:25:00Z"));
    sink.wait_for(1, StdDuration::from_secs(20)).await;
    receiver
        .wait_for("/oncall", 1, StdDuration::from_secs(20))
        .await;
    again.deliveries_settled().await;
    // A second instance on the same database adds nothing.
    let third = again
        .sibling_with({
            let url = sink.url();
            move |s| {
                s.smtp_url = Some(url);
                s.webhook_allow = "127.0.0.0/8".into();
            }
        })
        .await;
    again.clock.advance(Duration::minutes(1));
    third.deliveries_settled().await;
    assert_eq!(reminders(&third).await.len(), 2);
    assert_eq!(sink.to("oncall@acme.test").len(), 1);
    assert_eq!(receiver.accepted("/oncall").len(), 1);
}

/// The operator's responders stand in for a page that names none.
#[tokio::test]
async fn responders_from_the_environment_are_reminded() {
    let sink = smtp::Sink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_at_with(at("2026-11-23T20:00:00Z"), move |s| {
        s.smtp_url = Some(url);
        s.responder_emails = "ops@acme.test, lead@acme.test".into();
    })
    .await;
    app.create_incident(json!({"name": "Calls drop", "body": "Looking.",
                               "next_update_due_at": "2026-11-23T20:10:00Z",
                               "deliver_notifications": false}))
        .await;
    app.clock.set(at("2026-11-23T20:05:00Z"));
    sink.wait_for(2, StdDuration::from_secs(20)).await;
    assert_eq!(sink.to("ops@acme.test").len(), 1);
    assert_eq!(sink.to("lead@acme.test").len(), 1);
}

/// Bad responder settings are refused with the field named, and change nothing.
#[tokio::test]
async fn responder_settings_are_checked() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (
            json!({"responder_emails": ["not an address"]}),
            "page.responder_emails",
        ),
        (
            json!({"responder_webhook_url": "file:///etc/passwd"}),
            "page.responder_webhook_url",
        ),
        (
            json!({"responder_webhook_url": "http://169.254.169.254/"}),
            "page.responder_webhook_url",
        ),
        (
            json!({"reminder_lead_minutes": 0}),
            "page.reminder_lead_minutes",
        ),
        (
            json!({"support_url": "javascript:alert(1)"}),
            "page.support_url",
        ),
    ] {
        let r = app
            .patch(&app.page_path(""), json!({"page": body}))
            .await
            .expect(422)
            .json();
        assert_eq!(r["error"]["field"], field, "{r}");
    }
    let page = app.get(&app.page_path("")).await.expect(200).json();
    assert_eq!(page["responder_emails"], json!([]));
    assert_eq!(page["responder_webhook_url"], Value::Null);
    assert_eq!(page["support_url"], Value::Null);
    // mailto: support and clearing with an empty string.
    let page = app
        .patch(
            &app.page_path(""),
            json!({"page": {"support_url": "mailto:help@acme.test"}}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(page["support_url"], "mailto:help@acme.test");
    let page = app
        .patch(&app.page_path(""), json!({"page": {"support_url": ""}}))
        .await
        .expect(200)
        .json();
    assert_eq!(page["support_url"], Value::Null);
}

/// Preview renders what a create or an update would say and counts whom it would tell,
/// sending nothing; the real send then reaches exactly those counted.
#[tokio::test]
async fn preview_sends_nothing_and_its_counts_match_the_send() {
    let sink = smtp::Sink::start().await;
    let receiver = hooks::Receiver::start().await;
    let app = TestApp::spawn_hooks_at(at("2026-11-23T20:00:00Z"), Some(&sink)).await;
    let eu = id(&app.create_group("Prod2 (EU)", &[]).await);
    let voice = id(&app.create_component("Voice", Some(&eu)).await);
    let us = id(&app.create_component("Voice US", None).await);
    app.subscribe("all@x.test", &[]).await;
    app.subscribe("voice@x.test", &[&voice]).await;
    app.subscribe("pod@x.test", &[&eu]).await;
    app.subscribe("us@x.test", &[&us]).await;
    app.post(
        &app.page_path("/subscribers"),
        json!({"subscriber": {"endpoint": receiver.url("/hook"), "email": "owner@x.test",
                              "mode": "webhook", "component_ids": [voice.clone()]}}),
    )
    .await
    .expect(201);
    app.post(
        &app.page_path("/tenants"),
        json!({"tenant": {"name": "Globex", "emails": ["ops@globex.test", "cto@globex.test"],
                          "group_ids": [eu.clone()]}}),
    )
    .await
    .expect(201);
    app.post(
        &app.page_path("/tenants"),
        json!({"tenant": {"name": "Initech", "emails": ["ops@initech.test"],
                          "component_ids": [us.clone()]}}),
    )
    .await
    .expect(201);
    let investigating = template_id(&app, "Investigating").await;
    let create = json!({"incident": {"template_id": investigating,
                                      "components": {voice.clone(): "major_outage"}}});
    let p = app
        .post(&app.page_path("/incidents/preview"), create.clone())
        .await
        .expect(200)
        .json();
    assert_eq!(p["notifies"], true, "{p}");
    assert_eq!(p["event"], "incident.created");
    assert_eq!(p["name"], "Degraded service: Voice in Prod2 (EU)");
    assert!(
        p["body"]
            .as_str()
            .is_some_and(|b| b.contains("within the next 30 minutes")),
        "{p}"
    );
    assert_eq!(time(&p["next_update_due_at"]), at("2026-11-23T20:30:00Z"));
    let a = &p["audience"];
    // all, voice, pod and the webhook; Globex's two contacts; not us@ nor Initech.
    assert_eq!(a["subscribers"], 4, "{a}");
    assert_eq!(a["channels"]["email"], 5, "{a}");
    assert_eq!(a["channels"]["webhook"], 1, "{a}");
    assert_eq!(a["total"], 6, "{a}");
    assert_eq!(
        a["tenants"],
        json!([{"id": a["tenants"][0]["id"], "name": "Globex", "contacts": 2}])
    );
    assert_eq!(a["components"][0]["name"], "Voice");
    assert_eq!(a["components"][0]["group"], "Prod2 (EU)");
    assert_eq!(a["components"][0]["subscribers"], 4);
    let s = &p["samples"];
    assert!(
        s["email"]["subject"]
            .as_str()
            .is_some_and(|t| t.contains("Voice")),
        "{s}"
    );
    assert!(
        s["email"]["html"]
            .as_str()
            .is_some_and(|t| t.contains("<html"))
    );
    assert!(
        s["tenant_email"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Globex")),
        "{s}"
    );
    assert_eq!(s["webhook"]["incident"]["name"], p["name"]);
    assert!(s["slack"]["attachments"][0]["blocks"].is_array(), "{s}");
    assert!(s["discord"]["embeds"].is_array(), "{s}");
    assert!(s["teams"].is_object());
    // Nothing was stored or sent.
    let listed = app
        .get(&app.page_path("/incidents"))
        .await
        .expect(200)
        .json();
    assert_eq!(listed, json!([]));
    assert_eq!(sink.count(), 0);
    assert!(receiver.all().is_empty());

    // The send reaches exactly the audience counted.
    let inc = app
        .post(&app.page_path("/incidents"), create)
        .await
        .expect(201)
        .json();
    app.deliveries_settled().await;
    let sent = app.deliveries(&format!("incident_id={}", id(&inc))).await;
    assert_eq!(sent.len(), 6, "{sent:?}");
    assert_eq!(sent.iter().filter(|d| d["channel"] == "email").count(), 5);

    // An update's preview: a resolution tells the same audience, promises nothing.
    let before = sink.count();
    let p = app
        .post(
            &app.page_path(&format!("/incidents/{}/preview", id(&inc))),
            json!({"incident": {"status": "resolved", "body": "Fixed."}}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(p["event"], "incident.resolved", "{p}");
    assert_eq!(p["audience"]["total"], 6);
    assert_eq!(p["next_update_due_at"], Value::Null);
    assert_eq!(p["incident"]["status"], "resolved");
    // Still open, nothing more sent.
    let still = app
        .get(&app.page_path(&format!("/incidents/{}", id(&inc))))
        .await
        .expect(200)
        .json();
    assert_eq!(still["status"], "investigating");
    app.deliveries_settled().await;
    assert_eq!(sink.count(), before);
    // Without notifications: nobody.
    let quiet = app
        .post(
            &app.page_path(&format!("/incidents/{}/preview", id(&inc))),
            json!({"incident": {"body": "Quiet note.", "deliver_notifications": false}}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(quiet["notifies"], false, "{quiet}");
    assert_eq!(quiet["audience"]["total"], 0);
    // Bad input: the same errors as the real thing.
    let bad = app
        .post(
            &app.page_path("/incidents/preview"),
            json!({"incident": {"name": "X", "components": {"nope": "major_outage"}}}),
        )
        .await
        .expect(422)
        .json();
    assert!(
        bad["error"]["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("incident.")),
        "{bad}"
    );
}
