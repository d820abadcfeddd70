//! The console's maintenance pages over HTTP, as a browser without JavaScript uses them,
//! on an injected clock: scheduling with a preview whose reminder times are the ones
//! the scheduler then sends at, bad dates refused next to their field, rescheduling,
//! updates, start and complete now, cancelling (only with its verb), a recurring series
//! edited and ended, and a viewer who sees but cannot change.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use herald::domain::Role;
use herald_tests::{TestApp, smtp};
use serde_json::{Value, json};

use crate::console::{Person, signed_in};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// A time the API wrote (in the page's zone).
fn when(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

async fn berlin(app: &TestApp) {
    app.patch(
        &app.page_path(""),
        json!({"page": {"time_zone": "Europe/Berlin"}}),
    )
    .await
    .expect(200);
}

async fn incidents(app: &TestApp) -> Vec<Value> {
    app.get(&app.page_path("/incidents"))
        .await
        .expect(200)
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn incident(app: &TestApp, m: &str) -> Value {
    app.get(&app.page_path(&format!("/incidents/{m}")))
        .await
        .expect(200)
        .json()
}

async fn series_list(app: &TestApp) -> Vec<Value> {
    app.get(&app.page_path("/maintenance_series"))
        .await
        .expect(200)
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A maintenance through the API: 02:00–04:00 CET on Dec 3.
async fn window(app: &TestApp, db: &str) -> String {
    id(&app
        .create_incident(json!({"name": "Database upgrade", "status": "scheduled",
            "body": "We will upgrade the primary database.",
            "scheduled_for": "2026-12-03T01:00:00Z", "scheduled_until": "2026-12-03T03:00:00Z",
            "scheduled_remind_prior": true, "scheduled_auto_in_progress": true,
            "scheduled_auto_completed": true, "components": {db: "under_maintenance"}}))
        .await)
}

/// The schedule form, filled for a window on Dec 3 02:00–04:00 Berlin time.
fn form<'a>(csrf: &'a str, db: &'a str, action: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", "Database upgrade"),
        ("body", "We will upgrade the **primary** database."),
        ("affected[]", db),
        ("starts", "2026-12-03T02:00"),
        ("ends", "2026-12-03T04:00"),
        ("auto_start", "true"),
        ("auto_complete", "true"),
        ("remind", "true"),
        ("reminders", "1440, 60"),
        ("repeat", "none"),
        ("rrule", ""),
        ("deliver_notifications", "true"),
        ("action", action),
    ]
}

/// A form, the field its error is next to, and a word of the sentence.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

fn borrowed<'a>(v: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn with<'a>(
    mut f: Vec<(&'a str, &'a str)>,
    key: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    for pair in &mut f {
        if pair.0 == key {
            pair.1 = value;
        }
    }
    f
}

#[tokio::test]
async fn the_preview_shows_the_reminder_times_the_scheduler_sends_at() {
    let sink = smtp::Sink::start().await;
    let app = TestApp::spawn_mailing_at(&sink, at("2026-12-01T12:00:00Z")).await;
    berlin(&app).await;
    let db = id(&app.create_component("Database", None).await);
    app.subscribe("all@x.test", &[]).await;
    let mut p = signed_in(&app, "ops@example.com", Role::Responder).await;
    let page = p.get("/admin/maintenance/new").await.expect(200);
    assert!(page.text.contains("Europe/Berlin"), "{}", page.text);
    let csrf = crate::console::csrf_in(&page.text);

    let preview = p
        .post("/admin/maintenance/new", &form(&csrf, &db, "preview"))
        .await
        .expect(200);
    let text = &preview.text;
    assert!(
        text.contains("1 subscriber, 0 tenants, 0 webhooks will be told"),
        "{text}"
    );
    assert!(text.contains("<strong>primary</strong>"), "{text}");
    assert!(text.contains("Thu Dec 3 02:00–04:00 CET"), "{text}");
    assert!(
        text.contains(
            "1 day before: <time datetime=\"2026-12-02T01:00:00Z\">Dec 2, 2026 02:00 CET</time>"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "1 hour before: <time datetime=\"2026-12-03T00:00:00Z\">Dec 3, 2026 01:00 CET</time>"
        ),
        "{text}"
    );
    assert!(
        incidents(&app).await.is_empty(),
        "a preview saved something"
    );

    let r = p
        .post("/admin/maintenance/new", &form(&csrf, &db, "schedule"))
        .await
        .expect(303);
    let location = r.header("location").unwrap_or_default().to_owned();
    assert!(location.contains("/admin/maintenance/"), "{location}");
    let mid = location
        .trim_start_matches("/admin/maintenance/")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    let m = incident(&app, &mid).await;
    assert_eq!(when(&m["scheduled_for"]), at("2026-12-03T01:00:00Z"), "{m}");
    assert_eq!(
        when(&m["scheduled_until"]),
        at("2026-12-03T03:00:00Z"),
        "{m}"
    );
    assert_eq!(m["status"], "scheduled");
    let shown = p.get(&location).await.expect(200).text;
    assert!(shown.contains("The maintenance is scheduled."), "{shown}");
    assert!(shown.contains("Dec 2, 2026 02:00 CET"), "{shown}");

    // The announcement, then nothing until the day-ahead reminder's time shown above.
    sink.wait_for(1, StdDuration::from_secs(20)).await;
    app.deliveries_settled().await;
    app.clock.set(at("2026-12-02T00:59:00Z"));
    app.deliveries_settled().await;
    assert_eq!(sink.to("all@x.test").len(), 1);
    app.clock.set(at("2026-12-02T01:00:00Z"));
    sink.wait_for(2, StdDuration::from_secs(20)).await;
    app.deliveries_settled().await;
    let mails = sink.to("all@x.test");
    assert!(
        mails[1].text().contains("starts in 1 day"),
        "{}",
        mails[1].text()
    );
    app.clock.set(at("2026-12-03T00:00:00Z"));
    sink.wait_for(3, StdDuration::from_secs(20)).await;
    app.deliveries_settled().await;
    let mails = sink.to("all@x.test");
    assert!(
        mails[2].text().contains("starts in 1 hour"),
        "{}",
        mails[2].text()
    );
}

#[tokio::test]
async fn bad_dates_and_rules_are_refused_next_to_their_field() {
    let app = TestApp::spawn_at(at("2026-12-01T12:00:00Z")).await;
    berlin(&app).await;
    let db = id(&app.create_component("Database", None).await);
    let mut p = signed_in(&app, "ops@example.com", Role::Responder).await;
    let csrf = p.csrf("/admin/maintenance/new").await;
    let base = form(&csrf, &db, "schedule");
    let cases: Vec<Case> = vec![
        (
            with(base.clone(), "ends", "2026-12-03T01:00"),
            "ends-error",
            "must be after the start",
        ),
        (
            with(base.clone(), "starts", "2206-12-03T02:00"),
            "starts-error",
            "check the year",
        ),
        (
            with(base.clone(), "starts", "tomorrow"),
            "starts-error",
            "is not a date and time",
        ),
        (
            with(base.clone(), "starts", "2027-03-28T02:30"),
            "starts-error",
            "the clocks skip it",
        ),
        (
            with(base.clone(), "rrule", "FREQ=NONSENSE"),
            "rrule-error",
            "rrule",
        ),
        (
            with(base.clone(), "rrule", "FREQ=MINUTELY"),
            "rrule-error",
            "at most hourly",
        ),
        (
            with(base.clone(), "reminders", "a day"),
            "reminders-error",
            "whole minutes",
        ),
        (
            with(base.clone(), "reminders", "0"),
            "reminders-error",
            "between 1 and 43200",
        ),
    ];
    for (f, field, sentence) in cases {
        let r = p.post("/admin/maintenance/new", &f).await.expect(422);
        assert!(
            r.text.contains(&format!("id=\"{field}\"")),
            "{field}: {}",
            r.text
        );
        assert!(r.text.contains(sentence), "{sentence}: {}", r.text);
        assert!(r.text.contains("role=\"alert\""), "{}", r.text);
    }
    // Posted empty: a 422 that says what is missing.
    let r = p
        .post(
            "/admin/maintenance/new",
            &[("csrf", &csrf), ("action", "schedule")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("Say when it starts."), "{}", r.text);
    assert!(incidents(&app).await.is_empty());
    assert!(series_list(&app).await.is_empty());
}

#[tokio::test]
async fn a_maintenance_is_rescheduled_updated_started_and_completed_from_its_page() {
    let app = TestApp::spawn_at(at("2026-12-01T12:00:00Z")).await;
    berlin(&app).await;
    let db = id(&app.create_component("Database", None).await);
    let m = window(&app, &db).await;
    let mut p = signed_in(&app, "ops@example.com", Role::Responder).await;
    let path = format!("/admin/maintenance/{m}");
    let page = p.get(&path).await.expect(200);
    assert!(page.text.contains("Dec 2, 2026 02:00 CET"), "{}", page.text);
    let csrf = crate::console::csrf_in(&page.text);
    // The dashboard lands here.
    let dash = p.get("/admin").await.expect(200).text;
    assert!(dash.contains(&format!("/admin/maintenance/{m}")), "{dash}");

    let moved = [
        ("csrf", csrf.as_str()),
        ("starts", "2026-12-05T02:00"),
        ("ends", "2026-12-05T05:00"),
        ("remind", "true"),
        ("reminders", "1440, 60"),
        ("deliver_notifications", "true"),
        ("action", "preview"),
    ];
    let preview = p
        .post(&format!("{path}/reschedule"), &moved)
        .await
        .expect(200);
    assert!(
        preview.text.contains(
            "Rescheduled: moved from Thu Dec 3 02:00–04:00 CET to Sat Dec 5 02:00–05:00 CET."
        ),
        "{}",
        preview.text
    );
    assert!(
        preview.text.contains("Dec 4, 2026 02:00 CET"),
        "{}",
        preview.text
    );
    assert_eq!(
        when(&incident(&app, &m).await["scheduled_for"]),
        at("2026-12-03T01:00:00Z")
    );
    // An end before the start: refused, nothing moved.
    let mut bad = moved;
    bad[2] = ("ends", "2026-12-05T01:00");
    bad[6] = ("action", "reschedule");
    let r = p
        .post(&format!("{path}/reschedule"), &bad)
        .await
        .expect(422);
    assert!(r.text.contains("must be after the start"), "{}", r.text);
    assert_eq!(
        when(&incident(&app, &m).await["scheduled_for"]),
        at("2026-12-03T01:00:00Z")
    );
    let mut go = moved;
    go[6] = ("action", "reschedule");
    p.post(&format!("{path}/reschedule"), &go).await.expect(303);
    let after = incident(&app, &m).await;
    assert_eq!(when(&after["scheduled_for"]), at("2026-12-05T01:00:00Z"));
    assert_eq!(when(&after["scheduled_until"]), at("2026-12-05T04:00:00Z"));
    let page = p.get(&path).await.expect(200).text;
    assert!(page.contains("Dec 4, 2026 02:00 CET"), "{page}");
    assert!(page.contains("Calendar sequence 1"), "{page}");
    let ics = app.public("/maintenance.ics").await.expect(200).text;
    assert!(ics.contains("SEQUENCE:1"), "{ics}");

    // An update.
    p.post(
        &format!("{path}/update"),
        &[
            ("csrf", &csrf),
            ("status", "scheduled"),
            ("body", "We will also patch the replicas."),
            ("action", "update"),
        ],
    )
    .await
    .expect(303);
    let after = incident(&app, &m).await;
    assert_eq!(
        after["incident_updates"][0]["body"],
        "We will also patch the replicas."
    );

    // Start now needs its verb; then it runs; complete now ends it.
    p.post(
        &format!("{path}/start"),
        &[("csrf", &csrf), ("action", "preview")],
    )
    .await
    .expect(422);
    assert_eq!(incident(&app, &m).await["status"], "scheduled");
    p.post(
        &format!("{path}/start"),
        &[("csrf", &csrf), ("action", "start"), ("body", "Under way.")],
    )
    .await
    .expect(303);
    assert_eq!(incident(&app, &m).await["status"], "in_progress");
    p.post(
        &format!("{path}/complete"),
        &[("csrf", &csrf), ("action", "complete")],
    )
    .await
    .expect(303);
    assert_eq!(incident(&app, &m).await["status"], "completed");
    let list = p.get("/admin/maintenance").await.expect(200).text;
    assert!(list.contains("Completed and cancelled"), "{list}");
    assert!(list.contains(&format!("/admin/maintenance/{m}")), "{list}");
}

#[tokio::test]
async fn cancelling_needs_its_verb_and_shows_cancelled_everywhere() {
    let app = TestApp::spawn_at(at("2026-12-01T12:00:00Z")).await;
    let db = id(&app.create_component("Database", None).await);
    let m = window(&app, &db).await;
    let mut p = signed_in(&app, "ops@example.com", Role::Admin).await;
    let path = format!("/admin/maintenance/{m}");
    let page = p.get(&path).await.expect(200).text;
    assert!(
        page.contains("data-confirm=\"Cancel this maintenance?"),
        "{page}"
    );
    let csrf = crate::console::csrf_in(&page);
    let r = p
        .post(
            &format!("{path}/cancel"),
            &[("csrf", &csrf), ("action", "preview")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    assert_eq!(incident(&app, &m).await["status"], "scheduled");
    p.post(
        &format!("{path}/cancel"),
        &[
            ("csrf", &csrf),
            ("action", "cancel"),
            ("body", "We no longer need this window."),
        ],
    )
    .await
    .expect(303);
    let after = incident(&app, &m).await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(
        after["incident_updates"][0]["body"],
        "We no longer need this window."
    );
    let ics = app.public("/maintenance.ics").await.expect(200).text;
    assert!(ics.contains("STATUS:CANCELLED"), "{ics}");
}

#[tokio::test]
async fn a_series_is_previewed_scheduled_edited_and_ended() {
    let app = TestApp::spawn_at(at("2026-12-01T12:00:00Z")).await;
    berlin(&app).await;
    let db = id(&app.create_component("Database", None).await);
    let mut p = signed_in(&app, "ops@example.com", Role::Responder).await;
    let csrf = p.csrf("/admin/maintenance/new").await;
    // Tuesday Dec 8, weekly.
    let weekly = with(
        with(
            with(form(&csrf, &db, "preview"), "starts", "2026-12-08T02:00"),
            "ends",
            "2026-12-08T04:00",
        ),
        "repeat",
        "weekly",
    );
    let r = p.post("/admin/maintenance/new", &weekly).await.expect(200);
    assert!(r.text.contains("Tue Dec 8 02:00–04:00 CET"), "{}", r.text);
    assert!(r.text.contains("Tue Dec 15 02:00–04:00 CET"), "{}", r.text);
    assert!(r.text.contains("Next occurrences"), "{}", r.text);
    assert!(series_list(&app).await.is_empty());
    let save = with(weekly, "action", "schedule");
    let r = p.post("/admin/maintenance/new", &save).await.expect(303);
    let location = r.header("location").unwrap_or_default().to_owned();
    assert!(
        location.contains("/admin/maintenance/series/"),
        "{location}"
    );
    let all = series_list(&app).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["rrule"], "FREQ=WEEKLY;BYDAY=TU");
    assert_eq!(all[0]["time_zone"], "Europe/Berlin");
    assert_eq!(all[0]["duration_minutes"], 120);
    let sid = id(&all[0]);
    let path = format!("/admin/maintenance/series/{sid}");
    let page = p.get(&path).await.expect(200).text;
    assert!(page.contains("Tue Dec 8 02:00–04:00 CET"), "{page}");

    let edit = |rrule: &str, action: &str| -> Vec<(&'static str, String)> {
        vec![
            ("csrf", csrf.clone()),
            ("name", "Database upgrade".to_owned()),
            ("rrule", rrule.to_owned()),
            ("starts", "2026-12-08T02:00".to_owned()),
            ("duration_minutes", "120".to_owned()),
            ("action", action.to_owned()),
        ]
    };
    let bad = edit("FREQ=SOMETIMES", "save");
    let r = p.post(&path, &borrowed(&bad)).await.expect(422);
    assert!(r.text.contains("id=\"rrule-error\""), "{}", r.text);
    assert_eq!(series_list(&app).await[0]["rrule"], "FREQ=WEEKLY;BYDAY=TU");
    let wed = edit("FREQ=WEEKLY;BYDAY=WE", "preview");
    let r = p.post(&path, &borrowed(&wed)).await.expect(200);
    assert!(r.text.contains("Wed Dec 9 02:00–04:00 CET"), "{}", r.text);
    assert_eq!(series_list(&app).await[0]["rrule"], "FREQ=WEEKLY;BYDAY=TU");
    let wed = edit("FREQ=WEEKLY;BYDAY=WE", "save");
    p.post(&path, &borrowed(&wed)).await.expect(303);
    assert_eq!(series_list(&app).await[0]["rrule"], "FREQ=WEEKLY;BYDAY=WE");

    // Ending needs its verb.
    let r = p
        .post(
            &format!("{path}/end"),
            &[("csrf", &csrf), ("action", "preview")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    assert!(series_list(&app).await[0]["ended_at"].is_null());
    p.post(
        &format!("{path}/end"),
        &[("csrf", &csrf), ("action", "delete")],
    )
    .await
    .expect(303);
    assert!(!series_list(&app).await[0]["ended_at"].is_null());
    let list = p.get("/admin/maintenance").await.expect(200).text;
    assert!(list.contains("Ended"), "{list}");
}

#[tokio::test]
async fn a_viewer_sees_maintenance_but_no_forms_and_cannot_change_it() {
    let app = TestApp::spawn_at(at("2026-12-01T12:00:00Z")).await;
    let db = id(&app.create_component("Database", None).await);
    let m = window(&app, &db).await;
    let mut v = signed_in(&app, "look@example.com", Role::Viewer).await;
    let path = format!("/admin/maintenance/{m}");
    let page = v.get(&path).await.expect(200).text;
    assert!(page.contains("Database upgrade"), "{page}");
    assert!(!page.contains("/reschedule"), "{page}");
    assert!(!page.contains("/cancel"), "{page}");
    let new = v.get("/admin/maintenance/new").await.expect(200).text;
    assert!(!new.contains("value=\"schedule\""), "{new}");
    let list = v.get("/admin/maintenance").await.expect(200).text;
    assert!(list.contains(&format!("/admin/maintenance/{m}")), "{list}");
    let csrf = crate::console::csrf_in(&page);
    v.post(
        &format!("{path}/cancel"),
        &[("csrf", &csrf), ("action", "cancel")],
    )
    .await
    .expect(403);
    v.post(
        &format!("{path}/reschedule"),
        &[
            ("csrf", &csrf),
            ("starts", "2026-12-05T02:00"),
            ("ends", "2026-12-05T04:00"),
            ("action", "reschedule"),
        ],
    )
    .await
    .expect(403);
    let after = incident(&app, &m).await;
    assert_eq!(after["status"], "scheduled");
    assert_eq!(when(&after["scheduled_for"]), at("2026-12-03T01:00:00Z"));
    // Not signed in: sent to sign in.
    Person::new(&app).get(&path).await.expect(303);
}
