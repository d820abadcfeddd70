use herald_tests::TestApp;
use serde_json::{Value, json};

fn statuses(incident: &Value) -> Vec<String> {
    incident["incident_updates"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| u["status"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_real_incident_from_open_to_postmortem() {
    let app = TestApp::spawn().await;
    let pod = app.create_group("Prod2 (EU)", &[]).await;
    let voice = app.create_component("Voice", pod["id"].as_str()).await;
    let kb = app
        .create_component("Knowledge base", pod["id"].as_str())
        .await;
    let (voice_id, kb_id) = (
        voice["id"].as_str().unwrap_or(""),
        kb["id"].as_str().unwrap_or(""),
    );

    // Posted 35 minutes after the impact began, with a promise of the next update.
    let started = (chrono::Utc::now() - chrono::Duration::minutes(35)).to_rfc3339();
    let inc = app
        .create_incident(json!({
            "name": "Calls dropping in Prod2 (EU)",
            "status": "investigating",
            "body": "We are investigating dropped calls. Please expect additional updates within the next 30 minutes.",
            "components": {voice_id: "major_outage", kb_id: "degraded_performance"},
            "started_at": started,
            "next_update_in_minutes": 30,
            "deliver_notifications": true
        }))
        .await;
    let id = inc["id"].as_str().unwrap_or("").to_owned();
    assert_eq!(id.len(), 12);
    assert_eq!(
        inc["impact"], "critical",
        "impact comes from the worst component"
    );
    assert_eq!(inc["status"], "investigating");
    assert!(inc["next_update_due_at"].is_string());
    let started_back =
        chrono::DateTime::parse_from_rfc3339(inc["started_at"].as_str().unwrap_or("")).ok();
    let created =
        chrono::DateTime::parse_from_rfc3339(inc["created_at"].as_str().unwrap_or("")).ok();
    assert!(
        started_back < created,
        "started_at is backdated before created_at"
    );
    let first = &inc["incident_updates"][0];
    let affected = first["affected_components"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(affected.len(), 2);
    assert!(affected.iter().any(|a| a["code"] == voice_id
        && a["old_status"] == "operational"
        && a["new_status"] == "major_outage"));
    assert_eq!(app.component(voice_id).await["status"], "major_outage");

    // States do not move in a straight line: monitoring, then back to investigating.
    let inc = app
        .update_incident(
            &id,
            json!({"status": "monitoring", "body": "A fix is out."}),
        )
        .await;
    assert!(inc["monitoring_at"].is_string());
    let inc = app
        .update_incident(
            &id,
            json!({"status": "investigating", "body": "Errors are back."}),
        )
        .await;
    assert_eq!(
        statuses(&inc),
        ["investigating", "monitoring", "investigating"],
        "updates are newest first"
    );

    // A postmortem is refused before the incident is resolved.
    let pm = app.page_path(&format!("/incidents/{id}/postmortem"));
    let r = app
        .put(&pm, json!({"postmortem": {"body_draft": "## Summary"}}))
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["code"], "invalid_transition");

    // Resolving puts the components back to operational unless the update says otherwise.
    let inc = app
        .update_incident(&id, json!({"status": "resolved", "body": "Fixed.", "components": {kb_id: "degraded_performance"}}))
        .await;
    assert_eq!(inc["status"], "resolved");
    assert!(inc["resolved_at"].is_string());
    assert_eq!(
        inc["next_update_due_at"],
        Value::Null,
        "no promise on a resolved incident"
    );
    assert_eq!(app.component(voice_id).await["status"], "operational");
    assert_eq!(app.component(kb_id).await["status"], "degraded_performance");
    assert_eq!(
        inc["impact"], "critical",
        "impact keeps the worst status seen during the incident"
    );

    // Reopen, resolve again.
    let inc = app
        .update_incident(&id, json!({"status": "identified", "body": "It recurred."}))
        .await;
    assert_eq!(inc["resolved_at"], Value::Null);
    let inc = app
        .update_incident(&id, json!({"status": "resolved"}))
        .await;
    assert_eq!(
        inc["incident_updates"][0]["body"],
        "This incident has been resolved."
    );

    // Postmortem: draft, then publish.
    let d = app
        .put(
            &pm,
            json!({"postmortem": {"body_draft": "## Root cause\n\nA bad deploy."}}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(d["body"], Value::Null, "a draft is not published");
    assert!(
        d["body_draft"]
            .as_str()
            .unwrap_or("")
            .contains("Root cause")
    );
    let p = app
        .put(
            &format!("{pm}/publish"),
            json!({"postmortem": {"notify_subscribers": false}}),
        )
        .await
        .expect(200)
        .json();
    assert!(p["published_at"].is_string());
    let inc = app
        .get(&app.page_path(&format!("/incidents/{id}")))
        .await
        .expect(200)
        .json();
    assert_eq!(inc["status"], "postmortem");
    assert!(inc["postmortem_published_at"].is_string());

    // A postmortem'd incident cannot be reopened.
    let r = app
        .patch(
            &app.page_path(&format!("/incidents/{id}")),
            json!({"incident": {"status": "investigating"}}),
        )
        .await
        .expect(422)
        .json();
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("'postmortem'"),
        "{r}"
    );

    // The event log has every step, in order.
    let kinds: Vec<String> = app
        .events()
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
        .collect();
    for k in [
        "incident.created",
        "incident.updated",
        "incident.resolved",
        "incident.reopened",
        "postmortem.drafted",
        "postmortem.published",
        "component.status_changed",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    let seqs: Vec<i64> = app
        .events()
        .await
        .iter()
        .map(|e| e["seq"].as_i64().unwrap_or(0))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "events are ordered");
}

#[tokio::test]
async fn impact_window_and_display_at_can_be_edited_later() {
    let app = TestApp::spawn().await;
    let inc = app
        .create_incident(json!({"name": "Slow search", "status": "identified"}))
        .await;
    let id = inc["id"].as_str().unwrap_or("").to_owned();
    let update_id = inc["incident_updates"][0]["id"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    app.update_incident(&id, json!({"status": "resolved"}))
        .await;

    let start = "2026-11-01T10:00:00Z";
    let end = "2026-11-01T11:14:00Z";
    let inc = app
        .update_incident(&id, json!({"started_at": start, "resolved_at": end}))
        .await;
    assert_eq!(inc["started_at"], "2026-11-01T10:00:00.000Z");
    assert_eq!(inc["resolved_at"], "2026-11-01T11:14:00.000Z");
    assert_eq!(
        inc["incident_updates"].as_array().map(Vec::len),
        Some(2),
        "editing the window posts no update"
    );

    // An end before the start is refused and nothing changes.
    let r = app
        .patch(
            &app.page_path(&format!("/incidents/{id}")),
            json!({"incident": {"resolved_at": "2026-11-01T09:00:00Z"}}),
        )
        .await
        .expect(422);
    assert!(r.text.contains("before it started"), "{}", r.text);
    let again = app
        .get(&app.page_path(&format!("/incidents/{id}")))
        .await
        .json();
    assert_eq!(again["resolved_at"], "2026-11-01T11:14:00.000Z");

    let path = app.page_path(&format!("/incidents/{id}/incident_updates/{update_id}"));
    let u = app
        .patch(&path, json!({"incident_update": {"display_at": "2026-11-01T10:05:00Z", "body": "Search is slow."}}))
        .await
        .expect(200)
        .json();
    assert_eq!(u["display_at"], "2026-11-01T10:05:00.000Z");
    assert_eq!(u["body"], "Search is slow.");
}

#[tokio::test]
async fn listing_unresolved_and_deleting() {
    let app = TestApp::spawn().await;
    let a = app.create_incident(json!({"name": "First"})).await;
    let b = app
        .create_incident(json!({"name": "Second", "status": "monitoring"}))
        .await;
    app.update_incident(
        a["id"].as_str().unwrap_or(""),
        json!({"status": "resolved"}),
    )
    .await;

    let all = app
        .get(&app.page_path("/incidents"))
        .await
        .expect(200)
        .json();
    let names: Vec<&str> = all
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["Second", "First"], "newest first");
    let open = app
        .get(&app.page_path("/incidents/unresolved.json"))
        .await
        .expect(200)
        .json();
    assert_eq!(open.as_array().map(Vec::len), Some(1));
    assert_eq!(open[0]["name"], "Second");
    let found = app
        .get(&app.page_path("/incidents?q=Fir"))
        .await
        .expect(200)
        .json();
    assert_eq!(found.as_array().map(Vec::len), Some(1));

    let path = app.page_path(&format!("/incidents/{}", b["id"].as_str().unwrap_or("")));
    let deleted = app
        .send(
            reqwest::Method::DELETE,
            &path,
            Some(&app.admin),
            Some(json!({"ignored": true})),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(
        deleted["name"], "Second",
        "DELETE returns the deleted incident and ignores a JSON body"
    );
    app.get(&path).await.expect(404);
}

#[tokio::test]
async fn impact_override_and_maintenance_statuses() {
    let app = TestApp::spawn().await;
    let c = app.create_component("API", None).await;
    let cid = c["id"].as_str().unwrap_or("");
    let inc = app
        .create_incident(json!({"name": "Errors", "components": {cid: "major_outage"}, "impact_override": "minor"}))
        .await;
    assert_eq!(inc["impact"], "minor");
    assert_eq!(inc["impact_override"], "minor");
    let inc = app
        .update_incident(
            inc["id"].as_str().unwrap_or(""),
            json!({"impact_override": null}),
        )
        .await;
    assert_eq!(inc["impact"], "critical");

    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "x", "status": "verifying"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(
        r["error"]["field"], "incident.scheduled_for",
        "a maintenance status needs a window: {r}"
    );

    // A maintenance is an incident with scheduled_for; it takes maintenance statuses only.
    let from = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let until =
        (chrono::Utc::now() + chrono::Duration::days(2) + chrono::Duration::hours(2)).to_rfc3339();
    let m = app
        .create_incident(json!({"name": "DB upgrade", "scheduled_for": from, "scheduled_until": until, "components": {cid: "under_maintenance"}}))
        .await;
    assert_eq!(m["status"], "scheduled");
    assert_eq!(m["impact"], "maintenance");
    assert_eq!(
        app.component(cid).await["status"],
        "major_outage",
        "a scheduled maintenance leaves components alone"
    );
    let r = app
        .patch(
            &app.page_path(&format!("/incidents/{}", m["id"].as_str().unwrap_or(""))),
            json!({"incident": {"status": "identified"}}),
        )
        .await
        .expect(422);
    assert!(r.text.contains("scheduled maintenance"), "{}", r.text);
    let up = app
        .get(&app.page_path("/incidents/upcoming"))
        .await
        .expect(200)
        .json();
    assert_eq!(up.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_maintenance_moves_its_components_when_it_starts_and_ends() {
    let app = TestApp::spawn().await;
    let db = app.create_component("Database", None).await;
    let dbid = db["id"].as_str().unwrap_or("");
    let from = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let m = app
        .create_incident(json!({"name": "Database upgrade", "scheduled_for": from, "components": {dbid: "under_maintenance"}}))
        .await;
    let id = m["id"].as_str().unwrap_or("");
    assert_eq!(app.component(dbid).await["status"], "operational");
    let m = app
        .update_incident(id, json!({"status": "in_progress", "body": "Under way."}))
        .await;
    assert_eq!(app.component(dbid).await["status"], "under_maintenance");
    assert_eq!(
        m["incident_updates"][0]["affected_components"][0]["new_status"],
        "under_maintenance"
    );
    app.update_incident(id, json!({"status": "verifying"}))
        .await;
    let m = app
        .update_incident(id, json!({"status": "completed"}))
        .await;
    assert!(m["resolved_at"].is_string());
    assert_eq!(app.component(dbid).await["status"], "operational");
    let r = app
        .patch(
            &app.page_path(&format!("/incidents/{id}")),
            json!({"incident": {"status": "in_progress"}}),
        )
        .await
        .expect(422);
    assert!(r.text.contains("'completed'"), "{}", r.text);

    // Cancelled before it starts: components are never touched.
    let m2 = app
        .create_incident(json!({"name": "Cache flush", "scheduled_for": from, "components": {dbid: "under_maintenance"}}))
        .await;
    app.update_incident(
        m2["id"].as_str().unwrap_or(""),
        json!({"status": "completed", "body": "Cancelled."}),
    )
    .await;
    assert_eq!(app.component(dbid).await["status"], "operational");
}

#[tokio::test]
async fn a_future_start_is_refused() {
    let app = TestApp::spawn().await;
    let future = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "x", "started_at": future}}),
        )
        .await
        .expect(422);
    assert!(r.text.contains("future"), "{}", r.text);
    let inc = app.create_incident(json!({"name": "y"})).await;
    let r = app
        .patch(
            &app.page_path(&format!("/incidents/{}", inc["id"].as_str().unwrap_or(""))),
            json!({"incident": {"started_at": future}}),
        )
        .await
        .expect(422);
    assert!(r.text.contains("future"), "{}", r.text);
}

#[tokio::test]
async fn concurrent_writers_all_land_and_the_log_stays_ordered() {
    let app = TestApp::spawn().await;
    let c = app.create_component("API", None).await;
    let cid = c["id"].as_str().unwrap_or("").to_owned();
    let writes = (0..16).map(|n| {
        let app = &app;
        let cid = cid.clone();
        async move {
            let status = [
                "degraded_performance",
                "partial_outage",
                "major_outage",
                "operational",
            ][n % 4];
            let inc = app
                .create_incident(
                    json!({"name": format!("Incident {n}"), "components": {cid: status}}),
                )
                .await;
            app.update_incident(
                inc["id"].as_str().unwrap_or(""),
                json!({"status": "resolved"}),
            )
            .await;
        }
    });
    futures_util::future::join_all(writes).await;
    let all = app
        .get(&app.page_path("/incidents?per_page=100"))
        .await
        .expect(200)
        .json();
    assert_eq!(all.as_array().map(Vec::len), Some(16));
    assert!(
        all.as_array()
            .is_some_and(|a| a.iter().all(|i| i["status"] == "resolved"))
    );
    let events = app.events().await;
    let created = events
        .iter()
        .filter(|e| e["kind"] == "incident.created")
        .count();
    let resolved = events
        .iter()
        .filter(|e| e["kind"] == "incident.resolved")
        .count();
    assert_eq!((created, resolved), (16, 16));
    let seqs: Vec<i64> = events.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "no gaps, no reordering: {seqs:?}"
    );
    assert_eq!(app.component(&cid).await["status"], "operational");
}

#[tokio::test]
async fn closing_one_incident_leaves_what_another_still_holds() {
    let app = TestApp::spawn().await;
    let c = app.create_component("Public API", None).await;
    let cid = c["id"].as_str().unwrap_or("");
    let a = app
        .create_incident(json!({"name": "A", "components": {cid: "major_outage"}}))
        .await;
    let b = app
        .create_incident(json!({"name": "B", "components": {cid: "degraded_performance"}}))
        .await;
    app.update_incident(
        b["id"].as_str().unwrap_or(""),
        json!({"status": "resolved"}),
    )
    .await;
    assert_eq!(
        app.component(cid).await["status"],
        "major_outage",
        "A is still open"
    );
    app.update_incident(
        a["id"].as_str().unwrap_or(""),
        json!({"status": "resolved"}),
    )
    .await;
    assert_eq!(app.component(cid).await["status"], "operational");

    // Reopening puts the component back to the status it had in the incident.
    let a = app
        .update_incident(
            a["id"].as_str().unwrap_or(""),
            json!({"status": "investigating", "body": "Back."}),
        )
        .await;
    assert_eq!(app.component(cid).await["status"], "major_outage");
    assert_eq!(
        a["incident_updates"][0]["affected_components"][0]["new_status"],
        "major_outage"
    );

    // Resolving while naming the component without a status still resets it.
    app.update_incident(
        a["id"].as_str().unwrap_or(""),
        json!({"status": "resolved", "component_ids": [cid]}),
    )
    .await;
    assert_eq!(app.component(cid).await["status"], "operational");
}

#[tokio::test]
async fn maintenances_and_backfills_leave_live_statuses_alone() {
    let app = TestApp::spawn().await;
    let c = app.create_component("Database", None).await;
    let cid = c["id"].as_str().unwrap_or("");
    let outage = app
        .create_incident(json!({"name": "DB down", "components": {cid: "major_outage"}}))
        .await;
    let from = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let m = app.create_incident(json!({"name": "Upgrade", "scheduled_for": from, "components": {cid: "under_maintenance"}})).await;
    let mid = m["id"].as_str().unwrap_or("");
    // Editing a maintenance that has not started does not touch the component.
    app.update_incident(mid, json!({"components": {cid: "under_maintenance"}}))
        .await;
    assert_eq!(app.component(cid).await["status"], "major_outage");
    // Cancelling it does not either.
    app.update_incident(mid, json!({"status": "completed", "body": "Cancelled."}))
        .await;
    assert_eq!(app.component(cid).await["status"], "major_outage");
    app.update_incident(
        outage["id"].as_str().unwrap_or(""),
        json!({"status": "resolved"}),
    )
    .await;

    // An incident entered after the fact, already resolved, records its components only.
    let back = app
        .create_incident(
            json!({"name": "Last night", "status": "resolved", "backfilled": true,
            "started_at": "2026-11-01T01:00:00Z", "resolved_at": "2026-11-01T02:00:00Z",
            "components": {cid: "major_outage"}}),
        )
        .await;
    assert_eq!(back["impact"], "critical");
    assert_eq!(back["resolved_at"], "2026-11-01T02:00:00.000Z");
    assert_eq!(app.component(cid).await["status"], "operational");
    let status = app.public("/api/v2/status.json").await.json();
    assert_eq!(status["status"]["indicator"], "none");
}

#[tokio::test]
async fn resending_the_same_status_posts_no_update() {
    let app = TestApp::spawn().await;
    let inc = app
        .create_incident(json!({"name": "Slow", "status": "identified"}))
        .await;
    let id = inc["id"].as_str().unwrap_or("");
    let inc = app
        .update_incident(id, json!({"name": "Slow search", "status": "identified"}))
        .await;
    assert_eq!(inc["name"], "Slow search");
    assert_eq!(inc["incident_updates"].as_array().map(Vec::len), Some(1));
    let inc = app
        .update_incident(id, json!({"status": "identified", "body": "Still on it."}))
        .await;
    assert_eq!(
        inc["incident_updates"].as_array().map(Vec::len),
        Some(2),
        "a new body is an update"
    );
    app.update_incident(id, json!({"status": "resolved"})).await;
    // Postmortem comes by publishing, not by setting the status.
    let r = app
        .patch(
            &app.page_path(&format!("/incidents/{id}")),
            json!({"incident": {"status": "postmortem"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["code"], "invalid_transition");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("publishing"),
        "{r}"
    );
}

/// Error fields are the request's own path, on POST as on PATCH.
#[tokio::test]
async fn refusals_name_the_field_by_its_request_path() {
    let app = TestApp::spawn().await;
    let future = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let post = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "x", "started_at": future}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(post["error"]["field"], "incident.started_at");
    assert_eq!(post["error"]["code"], "invalid_transition");
    let inc = app.create_incident(json!({"name": "y"})).await;
    let path = app.page_path(&format!("/incidents/{}", inc["id"].as_str().unwrap_or("")));
    let patch = app
        .patch(&path, json!({"incident": {"started_at": future}}))
        .await
        .expect(422)
        .json();
    assert_eq!(patch["error"]["field"], "incident.started_at");
    for (body, field) in [
        (json!({"name": " "}), "incident.name"),
        (
            json!({"status": "resolved", "resolved_at": "2000-01-01T00:00:00Z"}),
            "incident.resolved_at",
        ),
        (
            json!({"components": {"nope": "major_outage"}}),
            "incident.components.nope",
        ),
        (
            json!({"status": "monitoring", "next_update_in_minutes": 0}),
            "incident.next_update_in_minutes",
        ),
    ] {
        let r = app
            .patch(&path, json!({ "incident": body }))
            .await
            .expect(422)
            .json();
        assert_eq!(r["error"]["field"], field, "{r}");
    }
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "a\u{0}b"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(
        r["error"]["field"], "incident.name",
        "control characters are refused"
    );
}

/// Deleting an open incident lets go of its components: back to operational, unless
/// another open incident still holds them.
#[tokio::test]
async fn deleting_an_open_incident_releases_its_components() {
    let app = TestApp::spawn().await;
    let c = app.create_component("Voice", None).await;
    let cid = c["id"].as_str().unwrap_or("");
    let a = app
        .create_incident(json!({"name": "A", "components": {cid: "major_outage"}}))
        .await;
    let b = app
        .create_incident(json!({"name": "B", "components": {cid: "degraded_performance"}}))
        .await;
    let path = |i: &Value| app.page_path(&format!("/incidents/{}", i["id"].as_str().unwrap_or("")));
    app.delete(&path(&b)).await.expect(200);
    assert_eq!(
        app.component(cid).await["status"],
        "major_outage",
        "A still holds it"
    );
    app.delete(&path(&a)).await.expect(200);
    assert_eq!(app.component(cid).await["status"], "operational");
    let status = app.public("/api/v2/status.json").await.json();
    assert_eq!(status["status"]["indicator"], "none");
    let kinds: Vec<Value> = app
        .events()
        .await
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert!(kinds.contains(&json!("incident.deleted")));
}

/// Time comes from the server's clock: a promise becomes overdue when the clock passes
/// it, with no sleeping.
#[tokio::test]
async fn a_promise_turns_overdue_as_the_clock_moves() {
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-23T14:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    let app = TestApp::spawn_at(t0).await;
    let inc = app
        .create_incident(json!({"name": "Calls dropping", "status": "investigating", "next_update_in_minutes": 30}))
        .await;
    assert_eq!(inc["created_at"], "2026-11-23T14:00:00.000Z");
    assert_eq!(inc["next_update_due_at"], "2026-11-23T14:30:00.000Z");
    let page = app.public("/").await.expect(200).text;
    assert!(page.contains("Next update expected by") && !page.contains("overdue-tag"));
    app.clock.advance(chrono::Duration::minutes(31));
    app.rebuild().await;
    let page = app.public("/").await.expect(200).text;
    assert!(
        page.contains("overdue-tag"),
        "the promise is overdue at 14:31"
    );
    let inc = app
        .update_incident(
            inc["id"].as_str().unwrap_or(""),
            json!({"status": "identified", "next_update_in_minutes": 30}),
        )
        .await;
    assert_eq!(
        inc["incident_updates"][0]["created_at"],
        "2026-11-23T14:31:00.000Z"
    );
    assert_eq!(inc["next_update_due_at"], "2026-11-23T15:01:00.000Z");
}
