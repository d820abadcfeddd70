//! The public side as Statuspage clients see it: the API v2 documents (shapes, agreement,
//! caching), the feeds, the calendar, the HTML pages, and a second instance catching up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use herald_tests::{Resp, TestApp};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

const V2: [&str; 8] = [
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
];

const PAGE_KEYS: &[&str] = &["id", "name", "url", "time_zone", "updated_at"];
const COMPONENT_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
];
const INCIDENT_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
];
const UPDATE_KEYS: &[&str] = &[
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
];
const AFFECTED_KEYS: &[&str] = &["code", "name", "old_status", "new_status"];

const COMPONENT_STATUSES: &[&str] = &[
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
];
const INCIDENT_STATUSES: &[&str] = &[
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "postmortem",
];
const MAINTENANCE_STATUSES: &[&str] = &["scheduled", "in_progress", "verifying", "completed"];
const INDICATORS: &[&str] = &["none", "minor", "major", "critical", "maintenance"];

// ---------------------------------------------------------------------------------------
// Fixtures

/// The demo page plus maintenances and a resolved incident of our own.
struct World {
    app: TestApp,
    /// A maintenance two days ahead (`scheduled`).
    upcoming: String,
    /// A maintenance that began ten minutes ago (`in_progress`).
    active: String,
    /// An incident opened and resolved.
    resolved: String,
    /// A maintenance carried out earlier today (`completed`).
    completed: String,
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let search = id_of(&app.create_component("Search", None).await);
    let billing = id_of(&app.create_component("Billing", None).await);
    let now = Utc::now();

    let upcoming = app
        .create_incident(json!({
            "name": "Database upgrade",
            "body": "We will upgrade the primary database. Writes may be delayed.",
            "scheduled_for": (now + Duration::days(2)).to_rfc3339(),
            "scheduled_until": (now + Duration::days(2) + Duration::hours(2)).to_rfc3339(),
        }))
        .await;
    assert_eq!(upcoming["status"], "scheduled", "{upcoming}");

    let active = app
        .create_incident(json!({
            "name": "Search index rebuild",
            "status": "in_progress",
            "body": "The rebuild is under way.",
            "scheduled_for": (now - Duration::minutes(10)).to_rfc3339(),
            "scheduled_until": (now + Duration::minutes(50)).to_rfc3339(),
            "components": {search.as_str(): "under_maintenance"},
        }))
        .await;
    assert_eq!(active["status"], "in_progress", "{active}");

    let completed = app
        .create_incident(json!({
            "name": "Certificate rotation",
            "status": "in_progress",
            "body": "We are rotating certificates.",
            "scheduled_for": (now - Duration::hours(3)).to_rfc3339(),
            "scheduled_until": (now - Duration::hours(2)).to_rfc3339(),
        }))
        .await;
    let completed = id_of(&completed);
    let c = app
        .update_incident(
            &completed,
            json!({"status": "completed", "body": "The rotation is done."}),
        )
        .await;
    assert_eq!(c["status"], "completed", "{c}");

    let resolved = app
        .create_incident(json!({
            "name": "Elevated billing errors",
            "status": "investigating",
            "body": "We are investigating elevated error rates on billing.",
            "components": {billing.as_str(): "partial_outage"},
        }))
        .await;
    let resolved = id_of(&resolved);
    app.update_incident(
        &resolved,
        json!({"status": "identified", "body": "A faulty deploy was identified."}),
    )
    .await;
    let r = app
        .update_incident(
            &resolved,
            json!({"status": "resolved", "body": "This incident has been resolved."}),
        )
        .await;
    assert_eq!(r["status"], "resolved", "{r}");

    World {
        upcoming: id_of(&upcoming),
        active: id_of(&active),
        resolved,
        completed,
        app,
    }
}

/// Every v2 document, by path.
async fn documents(app: &TestApp) -> BTreeMap<&'static str, Value> {
    let mut out = BTreeMap::new();
    for path in V2 {
        out.insert(path, app.public(path).await.expect(200).json());
    }
    out
}

fn doc<'a>(docs: &'a BTreeMap<&'static str, Value>, path: &str) -> &'a Value {
    docs.get(path)
        .unwrap_or_else(|| panic!("{path} was not fetched"))
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("`{key}` is not an array in {v}"))
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id_of).collect()
}

fn find<'a>(items: &'a [Value], id: &str) -> Option<&'a Value> {
    items.iter().find(|i| i["id"] == id)
}

/// A raw GET (bytes, not text) with extra headers.
async fn raw(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = app.client.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = res.status();
    let headers = res.headers().clone();
    let body = res
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("{path}: body: {e}"))
        .to_vec();
    (status, headers, body)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

