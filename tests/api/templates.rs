//! Incident templates: the shipped set on every page, creating incidents and posting
//! updates from a template (text and promise agree), explicit fields winning, hostile
//! templates refused at save time with the reason and position, free variables escaped.

use chrono::{DateTime, Utc};
use herald_tests::TestApp;
use serde_json::{Value, json};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

async fn template(app: &TestApp, name: &str) -> Value {
    let all = app
        .get(&app.page_path("/incident_templates"))
        .await
        .expect(200)
        .json();
    all.as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no template {name} in {all}"))
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

#[tokio::test]
async fn every_page_ships_templates_whose_text_and_promise_agree() {
    let app = TestApp::spawn().await;
    app.patch(
        &app.page_path(""),
        json!({"page": {"time_zone": "Europe/Berlin"}}),
    )
    .await
    .expect(200);
    let all = app
        .get(&app.page_path("/incident_templates"))
        .await
        .expect(200)
        .json();
    let names: Vec<&str> = all
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        names,
        [
            "Investigating",
            "Identified",
            "Monitoring",
            "Resolved",
            "Maintenance scheduled",
            "Maintenance in progress",
            "Maintenance completed"
        ]
    );
    let eu = id(&app.create_group("Prod2 (EU)", &[]).await);
    let voice = id(&app.create_component("Voice", Some(&eu)).await);
    let investigating = template(&app, "Investigating").await;
    assert_eq!(investigating["next_update_minutes"], 30);

    let inc = app
        .create_incident(json!({"template_id": id(&investigating),
                                "components": {voice.clone(): "major_outage"}}))
        .await;
    assert_eq!(inc["name"], "Degraded service: Voice in Prod2 (EU)");
    assert_eq!(inc["status"], "investigating");
    let body = inc["incident_updates"][0]["body"]
        .as_str()
        .unwrap_or_default();
    assert!(
        body.contains("problems affecting Voice in Prod2 \\(EU\\)"),
        "{body}"
    );
    assert!(body.contains("within the next 30 minutes"), "{body}");
    // The promise is data, and the text states exactly it, in the page's zone and UTC.
    let due = time(&inc["next_update_due_at"]);
    let created = time(&inc["created_at"]);
    let minutes = (due - created).num_seconds();
    assert!((1790..=1800).contains(&minutes), "{due} vs {created}");
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap_or(chrono_tz::UTC);
    let local = due.with_timezone(&berlin).format("%H:%M %Z").to_string();
    let utc = due.format("%H:%M UTC").to_string();
    assert!(
        body.contains(&local) && body.contains(&utc),
        "{local} / {utc}: {body}"
    );

    // An update from the Identified template: status, text and a new promise.
    let identified = template(&app, "Identified").await;
    let updated = app
        .update_incident(&id(&inc), json!({"template_id": id(&identified)}))
        .await;
    assert_eq!(updated["status"], "identified");
    assert_eq!(updated["name"], inc["name"], "an update keeps the name");
    let latest = updated["incident_updates"][0]["body"]
        .as_str()
        .unwrap_or_default();
    assert!(
        latest.starts_with("We have identified the cause"),
        "{latest}"
    );
    assert!(time(&updated["next_update_due_at"]) > due);

    // Explicit fields win; the promise given wins too.
    let resolved = template(&app, "Resolved").await;
    let done = app
        .update_incident(
            &id(&inc),
            json!({"template_id": id(&resolved), "body": "Fixed by a rollback."}),
        )
        .await;
    assert_eq!(done["status"], "resolved");
    assert_eq!(done["incident_updates"][0]["body"], "Fixed by a rollback.");

    // An unknown template is a clear error, and nothing was created.
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"template_id": "nope"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "incident.template_id", "{r}");
}

