//! The v2 documents: wrapping, types, keys, agreement, Statuspage's examples.

use super::*;

#[tokio::test]
async fn v2_documents_are_wrapped_typed_and_open_to_every_origin() {
    let w = world().await;
    let app = &w.app;
    let mut pages = Vec::new();
    for path in V2 {
        let r = app.public(path).await.expect(200);
        assert_eq!(
            r.header("content-type"),
            Some("application/json; charset=utf-8"),
            "{path}"
        );
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
        let d = r.json();
        check_document(path, &d);
        pages.push(d["page"].clone());
    }
    assert!(
        pages.windows(2).all(|p| p[0] == p[1]),
        "every document carries the same page: {pages:?}"
    );
    assert_eq!(pages[0]["name"], "Herald Demo");
    assert_eq!(pages[0]["time_zone"], "Etc/UTC");
    let summary = app.public("/api/v2/summary.json").await.json();
    assert!(
        summary["page"]["updated_at"]
            .as_str()
            .unwrap_or_default()
            .ends_with('Z'),
        "a UTC page writes `Z`"
    );

    // A page in another zone writes that zone's offset everywhere.
    app.patch(
        &app.page_path(""),
        json!({"page": {"time_zone": "America/Chicago"}}),
    )
    .await
    .expect(200);
    let docs = documents(app).await;
    for (path, d) in &docs {
        check_document(path, d);
    }
    let summary = doc(&docs, "/api/v2/summary.json");
    assert_eq!(summary["page"]["time_zone"], "America/Chicago");
    let mut stamps = vec![summary["page"]["updated_at"].clone()];
    for c in list(summary, "components") {
        stamps.push(c["created_at"].clone());
    }
    for i in list(summary, "incidents") {
        stamps.push(i["started_at"].clone());
        stamps.push(i["incident_updates"][0]["display_at"].clone());
    }
    for s in stamps {
        let s = s.as_str().unwrap_or_default();
        assert!(
            s.ends_with("-06:00") || s.ends_with("-05:00"),
            "{s} does not carry Chicago's offset"
        );
    }
}