// ---------------------------------------------------------------------------------------
// Shape checks

/// ISO 8601 with milliseconds and an offset: `YYYY-MM-DDTHH:MM:SS.mmm(Z|±HH:MM)`.
fn is_ts(s: &str) -> bool {
    let b = s.as_bytes();
    let head = b"dddd-dd-ddTdd:dd:dd.ddd";
    if b.len() < head.len() + 1 {
        return false;
    }
    let head_ok = head.iter().zip(b).all(|(p, c)| {
        if *p == b'd' {
            c.is_ascii_digit()
        } else {
            c == p
        }
    });
    let tail = &b[head.len()..];
    let tail_ok = tail == b"Z"
        || (tail.len() == 6
            && (tail[0] == b'+' || tail[0] == b'-')
            && tail[1].is_ascii_digit()
            && tail[2].is_ascii_digit()
            && tail[3] == b':'
            && tail[4].is_ascii_digit()
            && tail[5].is_ascii_digit());
    head_ok && tail_ok && DateTime::parse_from_rfc3339(s).is_ok()
}

fn is_id(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(k: &[&str]) -> BTreeSet<String> {
    k.iter().map(|s| (*s).to_owned()).collect()
}

#[track_caller]
fn assert_keys(v: &Value, expected: &BTreeSet<String>, what: &str) {
    let got = keys(v);
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:?}, unexpected {extra:?} in {v}"
    );
}

#[track_caller]
fn assert_ts(v: &Value, what: &str) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    assert!(
        is_ts(s),
        "{what} = {s:?} is not ISO 8601 with milliseconds and an offset"
    );
}

#[track_caller]
fn assert_ts_or_null(v: &Value, what: &str) {
    if !v.is_null() {
        assert_ts(v, what);
    }
}

#[track_caller]
fn assert_id(v: &Value, what: &str) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    assert!(is_id(s), "{what} = {s:?} is not 12 lowercase alphanumerics");
}

#[track_caller]
fn assert_str_or_null(v: &Value, what: &str) {
    assert!(
        v.is_null() || v.is_string(),
        "{what} must be a string or null: {v}"
    );
}

#[track_caller]
fn assert_one_of(v: &Value, allowed: &[&str], what: &str) {
    let s = v.as_str().unwrap_or_default();
    assert!(
        allowed.contains(&s),
        "{what} = {v} is not one of {allowed:?}"
    );
}

fn parse_ts(v: &Value) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn check_page(p: &Value, what: &str) {
    assert_keys(p, &set(PAGE_KEYS), &format!("{what}.page"));
    assert_id(&p["id"], &format!("{what}.page.id"));
    for k in ["name", "url", "time_zone"] {
        assert!(
            p[k].as_str().is_some_and(|s| !s.is_empty()),
            "{what}.page.{k}: {p}"
        );
    }
    assert_ts(&p["updated_at"], &format!("{what}.page.updated_at"));
}

fn check_status(s: &Value, what: &str) {
    assert_keys(s, &set(&["indicator", "description"]), what);
    assert_one_of(&s["indicator"], INDICATORS, &format!("{what}.indicator"));
    assert!(
        s["description"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}.description: {s}"
    );
}

fn check_component(c: &Value, page_id: &str, what: &str) {
    let what = format!("{what} component {}", c["name"]);
    let group = c["group"]
        .as_bool()
        .unwrap_or_else(|| panic!("{what}: `group` is not a bool: {c}"));
    let mut expected = set(COMPONENT_KEYS);
    if group {
        expected.insert("components".into());
    }
    assert_keys(c, &expected, &what);
    assert_id(&c["id"], &format!("{what}.id"));
    assert!(c["name"].is_string(), "{what}.name");
    assert_one_of(&c["status"], COMPONENT_STATUSES, &format!("{what}.status"));
    assert_ts(&c["created_at"], &format!("{what}.created_at"));
    assert_ts(&c["updated_at"], &format!("{what}.updated_at"));
    assert!(
        c["position"].is_i64(),
        "{what}.position is not an integer: {c}"
    );
    assert_str_or_null(&c["description"], &format!("{what}.description"));
    assert!(c["showcase"].is_boolean(), "{what}.showcase: {c}");
    assert!(
        c["start_date"].is_null() || c["start_date"].as_str().is_some_and(is_date),
        "{what}.start_date: {c}"
    );
    if !c["group_id"].is_null() {
        assert_id(&c["group_id"], &format!("{what}.group_id"));
    }
    assert_eq!(c["page_id"], page_id, "{what}.page_id");
    assert!(
        c["only_show_if_degraded"].is_boolean(),
        "{what}.only_show_if_degraded: {c}"
    );
    if group {
        for child in list(c, "components") {
            assert_id(child, &format!("{what}.components[]"));
        }
    }
}

