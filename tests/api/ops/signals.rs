//! Signals and logs as a service manager meets them.

use std::{
    io::{Read, Write},
    time::Duration,
};

use serde_json::Value;

use super::Server;

const SQLITE: &str = "sqlite://herald.db?mode=rwc";

/// SIGINT drains: a request in flight when it arrives is answered, readiness fails,
/// and Herald exits 0 with the database closed. SIGHUP does not stop it.
#[tokio::test]
async fn sigint_drains_and_sighup_is_harmless() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut s = Server::start(dir.path(), &[("HERALD_DATABASE_URL", SQLITE)]).await;
    let token = s.admin_token();
    s.signal("HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        matches!(s.child.try_wait(), Ok(None)),
        "SIGHUP stopped Herald:\n{}",
        s.log()
    );
    s.ready().await;

    let status: Value = reqwest::get(format!("{}/api/v2/status.json", s.url))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let page_id = status["page"]["id"].as_str().unwrap_or("").to_owned();
    // A write whose body is still on its way when the signal comes.
    let body = r#"{"incident": {"name": "Sent during shutdown"}}"#;
    let mut conn =
        std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap_or_else(|e| panic!("{e}"));
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap_or_else(|e| panic!("{e}"));
    let head = format!(
        "POST /v1/pages/{page_id}/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: OAuth {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    conn.write_all(&body.as_bytes()[..10])
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.signal("INT");
    tokio::time::sleep(Duration::from_millis(500)).await;
    conn.write_all(&body.as_bytes()[10..])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the write in flight was answered: {answer}\n{}",
        s.log()
    );
    let exit = s.wait(30).await;
    assert!(exit.success(), "exit {exit}:\n{}", s.log());
    let log = s.log();
    assert!(log.contains("draining"), "{log}");
    assert!(log.contains("SIGHUP"), "{log}");
    assert!(
        std::fs::metadata(dir.path().join("herald.db-wal")).map_or(true, |m| m.len() == 0),
        "the database was closed"
    );
    // The write that was answered is there.
    let again = Server::start(dir.path(), &[("HERALD_DATABASE_URL", SQLITE)]).await;
    let doc = reqwest::get(format!("{}/api/v2/incidents/unresolved.json", again.url))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(doc.contains("Sent during shutdown"), "{doc}");
    again.stop().await;
}

/// One structured line per admin request, refusals included, with the client address
/// through a trusted proxy and never the query string.
#[tokio::test]
async fn every_admin_answer_is_logged_with_method_status_and_client() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = Server::start(
        dir.path(),
        &[
            ("HERALD_DATABASE_URL", SQLITE),
            ("HERALD_LOG_FORMAT", "json"),
            ("HERALD_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!(
            "{}/v1/pages/nope/incidents?api_key=wrong-secret",
            s.url
        ))
        .header("X-Forwarded-For", "198.51.100.7")
        .header("X-Request-Id", "req-401-test")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-401-test")
    );
    let token = s.admin_token();
    let r = client
        .get(format!("{}/v1/pages/nope/incidents", s.url))
        .header("Authorization", format!("OAuth {token}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404);
    let log = s.stop().await;
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "herald::access")
        .collect();
    let refused = lines
        .iter()
        .find(|l| l["status"] == 401)
        .unwrap_or_else(|| panic!("no line for the 401:\n{log}"));
    assert_eq!(refused["method"], "GET");
    assert_eq!(refused["path"], "/v1/pages/nope/incidents");
    assert_eq!(refused["client"], "198.51.100.7");
    assert_eq!(refused["request_id"], "req-401-test");
    assert!(!log.contains("wrong-secret"), "the query is never logged");
    let missing = lines
        .iter()
        .find(|l| l["status"] == 404)
        .unwrap_or_else(|| panic!("no line for the 404:\n{log}"));
    assert_eq!(missing["token"], "initial admin");
    assert!(!log.contains("\u{1b}["), "no colour codes in a file");
}
