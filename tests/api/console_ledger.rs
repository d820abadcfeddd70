//! The console's delivery ledger and audit log, against a real SMTP server that refuses
//! one recipient: who was told what shows per incident with each attempt, a failed
//! delivery is sent again from the console (only when asked with the button's verb),
//! and every change is in the audit log under the person who made it.

use std::time::Duration;

use herald::domain::Role;
use herald_tests::{TestApp, smtp::Sink};
use serde_json::{Value, json};

use crate::console::signed_in;

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// The ledger's entry for `recipient` once it is no longer on its way.
async fn settled_state(app: &TestApp, incident: &str, recipient: &str) -> String {
    for _ in 0..200 {
        let all = app.deliveries(&format!("incident_id={incident}")).await;
        if let Some(d) = all.iter().find(|d| d["recipient"] == recipient) {
            let s = d["state"].as_str().unwrap_or_default().to_owned();
            if !["pending", "sending"].contains(&s.as_str()) {
                return s;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{recipient}'s delivery never settled");
}

#[tokio::test]
async fn an_admin_sees_who_was_told_and_sends_a_failed_delivery_again() {
    let sink = Sink::start().await;
    std::fs::write(sink.dir().join("reject-rcpt"), "bounce@example.com\n")
        .unwrap_or_else(|e| panic!("reject-rcpt: {e}"));
    let app = TestApp::spawn_mailing(&sink).await;
    let api = id(&app.create_component("API", None).await);
    app.subscribe("ana@example.com", &[]).await;
    app.subscribe("bounce@example.com", &[]).await;
    let inc = id(&app
        .create_incident(json!({"name": "Checkout errors", "status": "investigating", "body": "Looking.", "components": {&api: "major_outage"}}))
        .await);
    assert_eq!(
        settled_state(&app, &inc, "ana@example.com").await,
        "delivered"
    );
    assert_eq!(
        settled_state(&app, &inc, "bounce@example.com").await,
        "failed"
    );

    let mut admin = signed_in(&app, "admin@example.com", Role::Admin).await;
    let ledger = format!("/admin/incidents/{inc}/deliveries");
    let page = admin.get(&ledger).await.expect(200);
    assert!(page.text.contains("Checkout errors"), "{}", page.text);
    assert!(page.text.contains("ana@example.com"));
    assert!(page.text.contains("bounce@example.com"));
    assert!(
        page.text.contains("No such user"),
        "the attempt's error is shown"
    );
    assert!(page.text.contains("Investigating"), "the update each told");
    assert!(page.text.contains("Deliver the 1 failed again"));
    // Filtered to what failed.
    let failed = admin
        .get(&format!("{ledger}?state=failed"))
        .await
        .expect(200);
    assert!(failed.text.contains("bounce@example.com"));
    assert!(!failed.text.contains("ana@example.com"));
    // The page-wide list starts at what failed.
    let all = admin.get("/admin/deliveries").await.expect(200);
    assert!(all.text.contains("bounce@example.com"));
    assert!(!all.text.contains("ana@example.com"));
    // A filter the ledger does not know gets a sentence, not an error.
    let bad = admin.get(&format!("{ledger}?channel=pigeon")).await;
    assert_eq!(bad.status.as_u16(), 422);
    assert!(bad.text.contains("pigeon"), "{}", bad.text);

    // The recipient's server takes mail again.
    std::fs::remove_file(sink.dir().join("reject-rcpt"))
        .unwrap_or_else(|e| panic!("reject-rcpt: {e}"));
    let before = sink.count();
    let csrf = admin.csrf(&ledger).await;
    // Without the button's verb nothing is sent.
    let r = admin
        .post(
            &format!("/admin/incidents/{inc}/redeliver"),
            &[("csrf", &csrf), ("action", "preview")],
        )
        .await;
    assert_eq!(r.status.as_u16(), 422);
    assert!(r.text.contains("Nothing was sent"), "{}", r.text);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.count(), before);
    assert_eq!(
        settled_state(&app, &inc, "bounce@example.com").await,
        "failed"
    );
    let r = admin
        .post(
            &format!("/admin/incidents/{inc}/redeliver"),
            &[("csrf", &csrf), ("action", "redeliver")],
        )
        .await
        .expect(303);
    assert_eq!(
        r.header("location"),
        Some(format!("/admin/incidents/{inc}/deliveries?done=1").as_str())
    );
    assert_eq!(
        settled_state(&app, &inc, "bounce@example.com").await,
        "delivered"
    );
    assert_eq!(sink.count(), before + 1);
    let page = admin.get(&format!("{ledger}?done=1")).await.expect(200);
    assert!(page.text.contains("1 delivery is being sent again."));

    // One delivery again, whatever its state.
    let ana = app
        .deliveries(&format!("incident_id={inc}&recipient=ana@example.com"))
        .await;
    let one = ana[0]["id"].as_i64().unwrap_or_default();
    let r = admin
        .post(
            &format!("/admin/deliveries/{one}/redeliver"),
            &[("csrf", &csrf), ("action", "redeliver")],
        )
        .await
        .expect(303);
    assert!(
        r.header("location")
            .is_some_and(|l| l.starts_with(&format!("/admin/incidents/{inc}/deliveries"))),
        "{:?}",
        r.header("location")
    );
    for _ in 0..200 {
        if sink.count() == before + 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sink.count(), before + 2);
    let r = admin
        .post(
            "/admin/deliveries/999999/redeliver",
            &[("csrf", &csrf), ("action", "redeliver")],
        )
        .await;
    assert_eq!(r.status.as_u16(), 404);

    // The audit log has both, under the admin's name, and filters by person.
    let log = admin.get("/admin/audit").await.expect(200);
    assert!(log.text.contains("delivery.redeliver"), "{}", log.text);
    assert!(log.text.contains("admin@example.com"));
    let mine = admin
        .get("/admin/audit?actor=admin%40example.com")
        .await
        .expect(200);
    assert_eq!(mine.text.matches("delivery.redeliver").count(), 2);
    assert!(
        !mine.text.contains("incident.create"),
        "the incident was made by the API token, not this person"
    );
    let about = admin
        .get(&format!("/admin/audit?subject={inc}"))
        .await
        .expect(200);
    assert!(about.text.contains("Checkout errors") || about.text.contains(&inc));
    assert!(!about.text.contains("delivery.redeliver"));

    // The ledger and the log are personal data: a responder is refused both.
    let mut responder = signed_in(&app, "resp@example.com", Role::Responder).await;
    assert_eq!(responder.get(&ledger).await.status.as_u16(), 403);
    assert_eq!(responder.get("/admin/audit").await.status.as_u16(), 403);
    let theirs = responder.csrf("/admin").await;
    let r = responder
        .post(
            &format!("/admin/incidents/{inc}/redeliver"),
            &[("csrf", &theirs), ("action", "redeliver")],
        )
        .await;
    assert_eq!(r.status.as_u16(), 403);
    // Their incident page shows the counts, without the link to the ledger.
    let their = responder
        .get(&format!("/admin/incidents/{inc}"))
        .await
        .expect(200);
    assert!(their.text.contains("delivered"));
    assert!(!their.text.contains("Who was told what"));
}

#[tokio::test]
async fn the_audit_log_pages_back_through_older_entries() {
    let app = TestApp::spawn().await;
    for n in 0..105 {
        app.create_component(&format!("C{n:03}"), None).await;
    }
    let mut admin = signed_in(&app, "admin@example.com", Role::Admin).await;
    let first = admin.get("/admin/audit").await.expect(200);
    assert!(first.text.contains("Older entries"));
    // Handlebars escapes `=` and `&` in attributes; a browser reads them back.
    let html = first.text.replace("&#x3D;", "=").replace("&amp;", "&");
    let older = html
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains("before="))
        .unwrap_or_else(|| panic!("no link to older entries"))
        .to_owned();
    let second = admin.get(&older).await.expect(200);
    assert!(!second.text.contains("Older entries"));
    let rows = |html: &str| html.matches("component.create").count();
    assert_eq!(rows(&first.text) + rows(&second.text), 105);
}