#[tokio::test]
async fn v2_objects_carry_exactly_the_documented_keys() {
    let w = world().await;
    let docs = documents(&w.app).await;
    for (path, d) in &docs {
        check_document(path, d);
    }

    // Groups list their children; plain components have no `components` key.
    let components = list(doc(&docs, "/api/v2/components.json"), "components");
    let groups: Vec<&Value> = components.iter().filter(|c| c["group"] == true).collect();
    assert_eq!(groups.len(), 3, "the demo has three pods");
    assert!(groups.iter().all(|g| list(g, "components").len() == 4));
    let plain = components
        .iter()
        .find(|c| c["name"] == "Public API")
        .unwrap_or_else(|| panic!("no Public API"));
    assert!(plain.get("components").is_none(), "{plain}");

    // Our own fixtures in their places, with their windows and affected components.
    let all_maint = list(
        doc(&docs, "/api/v2/scheduled-maintenances.json"),
        "scheduled_maintenances",
    );
    let active = find(all_maint, &w.active).unwrap_or_else(|| panic!("active maintenance missing"));
    assert_eq!(active["status"], "in_progress");
    assert!(parse_ts(&active["scheduled_for"]) < parse_ts(&active["scheduled_until"]));
    let affected = &active["incident_updates"][0]["affected_components"][0];
    check_affected(affected, "active maintenance affected component");
    assert_eq!(affected["new_status"], "under_maintenance");
    assert_eq!(
        active["components"][0]["status"], "under_maintenance",
        "components are in their current state"
    );
    let upcoming =
        find(all_maint, &w.upcoming).unwrap_or_else(|| panic!("upcoming maintenance missing"));
    assert_eq!(upcoming["status"], "scheduled");
    assert_eq!(upcoming["components"], json!([]));
    assert!(parse_ts(&upcoming["scheduled_for"]) > Utc::now().fixed_offset());

    let incidents = list(doc(&docs, "/api/v2/incidents.json"), "incidents");
    let resolved =
        find(incidents, &w.resolved).unwrap_or_else(|| panic!("resolved incident missing"));
    let statuses: Vec<&str> = list(resolved, "incident_updates")
        .iter()
        .filter_map(|u| u["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        ["resolved", "identified", "investigating"],
        "incident_updates are newest first"
    );
    assert!(
        resolved["incident_updates"][1]["affected_components"].is_null(),
        "an update that changed nothing has null"
    );

    let status = &doc(&docs, "/api/v2/status.json")["status"];
    assert_one_of(&status["indicator"], INDICATORS, "status.indicator");
}

#[tokio::test]
async fn v2_documents_agree_with_each_other() {
    let w = world().await;
    let docs = documents(&w.app).await;
    let summary = doc(&docs, "/api/v2/summary.json");

    assert_eq!(
        summary["status"],
        doc(&docs, "/api/v2/status.json")["status"],
        "summary.status == status.json"
    );
    let a = ids(list(summary, "components"));
    let b = ids(list(doc(&docs, "/api/v2/components.json"), "components"));
    assert_eq!(
        a, b,
        "summary.components == components.json, in the same order"
    );
    assert_eq!(
        a.iter().collect::<BTreeSet<_>>().len(),
        a.len(),
        "no duplicate components"
    );

    let unresolved = list(doc(&docs, "/api/v2/incidents/unresolved.json"), "incidents");
    assert_eq!(
        list(summary, "incidents"),
        unresolved,
        "summary.incidents is exactly unresolved.json"
    );
    assert!(!unresolved.is_empty(), "the demo has an open incident");
    for i in unresolved {
        assert_one_of(
            &i["status"],
            &["investigating", "identified", "monitoring"],
            "unresolved status",
        );
        assert!(i["resolved_at"].is_null(), "{i}");
    }

    let upcoming = list(
        doc(&docs, "/api/v2/scheduled-maintenances/upcoming.json"),
        "scheduled_maintenances",
    );
    let active = list(
        doc(&docs, "/api/v2/scheduled-maintenances/active.json"),
        "scheduled_maintenances",
    );
    assert!(
        upcoming.iter().all(|m| m["status"] == "scheduled"),
        "upcoming holds only `scheduled`"
    );
    assert!(
        active
            .iter()
            .all(|m| m["status"] == "in_progress" || m["status"] == "verifying"),
        "active holds only in_progress/verifying"
    );
    assert_eq!(ids(upcoming), [w.upcoming.as_str()]);
    assert_eq!(ids(active), [w.active.as_str()]);
    let current = list(summary, "scheduled_maintenances");
    let union: BTreeSet<String> = ids(upcoming).into_iter().chain(ids(active)).collect();
    let got: BTreeSet<String> = ids(current).into_iter().collect();
    assert_eq!(
        got, union,
        "summary.scheduled_maintenances is upcoming ∪ active"
    );
    assert_eq!(
        current.len(),
        union.len(),
        "no duplicates in summary.scheduled_maintenances"
    );
    for m in current {
        let same = find(upcoming, &id_of(m)).or_else(|| find(active, &id_of(m)));
        assert_eq!(
            Some(m),
            same,
            "the same object in summary and in upcoming/active"
        );
    }
    let all_maint = ids(list(
        doc(&docs, "/api/v2/scheduled-maintenances.json"),
        "scheduled_maintenances",
    ));
    // scheduled-maintenances.json holds every maintenance, completed ones with resolved_at.
    let completed = find(
        list(
            doc(&docs, "/api/v2/scheduled-maintenances.json"),
            "scheduled_maintenances",
        ),
        &w.completed,
    )
    .unwrap_or_else(|| panic!("the completed maintenance is not in scheduled-maintenances.json"));
    assert_eq!(completed["status"], "completed");
    assert_ts(
        &completed["resolved_at"],
        "a completed maintenance's resolved_at",
    );
    assert!(
        !union.contains(&w.completed),
        "a completed maintenance is neither upcoming nor active"
    );
    for id in union.iter() {
        assert!(
            all_maint.contains(id),
            "{id} missing from scheduled-maintenances.json"
        );
    }

    // incidents.json: incidents only, resolved ones included with resolved_at.
    let incidents = list(doc(&docs, "/api/v2/incidents.json"), "incidents");
    for i in incidents {
        assert!(
            i.get("scheduled_for").is_none(),
            "a maintenance in incidents.json: {}",
            i["name"]
        );
        assert!(
            !all_maint.contains(&id_of(i)),
            "a maintenance in incidents.json: {}",
            i["name"]
        );
    }
    for u in unresolved {
        assert!(
            find(incidents, &id_of(u)).is_some(),
            "unresolved {} missing from incidents.json",
            u["name"]
        );
    }
    let resolved = find(incidents, &w.resolved)
        .unwrap_or_else(|| panic!("the resolved incident is not in incidents.json"));
    assert_eq!(resolved["status"], "resolved");
    assert_ts(&resolved["resolved_at"], "resolved_at");
    assert!(
        find(unresolved, &w.resolved).is_none(),
        "a resolved incident is not unresolved"
    );
    let postmortem = incidents.iter().find(|i| i["status"] == "postmortem");
    let postmortem =
        postmortem.unwrap_or_else(|| panic!("the demo's postmortem incident is missing"));
    assert_ts(&postmortem["resolved_at"], "postmortem resolved_at");
    assert!(find(unresolved, &id_of(postmortem)).is_none());
}

type KeySets = BTreeMap<&'static str, BTreeSet<BTreeSet<String>>>;

/// Collects the key set of every object below `v`, by kind.
fn collect_keys(v: &Value, kind: &'static str, out: &mut KeySets) {
    match v {
        Value::Object(o) => {
            out.entry(kind)
                .or_default()
                .insert(o.keys().cloned().collect());
            for (k, child) in o {
                let sub = match k.as_str() {
                    "page" => "Page",
                    "status" => "Status",
                    "components" => "Component",
                    "incidents" => "Incident",
                    "scheduled_maintenances" => "ScheduledMaintenance",
                    "incident_updates" => "IncidentUpdate",
                    "affected_components" => "AffectedComponent",
                    _ => continue,
                };
                collect_keys(child, sub, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                collect_keys(x, kind, out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn v2_key_sets_equal_the_statuspage_examples() {
    let pairs = [
        ("/api/v2/summary.json", "summary.json"),
        ("/api/v2/status.json", "status.json"),
        ("/api/v2/components.json", "components.json"),
        ("/api/v2/incidents.json", "incidents.json"),
        (
            "/api/v2/incidents/unresolved.json",
            "incidents-unresolved.json",
        ),
        (
            "/api/v2/scheduled-maintenances.json",
            "scheduled-maintenances.json",
        ),
        (
            "/api/v2/scheduled-maintenances/upcoming.json",
            "scheduled-maintenances-upcoming.json",
        ),
        (
            "/api/v2/scheduled-maintenances/active.json",
            "scheduled-maintenances-active.json",
        ),
    ];
    // Read the examples first: a missing folder fails before any server starts.
    let examples: Vec<Value> = pairs
        .iter()
        .map(|(_, f)| herald_tests::statuspage_example(f))
        .collect();
    let w = world().await;
    let docs = documents(&w.app).await;

    let mut theirs = KeySets::new();
    let mut ours = KeySets::new();
    for ((path, file), example) in pairs.iter().zip(&examples) {
        let d = doc(&docs, path);
        assert_eq!(
            keys(d),
            keys(example),
            "{path}: top-level keys differ from examples/{file}"
        );
        collect_keys(example, "Document", &mut theirs);
        collect_keys(d, "Document", &mut ours);
    }
    theirs.remove("Document");
    ours.remove("Document");
    let kinds: BTreeSet<&str> = theirs.keys().chain(ours.keys()).copied().collect();
    for kind in kinds {
        let t = theirs.get(kind).cloned().unwrap_or_default();
        let o = ours.get(kind).cloned().unwrap_or_default();
        assert_eq!(
            o, t,
            "{kind}: the key sets Herald emits (left) differ from the examples' (right)"
        );
    }
    // Both kinds of component appear: plain, and groups with `components`.
    assert_eq!(ours.get("Component").map(BTreeSet::len), Some(2));
}
