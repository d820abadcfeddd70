//! Mail fan-out as an operator meets it: subscribers and tenants imported from files with
//! the command line, and Herald killed with SIGKILL in the middle of telling thousands of
//! people, then started again. Every recipient gets the update; the only repeats are
//! mails that were in flight at the kill, and they carry the same Message-ID.

use std::{collections::HashMap, time::Duration};

use herald_tests::smtp::Sink;
use serde_json::{Value, json};

use super::{Server, herald, run};

const SQLITE: &str = "sqlite://herald.db?mode=rwc";

/// The database for a test: a fresh PostgreSQL database when the suite runs on it.
async fn database() -> String {
    match super::postgres() {
        Some(_) => herald_tests::fresh_postgres().await,
        None => SQLITE.to_owned(),
    }
}

/// `herald KIND import FILE` on `db`: (success, stdout, stderr).
fn import(
    dir: &std::path::Path,
    db: &str,
    kind: &str,
    file: &std::path::Path,
) -> (bool, String, String) {
    let mut cmd = herald(dir);
    cmd.args([kind, "import"])
        .arg(file)
        .env("HERALD_DATABASE_URL", db);
    let (status, out, err) = run(cmd);
    (status.success(), out, err)
}

async fn api(s: &Server, token: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let page = reqwest::Client::new()
        .get(format!("{}/v1/pages", s.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json::<Value>()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let page_id = page[0]["id"].as_str().unwrap_or_default().to_owned();
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/v1/pages/{page_id}{path}", s.url))
        .bearer_auth(token);
    if !body.is_null() {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = res.status();
    let v = res.json::<Value>().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

#[tokio::test]
async fn subscribers_and_tenants_are_imported_from_csv_and_json() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = database().await;
    let mut s = Server::start(dir.path(), &[("HERALD_DATABASE_URL", db.as_str())]).await;
    let token = s.admin_token();
    let eu = api(
        &s,
        &token,
        reqwest::Method::POST,
        "/component-groups",
        json!({"component_group": {"name": "Prod2 (EU)", "components": []}}),
    )
    .await;
    let eu = eu["id"].as_str().unwrap_or_default().to_owned();
    api(
        &s,
        &token,
        reqwest::Method::POST,
        "/components",
        json!({"component": {"name": "Voice", "group_id": eu}}),
    )
    .await;
    api(
        &s,
        &token,
        reqwest::Method::POST,
        "/components",
        json!({"component": {"name": "Public API"}}),
    )
    .await;
    s.signal("TERM");
    s.wait(30).await;

    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "email,components\nada@example.com,Public API\nbob@example.com,Prod2 (EU) / Voice;Public API\ncyd@example.com,\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (ok, out, err) = import(dir.path(), &db, "subscribers", &csv);
    assert!(ok, "{out}{err}");
    assert!(out.contains("imported 3 subscribers"), "{out}");
    // Again: nothing new, and said so.
    let (ok, out, _) = import(dir.path(), &db, "subscribers", &csv);
    assert!(ok && out.contains("skipped 3"), "{out}");
    // A wrong row: nothing written, every problem named by its row.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "email,components\nnew@example.com,Public API\nnot-an-address,\nx@example.com,Billing\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, err) = import(dir.path(), &db, "subscribers", &bad);
    assert!(!ok, "{err}");
    assert!(err.contains("row 4") && err.contains("Billing"), "{err}");
    let tenants = dir.path().join("tenants.json");
    std::fs::write(
        &tenants,
        r#"{"tenants": [{"name": "Acme", "emails": ["ops@acme.test"], "groups": ["Prod2 (EU)"]},
                        {"name": "Globex", "emails": ["noc@globex.test"], "components": ["Public API"]}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (ok, out, err) = import(dir.path(), &db, "tenants", &tenants);
    assert!(ok, "{out}{err}");
    assert!(out.contains("imported 2 tenants"), "{out}");

    let s = Server::start(dir.path(), &[("HERALD_DATABASE_URL", db.as_str())]).await;
    let count = api(
        &s,
        &token,
        reqwest::Method::GET,
        "/subscribers/count",
        Value::Null,
    )
    .await;
    assert_eq!(
        count["email"],
        json!(3),
        "the bad file wrote nothing: {count}"
    );
    let bob = api(
        &s,
        &token,
        reqwest::Method::GET,
        "/subscribers?q=bob",
        Value::Null,
    )
    .await;
    assert_eq!(bob[0]["state"], "active");
    assert_eq!(
        bob[0]["components"].as_array().map(Vec::len),
        Some(2),
        "{bob}"
    );
    let t = api(&s, &token, reqwest::Method::GET, "/tenants", Value::Null).await;
    let acme = t
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == "Acme"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(acme["emails"], json!(["ops@acme.test"]), "{t}");
    assert_eq!(acme["group_ids"], json!([eu]), "{t}");
    s.stop().await;
}

#[tokio::test]
async fn a_fan_out_killed_midway_finishes_after_restart_without_losing_anyone() {
    const PEOPLE: usize = 2_000;
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = database().await;
    let smtp = sink.url();
    // Paced so the kill lands in the middle of the fan-out.
    let slow = [
        ("HERALD_DATABASE_URL", db.as_str()),
        ("HERALD_SMTP_URL", smtp.as_str()),
        ("HERALD_SMTP_RATE", "150"),
        // On PostgreSQL, another instance may hold a lease: a restarted one waits for
        // the killed one's leases to run out before it sends what they held.
        ("HERALD_DELIVERY_LEASE_SECS", "5"),
    ];
    let mut s = Server::start(dir.path(), &slow).await;
    let token = s.admin_token();
    s.signal("TERM");
    s.wait(30).await;
    let csv = dir.path().join("people.csv");
    let mut text = String::from("email,components\n");
    for n in 0..PEOPLE {
        text.push_str(&format!("person{n:05}@example.com,\n"));
    }
    std::fs::write(&csv, text).unwrap_or_else(|e| panic!("{e}"));
    let (ok, out, err) = import(dir.path(), &db, "subscribers", &csv);
    assert!(ok, "{out}{err}");

    let mut s = Server::start(dir.path(), &slow).await;
    api(
        &s,
        &token,
        reqwest::Method::POST,
        "/incidents",
        json!({"incident": {"name": "Voice calls fail", "body": "We are investigating."}}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while sink.count() < PEOPLE / 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the fan-out did not start:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.signal("KILL");
    s.wait(30).await;
    let at_kill = sink.count();
    assert!(
        at_kill < PEOPLE,
        "the fan-out was over before the kill ({at_kill})"
    );

    let fast = [
        ("HERALD_DATABASE_URL", db.as_str()),
        ("HERALD_SMTP_URL", smtp.as_str()),
        ("HERALD_SMTP_RATE", "2000"),
        ("HERALD_DELIVERY_LEASE_SECS", "5"),
    ];
    let s = Server::start(dir.path(), &fast).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let mut by_person: HashMap<String, Vec<String>> = HashMap::new();
    loop {
        by_person.clear();
        for m in sink.messages() {
            if m.subject().contains("Voice calls fail") {
                by_person
                    .entry(m.to.to_lowercase())
                    .or_default()
                    .push(m.message_id());
            }
        }
        if by_person.len() >= PEOPLE {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {PEOPLE} people were told after the restart:\n{}",
            by_person.len(),
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let repeats: Vec<(&String, &Vec<String>)> =
        by_person.iter().filter(|(_, ids)| ids.len() > 1).collect();
    eprintln!(
        "fan-out to {PEOPLE}: {at_kill} mails before SIGKILL, {} people told, {} repeats",
        by_person.len(),
        repeats.len()
    );
    for (who, ids) in &repeats {
        assert!(
            ids.iter().all(|i| i == &ids[0]),
            "{who} got different Message-IDs: {ids:?}"
        );
        assert_eq!(ids.len(), 2, "{who} got it {} times", ids.len());
    }
    // Only what was in flight repeats: at most the claimed batch of the killed process.
    assert!(repeats.len() <= 64, "{} repeats", repeats.len());
    // The ledger agrees: everyone delivered, nothing pending.
    for state in ["pending", "sending", "retrying", "failed", "dead"] {
        let left = api(
            &s,
            &token,
            reqwest::Method::GET,
            &format!("/deliveries?state={state}"),
            Value::Null,
        )
        .await;
        assert_eq!(left, json!([]), "{state}");
    }
    s.stop().await;
}
