//! Probes answer within two seconds in every state; a database outage keeps the public
//! page ready (it is served from memory) and shows in the admin readiness.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::{io::copy_bidirectional, net::TcpListener};

use super::{Server, skip_without_postgres};

/// A TCP relay to PostgreSQL that the test can cut.
async fn relay(to: String) -> (u16, tokio::sync::watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let (cut, watch) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let to = to.clone();
            let mut cut = watch.clone();
            tokio::spawn(async move {
                if *cut.borrow() {
                    return;
                }
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await else {
                    return;
                };
                tokio::select! {
                    _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = cut.wait_for(|c| *c) => {}
                }
            });
        }
    });
    (port, cut)
}

async fn timed(url: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let r = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or_default();
    (status, body, started.elapsed())
}

#[tokio::test]
async fn probes_answer_quickly_while_the_database_is_down() {
    let Some(_) = skip_without_postgres("probes_answer_quickly_while_the_database_is_down") else {
        return;
    };
    let db = herald_tests::fresh_postgres().await;
    let mut url = url::Url::parse(&db).unwrap_or_else(|e| panic!("{e}"));
    let upstream = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    );
    let (port, cut) = relay(upstream).await;
    let _ = url.set_port(Some(port));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = Server::start(dir.path(), &[("HERALD_DATABASE_URL", url.as_str())]).await;
    let (status, body, _) = timed(&format!("{}/readyz", s.url)).await;
    assert_eq!(
        (status, body["database"].clone()),
        (200, "reachable".into())
    );

    cut.send_replace(true);
    for _ in 0..3 {
        let (status, body, took) = timed(&format!("{}/readyz", s.url)).await;
        assert_eq!(status, 200, "the public side stays ready: {body}");
        assert_eq!(body["database"], "unreachable");
        assert!(took < Duration::from_secs(2), "/readyz took {took:?}");
        let (status, _, took) = timed(&format!("{}/readyz/admin", s.url)).await;
        assert_eq!(status, 503);
        assert!(took < Duration::from_secs(2), "/readyz/admin took {took:?}");
        let (status, _, took) = timed(&format!("{}/api/v2/status.json", s.url)).await;
        assert_eq!(status, 200, "the page is still served");
        assert!(took < Duration::from_secs(2));
    }
    let head = reqwest::Client::new()
        .head(format!("{}/healthz", s.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(head.status(), 200, "load balancers probe with HEAD");
}