fn check_affected(a: &Value, what: &str) {
    assert_keys(a, &set(AFFECTED_KEYS), what);
    assert_id(&a["code"], &format!("{what}.code"));
    assert!(a["name"].is_string(), "{what}.name: {a}");
    assert_one_of(
        &a["old_status"],
        COMPONENT_STATUSES,
        &format!("{what}.old_status"),
    );
    assert_one_of(
        &a["new_status"],
        COMPONENT_STATUSES,
        &format!("{what}.new_status"),
    );
}

fn check_update(u: &Value, incident_id: &str, what: &str) {
    assert_keys(u, &set(UPDATE_KEYS), what);
    assert_id(&u["id"], &format!("{what}.id"));
    let all: Vec<&str> = INCIDENT_STATUSES
        .iter()
        .chain(MAINTENANCE_STATUSES)
        .copied()
        .collect();
    assert_one_of(&u["status"], &all, &format!("{what}.status"));
    assert!(u["body"].is_string(), "{what}.body: {u}");
    assert_eq!(u["incident_id"], incident_id, "{what}.incident_id");
    for k in ["created_at", "updated_at", "display_at"] {
        assert_ts(&u[k], &format!("{what}.{k}"));
    }
    match &u["affected_components"] {
        Value::Null => {}
        Value::Array(a) => {
            for x in a {
                check_affected(x, &format!("{what}.affected_components[]"));
            }
        }
        other => panic!("{what}.affected_components is neither null nor an array: {other}"),
    }
    assert!(
        u["deliver_notifications"].is_boolean(),
        "{what}.deliver_notifications: {u}"
    );
    assert_str_or_null(&u["custom_tweet"], &format!("{what}.custom_tweet"));
    assert_str_or_null(&u["tweet_id"], &format!("{what}.tweet_id"));
}

fn check_incident(i: &Value, page_id: &str, maintenance: bool, what: &str) {
    let what = format!("{what} {}", i["name"]);
    let mut expected = set(INCIDENT_KEYS);
    if maintenance {
        expected.insert("scheduled_for".into());
        expected.insert("scheduled_until".into());
    }
    assert_keys(i, &expected, &what);
    let id = i["id"].as_str().unwrap_or_default();
    assert_id(&i["id"], &format!("{what}.id"));
    assert!(i["name"].is_string(), "{what}.name");
    if maintenance {
        assert_one_of(
            &i["status"],
            MAINTENANCE_STATUSES,
            &format!("{what}.status"),
        );
        assert_eq!(i["impact"], "maintenance", "{what}.impact");
        assert_ts(&i["scheduled_for"], &format!("{what}.scheduled_for"));
        assert_ts(&i["scheduled_until"], &format!("{what}.scheduled_until"));
    } else {
        assert_one_of(&i["status"], INCIDENT_STATUSES, &format!("{what}.status"));
        assert_one_of(
            &i["impact"],
            &["none", "minor", "major", "critical"],
            &format!("{what}.impact"),
        );
    }
    for k in ["created_at", "updated_at", "started_at"] {
        assert_ts(&i[k], &format!("{what}.{k}"));
    }
    assert_ts_or_null(&i["monitoring_at"], &format!("{what}.monitoring_at"));
    assert_ts_or_null(&i["resolved_at"], &format!("{what}.resolved_at"));
    let shortlink = i["shortlink"].as_str().unwrap_or_default();
    assert!(
        shortlink.ends_with(&format!("/incidents/{id}")),
        "{what}.shortlink = {shortlink}"
    );
    assert_eq!(i["page_id"], page_id, "{what}.page_id");

    let updates = list(i, "incident_updates");
    assert!(!updates.is_empty(), "{what} has no updates");
    for u in updates {
        check_update(u, id, &format!("{what}.incident_updates[]"));
    }
    let times: Vec<_> = updates.iter().map(|u| parse_ts(&u["display_at"])).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "{what}: incident_updates are not newest first: {times:?}"
    );
    if i["status"] != "postmortem" {
        assert_eq!(
            updates[0]["status"], i["status"],
            "{what}: the newest update carries the current status"
        );
    }
    for c in list(i, "components") {
        check_component(c, page_id, &format!("{what}.components[]"));
    }
}

