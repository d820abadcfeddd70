//! The public record stays true: corrections of an incident's times, deletions,
//! backfills and postmortems reach uptime, status history, the pages and the feeds,
//! which always agree with each other.

use chrono::{DateTime, Duration, Utc};
use herald_tests::TestApp;
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// What the home page says of one day of one component, as its strip's table of days
/// has it: "1h 14m major outage · Calls dropping" (the names of the day's incidents
/// after the summary), or "No downtime" for a day the table does not list.
fn tooltip(home: &str, component: &str, label: &str) -> String {
    let Some(start) = home.find(&format!("data-name=\"{component}")) else {
        panic!("no bars for {component}")
    };
    let strip = &home[start..];
    let strip = &strip[..strip[1..]
        .find("class=\"uptime\"")
        .map_or(strip.len(), |n| n + 1)];
    let Some(day) = strip.find(&format!(">{label}</time></th>")) else {
        assert!(strip.contains("class=\"bars\""), "no strip for {component}");
        return "No downtime".to_owned();
    };
    let row = &strip[day..];
    let row = &row[..row.find("</tr>").unwrap_or(row.len())];
    let cells: Vec<String> = row
        .split("<td>")
        .skip(1)
        .map(|c| {
            let mut text = String::new();
            let mut tag = false;
            for ch in c.chars() {
                match ch {
                    '<' => tag = true,
                    '>' => tag = false,
                    _ if !tag => text.push(ch),
                    _ => {}
                }
            }
            text
        })
        .collect();
    match cells.as_slice() {
        [_, summary, incidents] if incidents != "None" => {
            format!("{summary} · {}", incidents.replace(", ", " · "))
        }
        [_, summary, _] => summary.clone(),
        _ => panic!("no cells in {row}"),
    }
}

/// Text between the incident page's "Duration" and the end of its element.
fn duration(page: &str) -> String {
    let Some(i) = page.find("Duration") else {
        panic!("no duration: {page}")
    };
    let rest = page[i + "Duration".len()..].trim_start_matches("</dt><dd>");
    rest[..rest.find('<').unwrap_or(rest.len())]
        .trim()
        .to_owned()
}

async fn uptime(app: &TestApp, component: &str, day: &str) -> Value {
    app.get(&app.page_path(&format!(
        "/components/{component}/uptime?start={day}&end={day}"
    )))
    .await
    .expect(200)
    .json()
}

