//! Scheduled maintenance as a workflow, on an injected clock (never by sleeping):
//! reminders at each offset, automatic start and end at the window's edges (components
//! under maintenance and back, never over what an open incident holds), a restart in
//! the middle of a window and across its end, reschedule and cancel notices with the
//! calendar's SEQUENCE and STATUS, an overrun told to responders and shown, and two
//! instances on one database moving a window once.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Utc};
use herald_tests::{TestApp, smtp};
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// Polls `check` (real time, for the workers to act on a clock already moved) until it
/// holds, for up to 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + StdDuration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

async fn status(app: &TestApp, incident: &str) -> String {
    app.get(&app.page_path(&format!("/incidents/{incident}")))
        .await
        .expect(200)
        .json()["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn component_status(app: &TestApp, component: &str) -> String {
    app.component(component).await["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A maintenance of the database tonight (Europe/Berlin): 02:00–04:00 CET on Dec 3.
fn window(db: &str) -> Value {
    json!({"name": "Database upgrade", "status": "scheduled",
           "body": "We will upgrade the primary database.",
           "scheduled_for": "2026-12-03T01:00:00Z", "scheduled_until": "2026-12-03T03:00:00Z",
           "scheduled_remind_prior": true, "scheduled_auto_in_progress": true,
           "scheduled_auto_completed": true,
           "auto_transition_deliver_notifications_at_start": true,
           "auto_transition_deliver_notifications_at_end": true,
           "components": {db: "under_maintenance"}})
}

async fn berlin(app: &TestApp) {
    app.patch(
        &app.page_path(""),
        json!({"page": {"time_zone": "Europe/Berlin"}}),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn a_maintenance_is_reminded_started_and_completed_at_its_edges() {
    let sink = smtp::Sink::start().await;
    let app = TestApp::spawn_mailing_at(&sink, at("2026-12-01T12:00:00Z")).await;
    berlin(&app).await;
    let db = id(&app.create_component("Database", None).await);
    let web = id(&app.create_component("Web", None).await);
    app.subscribe("all@x.test", &[]).await;
    app.subscribe("web@x.test", &[&web]).await;
    let m = app.create_incident(window(&db)).await;
    let mid = id(&m);
    assert_eq!(m["auto_transition_deliver_notifications_at_start"], true);
    // The announcement reaches the database's followers only.
    sink.wait_for(1, StdDuration::from_secs(20)).await;
    app.deliveries_settled().await;
    assert_eq!(sink.to("all@x.test").len(), 1);
    assert!(sink.to("web@x.test").is_empty());
    let upcoming = app
        .public("/api/v2/scheduled-maintenances/upcoming.json")
        .await
        .expect(200)
        .json();
    assert_eq!(upcoming["scheduled_maintenances"][0]["id"], mid.as_str());

    // A day ahead, then an hour ahead: one reminder each.
    app.clock.set(at("2026-12-02T01:00:00Z"));
    sink.wait_for(2, StdDuration::from_secs(20)).await;
    // What was sent is recorded before the clock jumps: a jump of hours would outlast a
    // delivery's lease while it is being recorded, and it would be sent again.
    app.deliveries_settled().await;
    app.clock.set(at("2026-12-03T00:00:00Z"));
    sink.wait_for(3, StdDuration::from_secs(20)).await;
    app.deliveries_settled().await;
    let mails = sink.to("all@x.test");
    assert_eq!(mails.len(), 3);
    assert!(
        mails[1]
            .subject()
            .starts_with("[Herald] Reminder: scheduled maintenance"),
        "{}",
        mails[1].subject()
    );
    assert!(
        mails[1]
            .text()
            .contains("Reminder: this maintenance starts in 1 day, on Thu Dec 3 02:00–04:00 CET."),
        "{}",
        mails[1].text()
    );
    assert!(
        mails[2].text().contains("starts in 1 hour"),
        "{}",
        mails[2].text()
    );
    assert_ne!(mails[1].message_id(), mails[2].message_id());
    assert_eq!(component_status(&app, &db).await, "operational");

    // The start: in progress, the database under maintenance, followers told.
    app.clock.set(at("2026-12-03T01:00:00Z"));
    eventually("the maintenance starts", || async {
        status(&app, &mid).await == "in_progress"
    })
    .await;
    assert_eq!(component_status(&app, &db).await, "under_maintenance");
    // The public side follows the scheduler's write shortly after.
    eventually("the page lists it as active", || async {
        app.public("/api/v2/scheduled-maintenances/active.json")
            .await
            .json()["scheduled_maintenances"][0]["id"]
            == mid.as_str()
    })
    .await;
    sink.wait_for(4, StdDuration::from_secs(20)).await;

    // The end: completed, the database back, followers told; nothing more after.
    app.deliveries_settled().await;
    app.clock.set(at("2026-12-03T03:00:00Z"));
    eventually("the maintenance completes", || async {
        status(&app, &mid).await == "completed"
    })
    .await;
    assert_eq!(component_status(&app, &db).await, "operational");
    sink.wait_for(5, StdDuration::from_secs(20)).await;
    app.deliveries_settled().await;
    app.clock.set(at("2026-12-04T00:00:00Z"));
    app.deliveries_settled().await;
    assert_eq!(sink.to("all@x.test").len(), 5);
    let full = app
        .get(&app.page_path(&format!("/incidents/{mid}")))
        .await
        .expect(200)
        .json();
    let statuses: Vec<&str> = full["incident_updates"]
        .as_array()
        .map(|u| u.iter().filter_map(|u| u["status"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(statuses, ["completed", "in_progress", "scheduled"]);
}

/// A component an open incident holds keeps its worse status through the window.
#[tokio::test]
async fn a_maintenance_never_overrides_what_an_open_incident_holds() {
    let app = TestApp::spawn_at(at("2026-12-03T00:00:00Z")).await;
    let db = id(&app.create_component("Database", None).await);
    app.create_incident(
        json!({"name": "Replication lag", "components": {db.clone(): "partial_outage"}}),
    )
    .await;
    let m = id(&app.create_incident(window(&db)).await);
    app.clock.set(at("2026-12-03T01:00:00Z"));
    eventually("the maintenance starts", || async {
        status(&app, &m).await == "in_progress"
    })
    .await;
    assert_eq!(component_status(&app, &db).await, "partial_outage");
    app.clock.set(at("2026-12-03T03:00:00Z"));
    eventually("the maintenance completes", || async {
        status(&app, &m).await == "completed"
    })
    .await;
    assert_eq!(component_status(&app, &db).await, "partial_outage");
}

/// Herald is down across the start (restarted mid-window) and then across the end: each
/// move is made when it is back, once.
#[tokio::test]
async fn a_restart_mid_window_and_across_its_end_moves_it_once() {
    let app = TestApp::spawn_at(at("2026-12-03T00:30:00Z")).await;
    let db = id(&app.create_component("Database", None).await);
    let m = id(&app.create_incident(window(&db)).await);
    app.stop().await;
    // Down while the window opens; back in the middle of it.
    app.clock.set(at("2026-12-03T02:00:00Z"));
    let again = app.sibling().await;
    eventually("the maintenance starts after the restart", || async {
        status(&again, &m).await == "in_progress"
    })
    .await;
    assert_eq!(component_status(&again, &db).await, "under_maintenance");
    again.stop().await;
    // Down across the end.
    again.clock.set(at("2026-12-03T05:00:00Z"));
    let third = again.sibling().await;
    eventually("the maintenance completes after the restart", || async {
        status(&third, &m).await == "completed"
    })
    .await;
    assert_eq!(component_status(&third, &db).await, "operational");
    let full = third
        .get(&third.page_path(&format!("/incidents/{m}")))
        .await
        .expect(200)
        .json();
    assert_eq!(full["incident_updates"].as_array().map(Vec::len), Some(3));
}

/// Down across the whole window: started and completed at once, in order.
#[tokio::test]
async fn a_window_missed_entirely_starts_and_ends_in_order() {
    let app = TestApp::spawn_at(at("2026-12-03T00:30:00Z")).await;
    let db = id(&app.create_component("Database", None).await);
    let m = id(&app.create_incident(window(&db)).await);
    app.stop().await;
    app.clock.set(at("2026-12-03T06:00:00Z"));
    let again = app.sibling().await;
    eventually("the missed window is closed", || async {
        status(&again, &m).await == "completed"
    })
    .await;
    let full = again
        .get(&again.page_path(&format!("/incidents/{m}")))
        .await
        .expect(200)
        .json();
    let statuses: Vec<&str> = full["incident_updates"]
        .as_array()
        .map(|u| u.iter().filter_map(|u| u["status"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(statuses, ["completed", "in_progress", "scheduled"]);
    assert_eq!(component_status(&again, &db).await, "operational");
}

/// Two instances on one database: the window moves once.
#[tokio::test]
async fn two_instances_move_a_window_once() {
    let app = TestApp::spawn_at(at("2026-12-03T00:30:00Z")).await;
    let db = id(&app.create_component("Database", None).await);
    let m = id(&app.create_incident(window(&db)).await);
    let other = app.sibling().await;
    app.clock.set(at("2026-12-03T01:00:00Z"));
    eventually("the maintenance starts", || async {
        status(&app, &m).await == "in_progress"
    })
    .await;
    app.clock.set(at("2026-12-03T03:00:00Z"));
    eventually("the maintenance completes", || async {
        status(&other, &m).await == "completed"
    })
    .await;
    // Both schedulers had their chance.
    app.clock.set(at("2026-12-03T03:00:05Z"));
    app.settle().await;
    let full = app
        .get(&app.page_path(&format!("/incidents/{m}")))
        .await
        .expect(200)
        .json();
    assert_eq!(
        full["incident_updates"].as_array().map(Vec::len),
        Some(3),
        "{full}"
    );
}

/// Rescheduling tells followers the difference and bumps the calendar's SEQUENCE;
/// cancelling tells them and shows it cancelled everywhere.
#[tokio::test]
async fn rescheduling_and_cancelling_notify_and_show() {
    let sink = smtp::Sink::start().await;
    let app = TestApp::spawn_mailing_at(&sink, at("2026-11-28T12:00:00Z")).await;
    berlin(&app).await;
    let db = id(&app.create_component("Database", None).await);
    app.subscribe("all@x.test", &[]).await;
    let mut first = window(&db);
    first["scheduled_for"] = json!("2026-12-01T01:00:00Z");
    first["scheduled_until"] = json!("2026-12-01T03:00:00Z");
    let m = id(&app.create_incident(first).await);
    sink.wait_for(1, StdDuration::from_secs(20)).await;
    let ics = app.public("/maintenance.ics").await.expect(200).text;
    assert!(ics.contains("SEQUENCE:0"), "{ics}");
    assert!(ics.contains("STATUS:CONFIRMED"), "{ics}");

    app.update_incident(
        &m,
        json!({"scheduled_for": "2026-12-03T01:00:00Z", "scheduled_until": "2026-12-03T03:00:00Z"}),
    )
    .await;
    let mails = sink.wait_for(2, StdDuration::from_secs(20)).await;
    let moved = &mails[1];
    assert!(
        moved
            .subject()
            .starts_with("[Herald] Rescheduled maintenance"),
        "{}",
        moved.subject()
    );
    assert!(
        moved.text().contains(
            "Rescheduled: moved from Tue Dec 1 02:00–04:00 CET to Thu Dec 3 02:00–04:00 CET."
        ),
        "{}",
        moved.text()
    );
    let ics = app.public("/maintenance.ics").await.expect(200).text;
    assert!(ics.contains("SEQUENCE:1"), "{ics}");
    assert!(ics.contains("DTSTART:20261203T010000Z"), "{ics}");

    // Cancelled: told, and shown so in the JSON, the calendar and the page.
    let cancelled = app
        .update_incident(
            &m,
            json!({"status": "cancelled", "body": "We no longer need this window."}),
        )
        .await;
    assert_eq!(cancelled["status"], "cancelled");
    sink.wait_for(3, StdDuration::from_secs(20)).await;
    let ics = app.public("/maintenance.ics").await.expect(200).text;
    assert!(ics.contains("STATUS:CANCELLED"), "{ics}");
    assert!(ics.contains("SEQUENCE:2"), "{ics}");
    let upcoming = app
        .public("/api/v2/scheduled-maintenances/upcoming.json")
        .await
        .expect(200)
        .json();
    assert_eq!(upcoming["scheduled_maintenances"], json!([]));
    let all = app
        .public("/api/v2/scheduled-maintenances.json")
        .await
        .expect(200)
        .json();
    assert_eq!(all["scheduled_maintenances"][0]["status"], "cancelled");
    let page = app
        .public(&format!("/incidents/{m}"))
        .await
        .expect(200)
        .text;
    assert!(page.contains("Cancelled"), "{page}");
    // No reminder of a cancelled window, whatever the clock says.
    app.clock.set(at("2026-12-03T00:30:00Z"));
    app.deliveries_settled().await;
    assert_eq!(sink.to("all@x.test").len(), 3);
    assert_eq!(status(&app, &m).await, "cancelled");
}

/// A window that ends while the work goes on (no automatic completion) is flagged once
/// to the responders and shown as taking longer than planned.
#[tokio::test]
async fn an_overrun_is_told_to_responders_and_shown() {
    let sink = smtp::Sink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_at_with(at("2026-12-03T00:30:00Z"), move |s| {
        s.smtp_url = Some(url);
        s.responder_emails = "oncall@acme.test".into();
    })
    .await;
    let db = id(&app.create_component("Database", None).await);
    let mut w = window(&db);
    w["scheduled_auto_completed"] = json!(false);
    w["scheduled_remind_prior"] = json!(false);
    let m = id(&app.create_incident(w).await);
    app.clock.set(at("2026-12-03T01:00:00Z"));
    eventually("the maintenance starts", || async {
        status(&app, &m).await == "in_progress"
    })
    .await;
    app.clock.set(at("2026-12-03T03:00:00Z"));
    let mails = sink.wait_for(1, StdDuration::from_secs(20)).await;
    assert!(
        mails[0]
            .subject()
            .contains("Maintenance running over: Database upgrade"),
        "{}",
        mails[0].subject()
    );
    eventually("the page shows the overrun", || async {
        app.public(&format!("/incidents/{m}"))
            .await
            .text
            .contains("Taking longer than planned")
    })
    .await;
    assert!(
        app.public("/")
            .await
            .text
            .contains("Taking longer than planned")
    );
    app.clock.set(at("2026-12-03T05:00:00Z"));
    app.deliveries_settled().await;
    assert_eq!(sink.to("oncall@acme.test").len(), 1);
    // Completed by hand: the flag goes.
    app.update_incident(&m, json!({"status": "completed", "body": "Done."}))
        .await;
    assert!(
        !app.public(&format!("/incidents/{m}"))
            .await
            .text
            .contains("Taking longer than planned")
    );
}

async fn occurrences(app: &TestApp, series: &str) -> Vec<Value> {
    app.get(&app.page_path(&format!("/maintenance_series/{series}")))
        .await
        .expect(200)
        .json()["occurrences"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn scheduled_for(app: &TestApp, incident: &str) -> DateTime<Utc> {
    let i = app
        .get(&app.page_path(&format!("/incidents/{incident}")))
        .await
        .expect(200)
        .json();
    i["scheduled_for"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("no scheduled_for: {i}"))
}

/// A weekly database window at 02:00 in Berlin stays at 02:00 local across the change
/// to summer time (01:00 UTC, then 00:00 UTC); each occurrence is its own maintenance
/// that starts and ends by itself; editing the series reaches the occurrences not yet
/// started, editing one occurrence only that one, and ending the series cancels those
/// to come.
#[tokio::test]
async fn a_weekly_series_keeps_its_local_time_across_daylight_saving() {
    let app = TestApp::spawn_at(at("2026-03-10T12:00:00Z")).await;
    berlin(&app).await;
    let db = id(&app.create_component("Database", None).await);
    let bad = app
        .post(
            &app.page_path("/maintenance_series"),
            json!({"series": {"name": "X", "rrule": "FREQ=SECONDLY", "starts_at_local": "2026-03-17T02:00", "time_zone": "Europe/Berlin"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(bad["error"]["field"], "series.rrule", "{bad}");
    let s = app
        .post(
            &app.page_path("/maintenance_series"),
            json!({"series": {"name": "Weekly database window", "body": "Routine database maintenance.",
                              "rrule": "FREQ=WEEKLY;BYDAY=TU", "starts_at_local": "2026-03-17T02:00",
                              "time_zone": "Europe/Berlin", "duration_minutes": 60,
                              "components": {db.clone(): "under_maintenance"}}}),
        )
        .await
        .expect(201)
        .json();
    let sid = id(&s);
    assert_eq!(s["next_starts"].as_array().map(Vec::len), Some(5), "{s}");
    // Made ahead: every Tuesday within 35 days.
    eventually("the occurrences are made", || async {
        occurrences(&app, &sid).await.len() == 5
    })
    .await;
    let made = occurrences(&app, &sid).await;
    let ids: Vec<String> = made
        .iter()
        .map(|o| o["incident_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut starts = Vec::new();
    for i in &ids {
        starts.push(scheduled_for(&app, i).await);
    }
    assert_eq!(
        starts,
        [
            at("2026-03-17T01:00:00Z"),
            at("2026-03-24T01:00:00Z"),
            at("2026-03-31T00:00:00Z"),
            at("2026-04-07T00:00:00Z"),
            at("2026-04-14T00:00:00Z"),
        ]
    );
    // One occurrence edited alone.
    app.update_incident(&ids[3], json!({"name": "Database window (extended)"}))
        .await;
    // The clock reaches the first window after the change: earlier ones came and went.
    app.clock.set(at("2026-03-31T00:00:00Z"));
    eventually("the Mar 31 window starts at 00:00 UTC", || async {
        status(&app, &ids[2]).await == "in_progress"
    })
    .await;
    eventually("the windows missed meanwhile are closed", || async {
        status(&app, &ids[0]).await == "completed" && status(&app, &ids[1]).await == "completed"
    })
    .await;
    assert_eq!(component_status(&app, &db).await, "under_maintenance");
    // The series renamed: the occurrences to come follow, not the one running.
    app.patch(
        &app.page_path(&format!("/maintenance_series/{sid}")),
        json!({"series": {"name": "Weekly database upgrade"}}),
    )
    .await
    .expect(200);
    let name = |v: Value| v["name"].as_str().unwrap_or_default().to_owned();
    let get = |i: String| {
        let app = &app;
        async move {
            app.get(&app.page_path(&format!("/incidents/{i}")))
                .await
                .expect(200)
                .json()
        }
    };
    assert_eq!(name(get(ids[2].clone()).await), "Weekly database window");
    assert_eq!(name(get(ids[3].clone()).await), "Weekly database upgrade");
    assert_eq!(name(get(ids[4].clone()).await), "Weekly database upgrade");
    // Ended: those to come are cancelled, the one running goes on.
    let ended = app
        .delete(&app.page_path(&format!("/maintenance_series/{sid}")))
        .await
        .expect(200)
        .json();
    assert!(ended["ended_at"].is_string(), "{ended}");
    assert_eq!(status(&app, &ids[3]).await, "cancelled");
    assert_eq!(status(&app, &ids[4]).await, "cancelled");
    assert_eq!(status(&app, &ids[2]).await, "in_progress");
    // Those made since the clock moved (the horizon moved with it) are cancelled too,
    // and no more are made.
    let at_end = occurrences(&app, &sid).await;
    assert!(at_end.len() > 5, "{at_end:?}");
    for o in &at_end[3..] {
        let i = o["incident_id"].as_str().unwrap_or_default();
        assert_eq!(status(&app, i).await, "cancelled");
    }
    app.clock.set(at("2026-06-01T00:00:00Z"));
    app.settle().await;
    assert_eq!(occurrences(&app, &sid).await.len(), at_end.len());
}

/// A tenant's calendar lists only the maintenance that touches its components; a link
/// Herald did not make finds nothing.
#[tokio::test]
async fn a_tenant_calendar_lists_only_what_touches_the_tenant() {
    let app = TestApp::spawn_at(at("2026-12-01T12:00:00Z")).await;
    let pod = id(&app.create_group("Prod2 (EU)", &[]).await);
    let db = id(&app.create_component("Database", Some(&pod)).await);
    let web = id(&app.create_component("Web", None).await);
    let tenant = app
        .post(
            &app.page_path("/tenants"),
            json!({"tenant": {"name": "Globex", "emails": ["ops@globex.test"], "group_ids": [pod]}}),
        )
        .await
        .expect(201)
        .json();
    let url = tenant["calendar_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(url.contains("/maintenance.ics?tenant="), "{tenant}");
    let theirs = id(&app.create_incident(window(&db)).await);
    let mut other = window(&web);
    other["name"] = json!("Web deploy");
    let others = id(&app.create_incident(other).await);
    let path = url.trim_start_matches(&app.base).to_owned();
    let r = app.public(&path).await.expect(200);
    assert_eq!(
        r.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    assert!(r.text.contains(&format!("UID:{theirs}@")), "{}", r.text);
    assert!(!r.text.contains(&format!("UID:{others}@")), "{}", r.text);
    assert!(r.text.contains("Globex"), "{}", r.text);
    // The page's own calendar has both.
    let all = app.public("/maintenance.ics").await.expect(200).text;
    assert!(all.contains(&format!("UID:{others}@")));
    // A forged or mangled link: nothing.
    let forged = path.replace("tenant=", "tenant=x");
    app.public(&forged).await.expect(404);
    let tid = id(&tenant);
    app.public(&format!("/maintenance.ics?tenant={tid}.AAAA"))
        .await
        .expect(404);
}

/// A maintenance with `publish_at` stays off the page, the calendar and followers'
/// inboxes until then, and is announced at that time, once.
#[tokio::test]
async fn a_maintenance_is_held_back_until_its_publication_time() {
    let sink = smtp::Sink::start().await;
    let app = TestApp::spawn_mailing_at(&sink, at("2026-12-01T09:00:00Z")).await;
    let db = id(&app.create_component("Database", None).await);
    app.subscribe("all@x.test", &[]).await;
    let mut w = window(&db);
    w["publish_at"] = json!("2026-12-01T10:00:00Z");
    let m = app.create_incident(w).await;
    let mid = id(&m);
    assert!(m["publish_at"].is_string(), "{m}");
    app.deliveries_settled().await;
    assert_eq!(sink.count(), 0);
    let upcoming = app
        .public("/api/v2/scheduled-maintenances/upcoming.json")
        .await
        .expect(200)
        .json();
    assert_eq!(upcoming["scheduled_maintenances"], json!([]));
    assert!(!app.public("/maintenance.ics").await.text.contains(&mid));
    app.clock.set(at("2026-12-01T10:00:00Z"));
    let mails = sink.wait_for(1, StdDuration::from_secs(20)).await;
    assert!(
        mails[0].subject().contains("Database upgrade"),
        "{}",
        mails[0].subject()
    );
    eventually("the page shows it", || async {
        app.public("/api/v2/scheduled-maintenances/upcoming.json")
            .await
            .json()["scheduled_maintenances"][0]["id"]
            == mid.as_str()
    })
    .await;
    assert!(app.public("/maintenance.ics").await.text.contains(&mid));
    app.clock.set(at("2026-12-01T11:00:00Z"));
    app.deliveries_settled().await;
    assert_eq!(sink.to("all@x.test").len(), 1);
}