/// Validates one v2 document against API.md section 2.
fn check_document(path: &str, d: &Value) {
    let top: &[&str] = match path {
        "/api/v2/summary.json" => &[
            "page",
            "components",
            "incidents",
            "scheduled_maintenances",
            "status",
        ],
        "/api/v2/status.json" => &["page", "status"],
        "/api/v2/components.json" => &["page", "components"],
        "/api/v2/incidents.json" | "/api/v2/incidents/unresolved.json" => &["page", "incidents"],
        _ => &["page", "scheduled_maintenances"],
    };
    assert_keys(d, &set(top), path);
    check_page(&d["page"], path);
    let page_id = d["page"]["id"].as_str().unwrap_or_default();
    if d.get("status").is_some() {
        check_status(&d["status"], &format!("{path} status"));
    }
    if d.get("components").is_some() {
        let all = list(d, "components");
        for c in all {
            check_component(c, page_id, path);
        }
        let positions: Vec<i64> = all.iter().filter_map(|c| c["position"].as_i64()).collect();
        assert!(
            positions.windows(2).all(|w| w[0] <= w[1]),
            "{path}: components are not by position: {positions:?}"
        );
        for g in all.iter().filter(|c| c["group"] == true) {
            let children: BTreeSet<String> = all
                .iter()
                .filter(|c| c["group_id"] == g["id"])
                .map(id_of)
                .collect();
            let listed: BTreeSet<String> = list(g, "components")
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            assert_eq!(
                listed, children,
                "{path}: group {} lists other children than point to it",
                g["name"]
            );
        }
    }
    for (key, maintenance) in [("incidents", false), ("scheduled_maintenances", true)] {
        if d.get(key).is_some() {
            let items = list(d, key);
            for i in items {
                check_incident(i, page_id, maintenance, &format!("{path} {key}[]"));
            }
            if path != "/api/v2/summary.json" {
                let created: Vec<_> = items.iter().map(|i| parse_ts(&i["created_at"])).collect();
                assert!(
                    created.windows(2).all(|w| w[0] >= w[1]),
                    "{path}: {key} are not newest first"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// API v2

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

/// Where the Statuspage example documents live: `shared/` beside the repository.
fn examples_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/statuspage/examples");
    assert!(
        dir.is_dir(),
        "the Statuspage example documents are missing: expected them in {} (the `shared/` folder beside the repository; clone it next to the repo)",
        dir.display()
    );
    dir
}

fn read_example(name: &str) -> Value {
    let path = examples_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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
    let examples: Vec<Value> = pairs.iter().map(|(_, f)| read_example(f)).collect();
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

#[tokio::test]
async fn an_admin_change_shows_on_the_next_public_request() {
    let app = TestApp::spawn().await;
    let api = id_of(&app.create_component("API", None).await);
    let before = app.public("/api/v2/status.json").await.expect(200).json();
    assert_eq!(before["status"]["indicator"], "none");

    let inc = app
        .create_incident(json!({"name": "Checkout failing everywhere", "status": "investigating", "components": {api.as_str(): "major_outage"}}))
        .await;
    let id = id_of(&inc);
    // No wait, no retry: the very next request sees it.
    let summary = app.public("/api/v2/summary.json").await.expect(200).json();
    assert!(
        find(list(&summary, "incidents"), &id).is_some(),
        "{summary}"
    );
    assert_eq!(summary["status"]["indicator"], "critical");
    assert_eq!(summary["components"][0]["status"], "major_outage");
    let home = app.public("/").await.expect(200);
    assert!(
        home.text.contains("Checkout failing everywhere"),
        "the page does not show the new incident"
    );
    app.public(&format!("/incidents/{id}")).await.expect(200);
    let live = app.public("/live.json").await.expect(200).json();
    assert_eq!(live["status"]["indicator"], "critical");

    app.update_incident(&id, json!({"status": "resolved"}))
        .await;
    let unresolved = app
        .public("/api/v2/incidents/unresolved.json")
        .await
        .expect(200)
        .json();
    assert_eq!(unresolved["incidents"], json!([]));
    let status = app.public("/api/v2/status.json").await.expect(200).json();
    assert_eq!(status["status"]["indicator"], "none");
    assert_eq!(status["status"]["description"], "All Systems Operational");

    // A maintenance starting now, with nothing else wrong, shows as `maintenance`.
    let now = Utc::now();
    let m = app
        .create_incident(json!({
            "name": "Failover drill",
            "status": "in_progress",
            "scheduled_for": (now - Duration::minutes(1)).to_rfc3339(),
            "scheduled_until": (now + Duration::hours(1)).to_rfc3339(),
            "components": {api.as_str(): "under_maintenance"},
        }))
        .await;
    let summary = app.public("/api/v2/summary.json").await.expect(200).json();
    assert_eq!(
        summary["status"]["indicator"], "maintenance",
        "{}",
        summary["status"]
    );
    assert_eq!(
        summary["status"]["description"],
        "Service Under Maintenance"
    );
    assert_eq!(ids(list(&summary, "scheduled_maintenances")), [id_of(&m)]);
    assert_eq!(summary["components"][0]["status"], "under_maintenance");
}

#[tokio::test]
async fn etags_cache_headers_and_compression() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let path = "/api/v2/summary.json";

    let (status, h, identity) = raw(&app, path, &[]).await;
    assert_eq!(status, 200);
    let etag = header(&h, "etag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "ETag {etag:?}"
    );
    let cc = header(&h, "cache-control");
    for d in ["max-age", "stale-while-revalidate", "stale-if-error"] {
        assert!(cc.contains(d), "Cache-Control {cc:?} lacks {d}");
    }
    assert!(
        header(&h, "vary")
            .to_lowercase()
            .contains("accept-encoding"),
        "Vary: {:?}",
        header(&h, "vary")
    );
    assert!(
        header(&h, "content-encoding").is_empty(),
        "identity unless asked"
    );

    let (status, h304, body) = raw(&app, path, &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 304);
    assert!(body.is_empty(), "a 304 has no body");
    assert_eq!(header(&h304, "etag"), etag);

    for (accept, coding, magic) in [("br", "br", None), ("gzip", "gzip", Some([0x1f_u8, 0x8b]))] {
        let (status, h, body) = raw(&app, path, &[("Accept-Encoding", accept)]).await;
        assert_eq!(status, 200);
        assert_eq!(
            header(&h, "content-encoding"),
            coding,
            "Accept-Encoding: {accept}"
        );
        assert_eq!(
            header(&h, "content-type"),
            "application/json; charset=utf-8"
        );
        assert!(
            body.len() < identity.len(),
            "{coding}: {} bytes is not smaller than {}",
            body.len(),
            identity.len()
        );
        if let Some(m) = magic {
            assert_eq!(body.get(..2), Some(&m[..]), "gzip magic");
        }
        // A conditional request for the compressed variant also answers 304.
        let tag = header(&h, "etag").to_owned();
        let (status, _, _) = raw(
            &app,
            path,
            &[("Accept-Encoding", accept), ("If-None-Match", &tag)],
        )
        .await;
        assert_eq!(status, 304, "{coding} ETag {tag}");
    }

    app.create_incident(json!({"name": "Cache buster"})).await;
    let (status, h, _) = raw(&app, path, &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 200, "the old ETag no longer matches");
    assert_ne!(
        header(&h, "etag"),
        etag,
        "the ETag changes with the content"
    );
}

// ---------------------------------------------------------------------------------------
// Feeds and calendar

/// Decodes XML/HTML character references once, as a feed reader does.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let end = rest.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text between the first `open` and the following `close`.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

#[tokio::test]
async fn atom_rss_and_calendar_feeds_follow_statuspage() {
    let w = world().await;
    let app = &w.app;
    let docs = documents(app).await;
    let page = &doc(&docs, "/api/v2/summary.json")["page"];
    let page_url = page["url"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();
    let host = url::Url::parse(&page_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    assert!(!host.is_empty(), "{page_url}");
    let name = page["name"].as_str().unwrap_or_default();
    let title = format!("{name} Status - Incident History");

    // Everything the feeds should hold, newest first, with its current status label.
    let mut everything: Vec<Value> =
        list(doc(&docs, "/api/v2/incidents.json"), "incidents").to_vec();
    everything.extend(
        list(
            doc(&docs, "/api/v2/scheduled-maintenances.json"),
            "scheduled_maintenances",
        )
        .iter()
        .cloned(),
    );
    everything.sort_by_key(|i| std::cmp::Reverse(parse_ts(&i["created_at"])));
    let label = |status: &str| match status {
        "in_progress" => "In progress".to_owned(),
        s => {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    };

    // Atom.
    let atom = app.public("/history.atom").await.expect(200);
    assert!(
        atom.header("content-type")
            .unwrap_or_default()
            .starts_with("application/atom+xml"),
        "{:?}",
        atom.header("content-type")
    );
    let xml = &atom.text;
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains(&format!("<id>tag:{host},2005:/history</id>")),
        "feed id missing: {xml}"
    );
    assert!(
        xml.contains(&format!("<title>{title}</title>")),
        "feed title missing: {xml}"
    );
    let entries: Vec<&str> = xml.split("<entry>").skip(1).collect();
    assert_eq!(
        entries.len(),
        everything.len(),
        "one entry per incident or maintenance"
    );
    let mut published = Vec::new();
    for (entry, expected) in entries.iter().zip(&everything) {
        let id = id_of(expected);
        assert_eq!(
            between(entry, "<id>", "</id>"),
            Some(format!("tag:{host},2005:Incident/{id}").as_str()),
            "entries are newest first"
        );
        assert!(
            entry.contains(&format!("href=\"{page_url}/incidents/{id}\"")),
            "entry link: {entry}"
        );
        assert_eq!(
            between(entry, "<title>", "</title>").map(unescape),
            expected["name"].as_str().map(str::to_owned)
        );
        published.push(
            between(entry, "<published>", "</published>")
                .map(str::to_owned)
                .unwrap_or_default(),
        );
        assert!(
            between(entry, "<updated>", "</updated>").is_some(),
            "{entry}"
        );
        let content = between(entry, "<content type=\"html\">", "</content>")
            .unwrap_or_else(|| panic!("no content: {entry}"));
        assert!(!content.contains('<'), "content is escaped HTML: {content}");
        let html = unescape(content);
        let strong = between(&html, "<strong>", "</strong>")
            .unwrap_or_else(|| panic!("no <strong>: {html}"));
        let newest = expected["incident_updates"][0]["status"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(
            strong,
            label(newest),
            "the first <strong> of {} is its current status",
            expected["name"]
        );
        assert!(
            html.starts_with("<p><small>") && html.contains("<var data-var='date'>"),
            "{html}"
        );
        assert_eq!(
            html.matches("<strong>").count(),
            list(expected, "incident_updates").len(),
            "one paragraph per update"
        );
    }
    assert!(published.iter().all(|p| is_ts(p)), "{published:?}");
    let resolved_entry = entries
        .iter()
        .find(|e| e.contains(&format!("Incident/{}</id>", w.resolved)))
        .map(|e| unescape(e))
        .unwrap_or_default();
    assert!(
        resolved_entry.contains("<strong>Resolved</strong> - This incident has been resolved."),
        "{resolved_entry}"
    );

    // RSS.
    let rss = app.public("/history.rss").await.expect(200);
    assert!(
        rss.header("content-type")
            .unwrap_or_default()
            .starts_with("application/rss+xml"),
        "{:?}",
        rss.header("content-type")
    );
    let channel = between(&rss.text, "<channel>", "</channel>")
        .unwrap_or_else(|| panic!("no channel: {}", rss.text));
    assert_eq!(
        between(channel, "<title>", "</title>"),
        Some(title.as_str())
    );
    assert_eq!(
        between(channel, "<link>", "</link>"),
        Some(page_url.as_str())
    );
    let items: Vec<&str> = channel.split("<item>").skip(1).collect();
    assert_eq!(
        items.len(),
        everything.len(),
        "one item per incident or maintenance"
    );
    for (item, expected) in items.iter().zip(&everything) {
        let link = format!("{page_url}/incidents/{}", id_of(expected));
        assert_eq!(
            between(item, "<guid>", "</guid>"),
            Some(link.as_str()),
            "{item}"
        );
        assert_eq!(
            between(item, "<link>", "</link>"),
            Some(link.as_str()),
            "{item}"
        );
        let date = between(item, "<pubDate>", "</pubDate>").unwrap_or_default();
        assert!(
            DateTime::parse_from_rfc2822(date).is_ok(),
            "pubDate {date:?} is not RFC 822"
        );
        let html = unescape(between(item, "<description>", "</description>").unwrap_or_default());
        assert!(html.starts_with("<p><small>"), "{html}");
    }

    // The page advertises both feeds.
    let home = app.public("/").await.expect(200);
    let head = between(&home.text, "<head>", "</head>").unwrap_or_else(|| panic!("no <head>"));
    for (ty, file) in [
        ("application/atom+xml", "history.atom"),
        ("application/rss+xml", "history.rss"),
    ] {
        let link = head
            .split("<link ")
            .find(|l| l.contains("rel=\"alternate\"") && l.contains(&format!("type=\"{ty}\"")))
            .unwrap_or_else(|| panic!("<head> does not advertise {ty}: {head}"));
        assert!(link.contains(file), "{link}");
    }

    // iCalendar: one VEVENT per maintenance.
    let ics = app.public("/maintenance.ics").await.expect(200);
    assert!(
        ics.header("content-type")
            .unwrap_or_default()
            .starts_with("text/calendar"),
        "{:?}",
        ics.header("content-type")
    );
    let unfolded = ics
        .text
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace('\r', "");
    assert!(unfolded.starts_with("BEGIN:VCALENDAR"), "{unfolded}");
    let events: Vec<&str> = unfolded.split("BEGIN:VEVENT").skip(1).collect();
    let maintenances = list(
        doc(&docs, "/api/v2/scheduled-maintenances.json"),
        "scheduled_maintenances",
    );
    assert_eq!(
        events.len(),
        maintenances.len(),
        "one VEVENT per maintenance: {unfolded}"
    );
    for m in maintenances {
        let summary = format!("SUMMARY:{}", m["name"].as_str().unwrap_or_default());
        let event = events
            .iter()
            .find(|e| e.lines().any(|l| l == summary))
            .unwrap_or_else(|| panic!("no VEVENT with {summary}: {unfolded}"));
        assert!(event.contains("DTSTART"), "{event}");
        assert!(event.contains("END:VEVENT"), "{event}");
    }
}

// ---------------------------------------------------------------------------------------
// Several instances

#[tokio::test]
async fn a_second_instance_catches_up_within_two_seconds() {
    let app = TestApp::spawn().await;
    let sibling = app.sibling().await;
    let before = sibling
        .public("/api/v2/summary.json")
        .await
        .expect(200)
        .json();
    assert_eq!(before["incidents"], json!([]));

    let id = id_of(
        &app.create_incident(json!({"name": "Seen from elsewhere"}))
            .await,
    );
    let start = tokio::time::Instant::now();
    loop {
        let s = sibling
            .public("/api/v2/summary.json")
            .await
            .expect(200)
            .json();
        if find(list(&s, "incidents"), &id).is_some() {
            break;
        }
        assert!(
            start.elapsed() <= StdDuration::from_secs(2),
            "the sibling did not show the incident within 2 s: {s}"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    // And the other way round, for a change of status.
    sibling
        .update_incident(&id, json!({"status": "resolved"}))
        .await;
    let start = tokio::time::Instant::now();
    loop {
        let s = app
            .public("/api/v2/incidents/unresolved.json")
            .await
            .expect(200)
            .json();
        if s["incidents"] == json!([]) {
            break;
        }
        assert!(
            start.elapsed() <= StdDuration::from_secs(2),
            "the first instance did not see the resolution within 2 s"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    sibling.stop().await;
}

// ---------------------------------------------------------------------------------------
// HTML pages

fn assert_html(r: &Resp, what: &str) {
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "{what}: {:?}",
        r.header("content-type")
    );
    let lower = r.text.to_lowercase();
    assert!(lower.starts_with("<!doctype html>"), "{what}: {}", r.text);
    for leak in [
        "panicked",
        "stack backtrace",
        "rust_backtrace",
        ".rs:",
        "internal error",
    ] {
        assert!(!lower.contains(leak), "{what} leaks {leak:?}: {}", r.text);
    }
}

#[tokio::test]
async fn incident_pages_history_and_errors() {
    let w = world().await;
    let app = &w.app;
    let docs = documents(app).await;
    let incidents = list(doc(&docs, "/api/v2/incidents.json"), "incidents");

    // The demo's resolved incident, with its published postmortem.
    let demo = incidents
        .iter()
        .find(|i| i["status"] == "postmortem")
        .unwrap_or_else(|| panic!("no postmortem incident"));
    let r = app
        .public(&format!("/incidents/{}", id_of(demo)))
        .await
        .expect(200);
    assert_html(&r, "demo incident page");
    assert!(
        r.text.contains(demo["name"].as_str().unwrap_or_default()),
        "name missing"
    );
    assert!(r.text.contains("Duration"), "duration missing");
    assert!(
        r.text
            .contains("A deploy reduced the number of queue consumers"),
        "postmortem missing"
    );
    assert!(
        r.text.contains(">Root cause</h") && !r.text.contains("## Root cause"),
        "the postmortem's Markdown is rendered (its headings as HTML headings)"
    );

    // Our resolved incident: a draft postmortem stays hidden until it is published.
    let page = format!("/incidents/{}", w.resolved);
    let r = app.public(&page).await.expect(200);
    assert_html(&r, "resolved incident page");
    assert!(r.text.contains("Elevated billing errors") && r.text.contains("Duration"));
    for u in [
        "We are investigating elevated error rates on billing.",
        "A faulty deploy was identified.",
        "This incident has been resolved.",
    ] {
        assert!(r.text.contains(u), "update {u:?} missing");
    }
    let pm = app.page_path(&format!("/incidents/{}/postmortem", w.resolved));
    app.put(
        &pm,
        json!({"postmortem": {"body_draft": "The billing queue ran dry."}}),
    )
    .await
    .expect(200);
    let r = app.public(&page).await.expect(200);
    assert!(
        !r.text.contains("The billing queue ran dry."),
        "a draft postmortem is not public"
    );
    app.put(
        &format!("{pm}/publish"),
        json!({"postmortem": {"notify_subscribers": false}}),
    )
    .await
    .expect(200);
    let r = app.public(&page).await.expect(200);
    assert!(
        r.text.contains("The billing queue ran dry."),
        "the published postmortem shows at once"
    );

    // Unknown incidents and paths get the friendly page.
    for path in [
        "/incidents/zzzzzzzzzzzz",
        "/incidents/no-such-thing",
        "/no/such/page",
    ] {
        let r = app.public(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_html(&r, path);
        assert!(
            r.text.to_lowercase().contains("not found"),
            "{path}: {}",
            r.text
        );
    }

    // History lists incidents and maintenances.
    let r = app.public("/history").await.expect(200);
    assert_html(&r, "history");
    for name in [
        "Elevated billing errors",
        "Database upgrade",
        "Search index rebuild",
        demo["name"].as_str().unwrap_or_default(),
    ] {
        assert!(r.text.contains(name), "history lacks {name}");
    }
    assert!(
        r.text
            .contains(&format!("href=\"/incidents/{}\"", w.resolved)),
        "history links to incident pages"
    );

    // The public side is read-only.
    for path in ["/", "/api/v2/summary.json", page.as_str()] {
        let r = app.send(Method::POST, path, None, Some(json!({}))).await;
        assert_eq!(r.status, 405, "POST {path}");
    }
}

#[tokio::test]
async fn hostile_markdown_is_inert_on_pages_and_in_feeds() {
    let app = TestApp::spawn().await;
    let body = "Update with <script>alert('xss')</script> a picture <img src=x onerror=\"alert(2)\"> \
                and [click me](javascript:alert(3)) and <a href=\"JaVaScRiPt:alert(4)\">this</a>.";
    let inc = app
        .create_incident(
            json!({"name": "Hostile body check", "status": "investigating", "body": body}),
        )
        .await;
    let id = id_of(&inc);
    app.update_incident(
        &id,
        json!({"status": "identified", "body": "Second <script>document.cookie</script> update"}),
    )
    .await;

    for path in [format!("/incidents/{id}"), "/".to_owned()] {
        let r = app.public(&path).await.expect(200);
        let lower = r.text.to_lowercase();
        let scripts = lower.matches("<script").count();
        let ours = lower.matches("<script src=\"/static/herald.js").count();
        assert_eq!(
            scripts, ours,
            "{path}: a <script> from the update survived: {}",
            r.text
        );
        for bad in ["onerror", "javascript:", "alert("] {
            assert!(!lower.contains(bad), "{path}: {bad:?} survived: {}", r.text);
        }
        assert!(
            r.text.contains("Second"),
            "{path}: the latest update is shown"
        );
    }
    let page = app.public(&format!("/incidents/{id}")).await.text;
    assert!(
        page.contains("click me"),
        "harmless text of the first update stays"
    );

    for path in ["/history.atom", "/history.rss"] {
        let r = app.public(path).await.expect(200);
        let raw = r.text.to_lowercase();
        assert!(
            !raw.contains("<script"),
            "{path}: a raw <script> in the XML"
        );
        // What a feed reader renders: the content decoded once.
        let rendered = unescape(&r.text).to_lowercase();
        for bad in ["<script", "onerror", "javascript:"] {
            assert!(
                !rendered.contains(bad),
                "{path}: {bad:?} survives decoding: {rendered}"
            );
        }
        assert!(rendered.contains("click me"), "{path}: harmless text stays");
    }

    // A hostile incident name is shown as text, never as markup.
    let name = "Name <img src=x onerror=alert(5)> check";
    let hostile = id_of(&app.create_incident(json!({"name": name})).await);
    for path in [
        format!("/incidents/{hostile}"),
        "/".to_owned(),
        "/history".to_owned(),
    ] {
        let r = app.public(&path).await.expect(200);
        assert!(
            !r.text.to_lowercase().contains("<img src=x"),
            "{path}: the name became markup: {}",
            r.text
        );
        assert!(
            r.text.contains("Name &lt;img"),
            "{path}: the name is shown, escaped"
        );
    }
    for path in ["/history.atom", "/history.rss"] {
        let r = app.public(path).await.expect(200);
        assert!(
            !r.text.to_lowercase().contains("<img"),
            "{path}: the name became markup: {}",
            r.text
        );
    }
}