async fn history(app: &TestApp, component: &str) -> Vec<(String, String, String)> {
    let h = app
        .get(&app.page_path(&format!("/components/{component}/status-history")))
        .await
        .expect(200)
        .json();
    h.as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["at"].as_str().unwrap_or_default().to_owned(),
                        c["old_status"].as_str().unwrap_or_default().to_owned(),
                        c["new_status"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn same_instant(a: &str, b: &str) -> bool {
    DateTime::parse_from_rfc3339(a).ok() == DateTime::parse_from_rfc3339(b).ok()
}

/// A real incident replayed as clicked, then corrected the way responders do: every
/// view of it follows the corrected window.
#[tokio::test]
async fn corrections_of_the_window_reach_uptime_history_times_and_feeds() {
    let app = TestApp::spawn_at(at("2026-11-23T08:53:00Z")).await;
    app.clock.set(at("2026-10-01T00:00:00Z"));
    let voice = id(&app.create_component("Voice", None).await);
    app.clock.set(at("2026-11-23T08:53:00Z"));
    let inc = app
        .create_incident(json!({
            "name": "Calls dropping in Prod2 (EU)",
            "components": {voice.clone(): "major_outage"},
            "body": "Please expect additional updates within the next 30 minutes.",
            "next_update_in_minutes": 30
        }))
        .await;
    let inc_id = id(&inc);
    let mut updates = vec![id(&inc["incident_updates"][0])];
    for (minute, status) in [(54, "identified"), (55, "monitoring"), (57, "resolved")] {
        app.clock.set(at(&format!("2026-11-23T08:{minute}:00Z")));
        let i = app
            .update_incident(
                &inc_id,
                json!({"status": status, "body": format!("{status}.")}),
            )
            .await;
        updates.push(id(&i["incident_updates"][0]));
    }
    app.clock.set(at("2026-11-23T09:30:00Z"));
    app.settle().await;
    let home = app.public("/").await.expect(200).text;
    assert_eq!(
        tooltip(&home, "Voice", "Nov 23, 2026"),
        "4m major outage · Calls dropping in Prod2 (EU)",
        "as clicked: 08:53 to 08:57"
    );

    // The real times: impact 03:31 to 04:45.
    app.update_incident(
        &inc_id,
        json!({"started_at": "2026-11-23T03:31:00Z", "resolved_at": "2026-11-23T04:45:00Z"}),
    )
    .await;
    for (u, t) in updates.iter().zip([
        "2026-11-23T03:31:00Z",
        "2026-11-23T04:00:00Z",
        "2026-11-23T04:30:00Z",
        "2026-11-23T04:45:00Z",
    ]) {
        app.patch(
            &app.page_path(&format!("/incidents/{inc_id}/incident_updates/{u}")),
            json!({"incident_update": {"display_at": t}}),
        )
        .await
        .expect(200);
    }
    app.settle().await;

    let got = app
        .get(&app.page_path(&format!("/incidents/{inc_id}")))
        .await
        .expect(200)
        .json();
    assert!(
        same_instant(
            got["monitoring_at"].as_str().unwrap_or(""),
            "2026-11-23T04:30:00Z"
        ),
        "{got}"
    );
    assert!(
        same_instant(
            got["resolved_at"].as_str().unwrap_or(""),
            "2026-11-23T04:45:00Z"
        ),
        "{got}"
    );
    let first = got["incident_updates"]
        .as_array()
        .and_then(|a| a.iter().find(|u| u["id"] == updates[0].as_str()))
        .cloned()
        .unwrap_or_default();
    assert!(
        same_instant(
            first["next_update_due_at"].as_str().unwrap_or(""),
            "2026-11-23T04:01:00Z"
        ),
        "the promise moves with its update: {first}"
    );

    let page = app
        .public(&format!("/incidents/{inc_id}"))
        .await
        .expect(200)
        .text;
    assert_eq!(duration(&page), "1h 14m");
    let home = app.public("/").await.expect(200).text;
    assert_eq!(
        tooltip(&home, "Voice", "Nov 23, 2026"),
        "1h 14m major outage · Calls dropping in Prod2 (EU)"
    );
    let u = uptime(&app, &voice, "2026-11-23").await;
    assert_eq!(u["major_outage"], 74 * 60, "{u}");
    assert_eq!(u["partial_outage"], 0);
    assert_eq!(u["related_events"][0]["id"], inc_id.as_str());
    // 74 minutes of the 09:30 observed so far that day.
    let pct = u["uptime_percentage"].as_f64().unwrap_or(0.0);
    assert!((pct - (100.0 - 74.0 / 570.0 * 100.0)).abs() < 0.01, "{u}");
    let h = history(&app, &voice).await;
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(
        same_instant(&h[0].0, "2026-11-23T03:31:00Z") && h[0].2 == "major_outage",
        "{h:?}"
    );
    assert!(
        same_instant(&h[1].0, "2026-11-23T04:45:00Z") && h[1].2 == "operational",
        "{h:?}"
    );

    // The feed entry: updated is the latest of its times, never before published.
    let atom = app.public("/history.atom").await.expect(200).text;
    let entry = atom
        .split("<entry>")
        .find(|e| e.contains(&inc_id))
        .unwrap_or_default();
    let get = |tag: &str| {
        entry
            .split(&format!("<{tag}>"))
            .nth(1)
            .and_then(|r| r.split(&format!("</{tag}>")).next())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    };
    assert!(get("updated") >= get("published"), "{entry}");

    // Summary and the component agree: nothing is down now.
    let summary = app.public("/api/v2/summary.json").await.expect(200).json();
    assert_eq!(summary["status"]["indicator"], "none");
    assert_eq!(app.component(&voice).await["status"], "operational");
}

#[tokio::test]
async fn a_deleted_open_incident_leaves_no_trace() {
    let app = TestApp::spawn_at(at("2026-11-23T10:00:00Z")).await;
    app.clock.set(at("2026-11-20T00:00:00Z"));
    let voice = id(&app.create_component("Voice", None).await);
    app.clock.set(at("2026-11-23T10:00:00Z"));
    let inc = app
        .create_incident(json!({"name": "Outage", "components": {voice.clone(): "major_outage"}}))
        .await;
    app.clock.advance(Duration::minutes(30));
    app.settle().await;
    assert_eq!(
        uptime(&app, &voice, "2026-11-23").await["major_outage"],
        1800
    );
    app.delete(&app.page_path(&format!("/incidents/{}", id(&inc))))
        .await
        .expect(200);
    app.settle().await;
    assert_eq!(app.component(&voice).await["status"], "operational");
    let status = app.public("/api/v2/status.json").await.expect(200).json();
    assert_eq!(status["status"]["indicator"], "none", "{status}");
    let u = uptime(&app, &voice, "2026-11-23").await;
    assert_eq!(u["major_outage"], 0, "{u}");
    assert_eq!(u["uptime_percentage"], 100.0);
    assert!(history(&app, &voice).await.is_empty());
    let home = app.public("/").await.expect(200).text;
    assert_eq!(tooltip(&home, "Voice", "Nov 23, 2026"), "No downtime");
}

#[tokio::test]
async fn a_backfill_lands_on_its_own_day() {
    let app = TestApp::spawn_at(at("2026-11-01T00:00:00Z")).await;
    let api = id(&app.create_component("API", None).await);
    app.clock.set(at("2026-11-24T12:00:00Z"));
    let inc = app
        .create_incident(json!({
            "name": "Elevated errors (entered after the fact)",
            "status": "resolved",
            "backfilled": true,
            "started_at": "2026-11-22T01:10:00Z",
            "resolved_at": "2026-11-22T01:40:00Z",
            "components": {api.clone(): "partial_outage"}
        }))
        .await;
    app.settle().await;
    assert_eq!(app.component(&api).await["status"], "operational");
    let home = app.public("/").await.expect(200).text;
    assert_eq!(
        tooltip(&home, "API", "Nov 22, 2026"),
        "30m partial outage · Elevated errors (entered after the fact)"
    );
    assert_eq!(tooltip(&home, "API", "Nov 24, 2026"), "No downtime");
    let day = home
        .split("<section class=\"day\"")
        .find(|s| s.contains(&id(&inc)))
        .unwrap_or_default();
    assert!(
        day.contains("datetime=\"2026-11-22\""),
        "listed under its own day: {day}"
    );
    assert_eq!(
        uptime(&app, &api, "2026-11-22").await["partial_outage"],
        1800
    );
}

#[tokio::test]
async fn the_demo_incidents_agree_with_their_bars() {
    let app = TestApp::spawn_at(at("2026-11-23T12:00:00Z")).await;
    app.seed_demo().await;
    let home = app.public("/").await.expect(200).text;
    let incidents = app
        .get(&app.page_path("/incidents"))
        .await
        .expect(200)
        .json();
    let past = incidents
        .as_array()
        .and_then(|a| a.iter().find(|i| i["status"] == "postmortem"))
        .cloned()
        .unwrap_or_default();
    let page = app
        .public(&format!("/incidents/{}", id(&past)))
        .await
        .expect(200)
        .text;
    let d = duration(&page);
    let started = DateTime::parse_from_rfc3339(past["started_at"].as_str().unwrap_or(""))
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let label = started.format("%b %-d, %Y").to_string();
    let tip = tooltip(&home, "Outbound webhooks", &label);
    // The EU pod's webhooks: the group is Prod2 (EU), the second "Outbound webhooks".
    let eu = home
        .split("data-name=\"Outbound webhooks")
        .nth(2)
        .map(|s| format!("data-name=\"Outbound webhooks{s}"))
        .unwrap_or_default();
    let tip_eu = tooltip(&eu, "Outbound webhooks", &label);
    assert!(
        tip_eu.starts_with(&format!("{d} partial outage")),
        "the bar says '{tip_eu}', the incident page 'Duration {d}' (first pod: '{tip}')"
    );
    // The live incident's chips say what the component list says.
    let summary = app.public("/api/v2/summary.json").await.expect(200).json();
    let voice_us = summary["components"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|c| c["name"] == "Voice" && c["status"] != "operational")
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(voice_us["status"], "degraded_performance");
    let active = home.split("class=\"active\"").nth(1).unwrap_or_default();
    assert!(
        active.contains("status-degraded_performance\">Voice"),
        "{active}"
    );
}

#[tokio::test]
async fn open_incident_chips_follow_the_latest_update() {
    let app = TestApp::spawn().await;
    let kb = id(&app.create_component("Knowledge base", None).await);
    let inc = app
        .create_incident(
            json!({"name": "Slow search", "components": {kb.clone(): "partial_outage"}}),
        )
        .await;
    let updated = app
        .update_incident(
            &id(&inc),
            json!({"components": {kb.clone(): "degraded_performance"}}),
        )
        .await;
    assert_eq!(
        updated["incident_updates"].as_array().map(Vec::len),
        Some(2),
        "a change of what the incident gives its components is an update: uptime counts from it"
    );
    app.settle().await;
    let home = app.public("/").await.expect(200).text;
    let active = home.split("class=\"active\"").nth(1).unwrap_or_default();
    assert!(
        active.contains("status-degraded_performance\">Knowledge base"),
        "{active}"
    );
    assert!(!active.contains("Partial Outage"), "{active}");
    assert_eq!(app.component(&kb).await["status"], "degraded_performance");
}

#[tokio::test]
async fn postmortems_are_announced_once_and_drafts_stay_private() {
    let app = TestApp::spawn().await;
    let inc = app
        .create_incident(json!({"name": "Webhooks delayed", "status": "resolved"}))
        .await;
    let inc_id = id(&inc);
    let pm = app.page_path(&format!("/incidents/{inc_id}/postmortem"));
    let empty = app.get(&pm).await.expect(200).json();
    assert!(
        empty["body"].is_null() && empty["body_draft"].is_null(),
        "{empty}"
    );
    app.put(
        &pm,
        json!({"postmortem": {"body_draft": "## What happened\n\nA queue filled."}}),
    )
    .await
    .expect(200);
    let first = app
        .put(&format!("{pm}/publish"), json!({"postmortem": {}}))
        .await
        .expect(200)
        .json();
    app.settle().await;
    let home = app.public("/").await.expect(200).text;
    let card = home
        .split("<article class=\"past")
        .find(|a| a.contains(&inc_id))
        .unwrap_or_default();
    assert!(
        card.contains(">Postmortem</strong>"),
        "home shows the postmortem: {card}"
    );
    let atom = app.public("/history.atom").await.expect(200).text;
    assert!(
        atom.contains("&lt;strong&gt;Postmortem&lt;/strong&gt; - What happened"),
        "{atom}"
    );

    // Publishing again changes nothing.
    let events = app.events().await.len();
    let again = app
        .put(&format!("{pm}/publish"), json!({"postmortem": {}}))
        .await
        .expect(200)
        .json();
    assert_eq!(again["published_at"], first["published_at"]);
    assert_eq!(app.events().await.len(), events, "no event for a repeat");

    // A new draft stays private until it is published.
    app.put(
        &pm,
        json!({"postmortem": {"body_draft": "## What happened\n\nA queue filled up. Revised."}}),
    )
    .await
    .expect(200);
    app.settle().await;
    let page = app
        .public(&format!("/incidents/{inc_id}"))
        .await
        .expect(200)
        .text;
    assert!(!page.contains("Revised"), "a draft is not public");
    let both = app.get(&pm).await.expect(200).json();
    assert!(
        both["body_draft"]
            .as_str()
            .unwrap_or("")
            .contains("Revised")
    );
    assert!(!both["body"].as_str().unwrap_or("").contains("Revised"));
    app.put(&format!("{pm}/publish"), json!({"postmortem": {}}))
        .await
        .expect(200);
    app.settle().await;
    let page = app
        .public(&format!("/incidents/{inc_id}"))
        .await
        .expect(200)
        .text;
    assert!(page.contains("Revised"), "published");
}

#[tokio::test]
async fn components_held_by_open_incidents_are_deleted_only_with_force() {
    let app = TestApp::spawn().await;
    let voice = id(&app.create_component("Voice", None).await);
    let inc = app
        .create_incident(
            json!({"name": "Calls dropping", "components": {voice.clone(): "major_outage"}}),
        )
        .await;
    let path = app.page_path(&format!("/components/{voice}"));
    let refused = app.delete(&path).await.expect(409).json();
    assert_eq!(refused["error"]["code"], "conflict");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("force=true"),
        "{refused}"
    );
    app.component(&voice).await;
    app.delete(&format!("{path}?force=true")).await.expect(200);
    app.get(&path).await.expect(404);
    let list = app
        .get(&app.page_path("/components"))
        .await
        .expect(200)
        .json();
    assert_eq!(list.as_array().map(Vec::len), Some(0));
    // The incident's record keeps it.
    app.settle().await;
    let page = app
        .public(&format!("/incidents/{}", id(&inc)))
        .await
        .expect(200)
        .text;
    assert!(page.contains("Voice"), "{page}");
    // Once no incident names it, it is gone for good.
    app.delete(&app.page_path(&format!("/incidents/{}", id(&inc))))
        .await
        .expect(200);
    app.get(&path).await.expect(404);
}

#[tokio::test]
async fn group_uptime_counts_the_worst_of_its_components() {
    let app = TestApp::spawn_at(at("2026-11-23T00:00:00Z")).await;
    let pod = app.create_group("Prod2 (EU)", &[]).await;
    let voice = id(&app.create_component("Voice", pod["id"].as_str()).await);
    let kb = id(&app
        .create_component("Knowledge base", pod["id"].as_str())
        .await);
    app.clock.set(at("2026-11-23T10:00:00Z"));
    let a = app
        .create_incident(json!({"name": "A", "components": {voice.clone(): "major_outage", kb.clone(): "partial_outage"}}))
        .await;
    app.clock.set(at("2026-11-23T11:00:00Z"));
    app.update_incident(&id(&a), json!({"status": "resolved"}))
        .await;
    app.clock.set(at("2026-11-24T00:00:00Z"));
    let g = app
        .get(&app.page_path(&format!(
            "/component-groups/{}/uptime?start=2026-11-23&end=2026-11-23",
            id(&pod)
        )))
        .await
        .expect(200)
        .json();
    assert_eq!(g["major_outage"], 3600, "{g}");
    assert_eq!(
        g["partial_outage"], 0,
        "overlapping time counts once, at the worst"
    );
    assert_eq!(g["related_events"].as_array().map(Vec::len), Some(2));
    assert!(
        (g["uptime_percentage"].as_f64().unwrap_or(0.0) - 95.83).abs() < 0.01,
        "{g}"
    );
    // Asking before the component existed, or for the future, is corrected and said.
    let w = app
        .get(&app.page_path(&format!(
            "/components/{voice}/uptime?start=2020-01-01&end=2030-01-01"
        )))
        .await
        .expect(200)
        .json();
    assert_eq!(w["range_start"], "2026-11-23");
    assert_eq!(w["range_end"], "2026-11-24");
    assert!(
        w["warnings"].as_str().unwrap_or("").contains("future"),
        "{w}"
    );
    let bad = app
        .get(&app.page_path(&format!("/components/{voice}/uptime?start=yesterday")))
        .await
        .expect(422)
        .json();
    assert_eq!(bad["error"]["field"], "start");
}

/// A database written before impact periods existed (or by older rules) is derived
/// again at start: its incidents reach uptime without anyone touching them.
#[tokio::test]
async fn periods_are_derived_again_at_start_from_older_databases() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let api = id(&app.create_component("API", None).await);
    app.create_incident(json!({
        "name": "Errors",
        "status": "resolved",
        "started_at": (Utc::now() - Duration::hours(3)).to_rfc3339(),
        "resolved_at": (Utc::now() - Duration::hours(2)).to_rfc3339(),
        "components": {api.clone(): "major_outage"}
    }))
    .await;
    let manual = id(&app.create_component("Search", None).await);
    app.patch(
        &app.page_path(&format!("/components/{manual}")),
        json!({"component": {"status": "partial_outage"}}),
    )
    .await
    .expect(200);
    let db = app.state.store.db();
    for sql in [
        "DELETE FROM impact_periods",
        "UPDATE pages SET derived_version = 0",
    ] {
        db.execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    app.stop().await;
    let again = TestApp::spawn_on(&app.database_url, &app.admin).await;
    let today = (Utc::now() - Duration::hours(3)).date_naive().to_string();
    let h = history(&again, &api).await;
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[0].2, "major_outage");
    let s = history(&again, &manual).await;
    assert_eq!(
        s.len(),
        1,
        "a status set by hand lasts until the next change: {s:?}"
    );
    assert_eq!(s[0].2, "partial_outage");
    let u = uptime(&again, &api, &today).await;
    assert_eq!(u["related_events"].as_array().map(Vec::len), Some(1), "{u}");
}
