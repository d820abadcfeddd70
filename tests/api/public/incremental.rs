//! A write renders only what it changed: whatever the sequence of changes, the page
//! built step by step is the page built from scratch, byte for byte.

use super::*;

/// Every public document and page of `app`, by path, with the pages of `incidents`
/// and the first two history pages.
async fn everything(app: &TestApp, incidents: &[String]) -> BTreeMap<String, String> {
    app.settle().await;
    let mut paths: Vec<String> = V2.iter().map(|p| (*p).to_owned()).collect();
    paths.extend(
        [
            "/",
            "/history",
            "/history?page=2",
            "/history.atom",
            "/history.rss",
            "/maintenance.ics",
            "/live.json",
        ]
        .map(str::to_owned),
    );
    paths.extend(incidents.iter().map(|id| format!("/incidents/{id}")));
    let mut out = BTreeMap::new();
    for p in paths {
        let r = app.public(&p).await;
        out.insert(p.clone(), format!("{} {}", r.status, r.text));
    }
    out
}

#[tokio::test]
async fn built_step_by_step_equals_built_from_scratch() {
    let t0 = DateTime::parse_from_rfc3339("2026-11-23T14:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let app = TestApp::spawn_at(t0 - Duration::days(40)).await;
    let pod = app.create_group("Prod2 (EU)", &[]).await;
    let voice = app.create_component("Voice", pod["id"].as_str()).await;
    let kb = app.create_component("Knowledge base", None).await;
    let (v, k) = (
        voice["id"].as_str().unwrap_or("").to_owned(),
        kb["id"].as_str().unwrap_or("").to_owned(),
    );
    // Enough history for several history pages and for the lists to be full.
    let mut ids = Vec::new();
    for n in 0..40 {
        app.clock.advance(Duration::hours(20));
        let inc = app
            .create_incident(
                json!({"name": format!("Blip {n}"), "components": {v.clone(): "partial_outage"}}),
            )
            .await;
        let id = id_of(&inc);
        app.update_incident(
            &id,
            json!({"status": "resolved", "body": format!("Fixed {n}.")}),
        )
        .await;
        ids.push(id);
    }
    let check = async |step: &str, ids: &[String]| {
        let stepwise = everything(&app, ids).await;
        app.rebuild_all().await;
        let fresh = everything(&app, ids).await;
        for (path, body) in &stepwise {
            assert_eq!(
                Some(body),
                fresh.get(path),
                "after {step}: {path} built step by step differs from a build from scratch"
            );
        }
    };
    check("a history", &ids).await;

    app.clock.advance(Duration::minutes(7));
    let open = app
        .create_incident(json!({"name": "Calls dropping", "components": {v.clone(): "major_outage", k.clone(): "degraded_performance"}, "next_update_in_minutes": 30}))
        .await;
    let open_id = id_of(&open);
    ids.push(open_id.clone());
    check("opening an incident", &ids).await;

    app.clock.advance(Duration::minutes(12));
    app.update_incident(
        &open_id,
        json!({"status": "identified", "body": "Found it."}),
    )
    .await;
    check("an update", &ids).await;

    // An old incident corrected: its page, the history pages and the feeds follow.
    app.update_incident(&ids[3], json!({"name": "Blip 3, corrected"}))
        .await;
    check("renaming an old incident", &ids).await;
    let page = app
        .public(&format!("/incidents/{}", ids[3]))
        .await
        .expect(200);
    assert!(page.text.contains("Blip 3, corrected"));

    app.update_incident(
        &ids[30],
        json!({"status": "investigating", "body": "It is back."}),
    )
    .await;
    check("reopening an old incident", &ids).await;

    app.update_incident(&open_id, json!({"status": "resolved"}))
        .await;
    check("resolving", &ids).await;

    app.delete(&app.page_path(&format!("/incidents/{}", ids[39])))
        .await
        .expect(200);
    check("deleting", &ids).await;

    app.patch(
        &app.page_path(&format!("/components/{k}")),
        json!({"component": {"name": "Help center", "status": "partial_outage"}}),
    )
    .await
    .expect(200);
    check("renaming a component", &ids).await;

    app.patch(
        &app.page_path(""),
        json!({"page": {"name": "Acme", "time_zone": "Europe/Berlin"}}),
    )
    .await
    .expect(200);
    check("changing the page's settings", &ids).await;

    app.clock.advance(Duration::hours(30));
    app.rebuild().await;
    check("a day later", &ids).await;
}

/// Unknown or absurd addresses cost nothing and say so.
#[tokio::test]
async fn history_past_the_last_page_and_unknown_incidents_are_404() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    app.public("/history?page=2").await.expect(404);
    app.public("/history?page=99999999999").await.expect(404);
    app.public("/history?page=1").await.expect(200);
    for _ in 0..3 {
        app.public("/incidents/doesnotexist").await.expect(404);
    }
    app.public("/incidents/..%2F..%2Fetc").await.expect(404);
}