#[tokio::test]
async fn hostile_templates_are_refused_when_saved_and_variables_are_escaped() {
    let app = TestApp::spawn().await;
    for (body, says) in [
        ("{{incident.nmae}}", "incident.nmae"),
        ("Hello\n{{#if components}}\nunclosed", "does not parse"),
        ("{{> secrets}}", "partials"),
        ("{{{component_names}}}", "triple-stash"),
        ("{{env \"HOME\"}}", "env"),
    ] {
        let r = app
            .post(
                &app.page_path("/incident_templates"),
                json!({"template": {"name": "Bad", "title": "T", "body": body}}),
            )
            .await
            .expect(422)
            .json();
        assert_eq!(r["error"]["field"], "template.body", "{body}: {r}");
        let message = r["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {message}");
    }
    let r = app
        .post(
            &app.page_path("/incident_templates"),
            json!({"template": {"name": "Bad", "title": "T", "body": "line\n\n{{oops}}"}}),
        )
        .await
        .expect(422)
        .json();
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("line 3"),
        "{r}"
    );
    let huge = "{{#if page.name}}".repeat(40) + &"{{/if}}".repeat(40);
    app.post(
        &app.page_path("/incident_templates"),
        json!({"template": {"name": "Deep", "title": "T", "body": huge}}),
    )
    .await
    .expect(422);

    // A template with a free variable, in a group, edited, used, deleted.
    let group = app
        .post(
            &app.page_path("/incident_template_groups"),
            json!({"template_group": {"name": "Voice"}}),
        )
        .await
        .expect(201)
        .json();
    let t = app
        .post(
            &app.page_path("/incident_templates"),
            json!({"template": {"name": "Carrier", "title": "Calls via {{vars.carrier}}",
                                "body": "Calls through {{vars.carrier}} fail. Ticket {{vars.ticket}}.",
                                "group_id": id(&group), "update_status": "identified",
                                "next_update_minutes": 15}}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(t["group_id"], id(&group));
    let missing = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"template_id": id(&t), "template_vars": {"carrier": "Twilio"}}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(
        missing["error"]["field"], "incident.template_vars.ticket",
        "{missing}"
    );
    let inc = app
        .create_incident(json!({"template_id": id(&t), "template_vars": {
            "carrier": "Twilio", "ticket": "<img src=x onerror=alert(1)> **#42**"}}))
        .await;
    assert_eq!(inc["name"], "Calls via Twilio");
    assert_eq!(inc["status"], "identified");
    let due = time(&inc["next_update_due_at"]);
    assert!((due - time(&inc["created_at"])).num_minutes() >= 14);
    let html = app.public(&format!("/incidents/{}", id(&inc))).await.text;
    assert!(
        !html.contains("<img src=x"),
        "a variable cannot inject HTML"
    );
    assert!(html.contains("**#42**"), "shown as typed");

    let edited = app
        .patch(
            &app.page_path(&format!("/incident_templates/{}", id(&t))),
            json!({"template": {"next_update_minutes": null, "group_id": null}}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(edited["next_update_minutes"], Value::Null);
    assert_eq!(edited["group_id"], Value::Null);
    app.patch(
        &app.page_path(&format!("/incident_templates/{}", id(&t))),
        json!({"template": {"body": "{{nope}}"}}),
    )
    .await
    .expect(422);
    app.delete(&app.page_path(&format!("/incident_templates/{}", id(&t))))
        .await
        .expect(200);
    app.get(&app.page_path(&format!("/incident_templates/{}", id(&t))))
        .await
        .expect(404);
}

/// The communication report on a real timeline: impact began at 20:04 UTC; updates at
/// 22:01 (monitoring), 22:21, 22:53 (investigating), 23:08 (identified), 23:33
/// (monitoring), each promising the next within 30 minutes, and 00:01 (resolved).
#[tokio::test]
async fn the_communication_report_counts_waits_gaps_and_kept_promises() {
    let at = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    };
    let app = TestApp::spawn_at(at("2026-11-23T22:01:00Z")).await;
    let voice = id(&app.create_component("Voice", None).await);
    let inc = app
        .create_incident(json!({"name": "Calls drop", "status": "monitoring",
                                "body": "A fix is rolling out.",
                                "started_at": "2026-11-23T20:04:00Z",
                                "components": {voice: "major_outage"},
                                "next_update_in_minutes": 30}))
        .await;
    for (time, status) in [
        ("2026-11-23T22:21:00Z", "investigating"),
        ("2026-11-23T22:53:00Z", "investigating"),
        ("2026-11-23T23:08:00Z", "identified"),
        ("2026-11-23T23:33:00Z", "monitoring"),
    ] {
        app.clock.set(at(time));
        app.update_incident(
            &id(&inc),
            json!({"status": status, "body": format!("Still on it ({status})."),
                   "next_update_in_minutes": 30}),
        )
        .await;
    }
    app.clock.set(at("2026-11-24T00:01:00Z"));
    app.update_incident(
        &id(&inc),
        json!({"status": "resolved", "body": "Resolved."}),
    )
    .await;
    let r = app
        .get(&app.page_path("/reports/communication?from=2026-11-23&to=2026-11-24"))
        .await
        .expect(200)
        .json();
    let one = &r["incidents"][0];
    assert_eq!(one["first_update_minutes"], 117, "{r}");
    assert_eq!(one["gaps_minutes"], json!([20, 32, 15, 25, 28]), "{r}");
    assert_eq!(one["worst_gap_minutes"], 32);
    assert_eq!(one["promises_kept"], 4);
    assert_eq!(one["promises_missed"], 1);
    assert_eq!(r["total"]["incidents"], 1);
    assert_eq!(r["total"]["median_first_update_minutes"], 117);
    assert_eq!(r["total"]["worst_gap_minutes"], 32);
    assert_eq!(r["total"]["promises_kept_share"], 0.8);
    // The public incident page says it only when the page's setting allows.
    let path = format!("/incidents/{}", id(&inc));
    let page = app.public(&path).await.expect(200).text;
    assert!(!page.contains("after impact began"), "shown unasked");
    app.patch(
        &app.page_path(""),
        json!({"page": {"show_first_update_delay": true}}),
    )
    .await
    .expect(200);
    let page = app.public(&path).await.expect(200).text;
    assert!(
        page.contains("<dt>First update</dt><dd>117 minutes after impact began</dd>"),
        "{page}"
    );
    // Outside the range: nothing; a bad date: a clear error.
    let none = app
        .get(&app.page_path("/reports/communication?from=2026-11-24&to=2026-11-25"))
        .await
        .expect(200)
        .json();
    assert_eq!(none["total"]["incidents"], 0);
    assert_eq!(none["total"]["promises_kept_share"], Value::Null);
    let bad = app
        .get(&app.page_path("/reports/communication?from=yesterday"))
        .await
        .expect(422)
        .json();
    assert_eq!(bad["error"]["field"], "from", "{bad}");
}

/// A late promise shows: on the incident, in `unresolved?overdue=true`, in /metrics.
#[tokio::test]
async fn overdue_promises_are_visible() {
    let start = DateTime::parse_from_rfc3339("2026-11-23T22:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let app = TestApp::spawn_at(start).await;
    let late = app
        .create_incident(json!({"name": "Late", "next_update_in_minutes": 30}))
        .await;
    let on_time = app
        .create_incident(json!({"name": "On time", "next_update_in_minutes": 90}))
        .await;
    assert_eq!(late["next_update_overdue"], false);
    app.clock.advance(chrono::Duration::minutes(31));
    let got = app
        .get(&app.page_path(&format!("/incidents/{}", id(&late))))
        .await
        .expect(200)
        .json();
    assert_eq!(got["next_update_overdue"], true, "{got}");
    let list = app
        .get(&app.page_path("/incidents/unresolved?overdue=true"))
        .await
        .expect(200)
        .json();
    let ids: Vec<String> = list
        .as_array()
        .map(|a| a.iter().map(id).collect())
        .unwrap_or_default();
    assert_eq!(ids, [id(&late)], "{list}");
    let all = app
        .get(&app.page_path("/incidents/unresolved"))
        .await
        .expect(200)
        .json();
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    assert!(all.as_array().is_some_and(|a| {
        a.iter()
            .any(|i| i["id"] == on_time["id"] && i["next_update_overdue"] == false)
    }));
    let metrics = app.public("/metrics").await.text;
    assert!(metrics.contains("herald_overdue_promises 1"), "{metrics}");
    // Posting the update keeps the promise again.
    app.update_incident(
        &id(&late),
        json!({"body": "Still working.", "next_update_in_minutes": 30}),
    )
    .await;
    let list = app
        .get(&app.page_path("/incidents/unresolved?overdue=true"))
        .await
        .expect(200)
        .json();
    assert_eq!(list, json!([]));
}
