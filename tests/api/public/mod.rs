//! The public side as Statuspage clients see it: the API v2 documents (shapes, agreement,
//! caching), the feeds, the calendar, the HTML pages, and a second instance catching up.

mod documents;
mod incremental;
mod serving;

use std::collections::{BTreeMap, BTreeSet};
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
