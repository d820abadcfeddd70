//! How Statuspage clients talk: auth schemes, `.json`, form bodies, errors, idempotency.

use herald_tests::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn every_auth_scheme_works_and_a_wrong_key_is_401() {
    let app = TestApp::spawn().await;
    let path = app.url(&app.page_path("/incidents"));
    for (name, req) in [
        (
            "oauth",
            app.client
                .get(&path)
                .header("Authorization", format!("OAuth {}", app.admin)),
        ),
        (
            "bearer",
            app.client
                .get(&path)
                .header("Authorization", format!("Bearer {}", app.admin)),
        ),
        (
            "query",
            app.client.get(format!("{path}?api_key={}", app.admin)),
        ),
    ] {
        let r = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 200, "{name}");
    }
    for bad in [None, Some("OAuth wrong"), Some("Basic abc"), Some("OAuth")] {
        let mut req = app.client.get(&path);
        if let Some(h) = bad {
            req = req.header("Authorization", h);
        }
        let r = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 401, "{bad:?}");
        assert!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .starts_with("application/json")
        );
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    // A revoked token stops working.
    let t = app
        .post(
            &app.page_path("/api-tokens"),
            json!({"api_token": {"name": "ci", "role": "viewer"}}),
        )
        .await
        .expect(201)
        .json();
    let key = t["key"].as_str().unwrap_or("").to_owned();
    app.send(Method::GET, &app.page_path("/incidents"), Some(&key), None)
        .await
        .expect(200);
    app.delete(&app.page_path(&format!("/api-tokens/{}", t["id"].as_str().unwrap_or(""))))
        .await
        .expect(200);
    app.send(Method::GET, &app.page_path("/incidents"), Some(&key), None)
        .await
        .expect(401);
    let listed = app.get(&app.page_path("/api-tokens")).await.expect(200);
    assert!(!listed.text.contains(&key), "secrets are never listed");
}

#[tokio::test]
async fn rails_form_bodies_and_json_suffix() {
    let app = TestApp::spawn().await;
    let c = app.create_component("API", None).await;
    let cid = c["id"].as_str().unwrap_or("");
    let form = format!(
        "incident[name]=Elevated+errors&incident[status]=identified&incident[body]=We+know.&incident[components][{cid}]=partial_outage&incident[component_ids][]={cid}&incident[deliver_notifications]=false"
    );
    let r = app
        .client
        .post(app.url(&app.page_path("/incidents.json")))
        .header("Authorization", format!("OAuth {}", app.admin))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 201);
    let inc: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(inc["name"], "Elevated errors");
    assert_eq!(inc["status"], "identified");
    assert_eq!(inc["impact"], "major");
    assert_eq!(inc["incident_updates"][0]["deliver_notifications"], false);
    assert_eq!(
        inc["incident_updates"][0]["affected_components"][0]["new_status"],
        "partial_outage"
    );
    let id = inc["id"].as_str().unwrap_or("");
    app.get(&app.page_path(&format!("/incidents/{id}.json")))
        .await
        .expect(200);
    app.get(&app.page_path(&format!("/incidents/{id}")))
        .await
        .expect(200);
}

#[tokio::test]
async fn errors_are_json_with_a_stable_code() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .post(app.url(&app.page_path("/incidents")))
        .header("Authorization", format!("OAuth {}", app.admin))
        .header("Content-Type", "application/json")
        .body("{\"incident\": {\"name\": ")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(body["error"]["code"], "invalid_json");

    let r = app.post(&app.page_path("/incidents"), json!({"incident": {"name": "x", "deliver_notifications": "maybe", "unknown_field": 1}})).await.expect(422).json();
    assert_eq!(r["error"]["field"], "incident.deliver_notifications");
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"body": "no name"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "incident.name");
    app.get(&app.page_path("/incidents/nope")).await.expect(404);
    let r = app
        .get("/v1/pages/notmypage/incidents")
        .await
        .expect(404)
        .json();
    assert_eq!(r["error"]["code"], "not_found");
    let r = app
        .send(
            Method::DELETE,
            &app.page_path("/incidents"),
            Some(&app.admin),
            None,
        )
        .await
        .expect(405)
        .json();
    assert_eq!(r["error"]["code"], "method_not_allowed");
    let r = app
        .client
        .post(app.url(&app.page_path("/incidents")))
        .header("Authorization", format!("OAuth {}", app.admin))
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 415);
    let list = app.get(&app.page_path("/incidents")).await.json();
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(0),
        "no bad request wrote anything"
    );
}

#[tokio::test]
async fn idempotency_key_returns_the_first_result() {
    let app = TestApp::spawn().await;
    let post = |key: &'static str, name: &'static str| {
        app.client
            .post(app.url(&app.page_path("/incidents")))
            .header("Authorization", format!("OAuth {}", app.admin))
            .header("Idempotency-Key", key)
            .json(&json!({"incident": {"name": name}}))
            .send()
    };
    let first: serde_json::Value = post("k1", "Once")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let again = post("k1", "Once").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.status(), 201);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let second: serde_json::Value = again.json().await.unwrap_or_default();
    assert_eq!(first["id"], second["id"]);
    let other = post("k1", "Different")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other.status(), 422);
    post("k2", "Twice").await.unwrap_or_else(|e| panic!("{e}"));
    let list = app.get(&app.page_path("/incidents")).await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn every_change_is_audited_with_its_token() {
    let app = TestApp::spawn().await;
    let responder = app.token(herald::domain::Role::Responder).await;
    app.send(
        Method::POST,
        &app.page_path("/incidents"),
        Some(&responder),
        Some(json!({"incident": {"name": "Audited"}})),
    )
    .await
    .expect(201);
    let log = app
        .get(&app.page_path("/audit-log"))
        .await
        .expect(200)
        .json();
    let entry = log
        .as_array()
        .and_then(|a| a.iter().find(|e| e["action"] == "incident.create").cloned())
        .unwrap_or_default();
    assert_eq!(entry["actor"], "test responder");
    assert!(entry["token_id"].is_string());
}

#[tokio::test]
async fn openapi_document_lists_every_route_with_its_role() {
    let app = TestApp::spawn().await;
    let doc = app.public("/v1/openapi.json").await.expect(200).json();
    assert_eq!(doc["openapi"], "3.1.0");
    let create = &doc["paths"]["/v1/pages/{page_id}/incidents"]["post"];
    assert_eq!(create["x-herald-role"], "responder");
    assert!(create["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    assert!(
        doc["components"]["schemas"]["IncidentBody"].is_object(),
        "schemas are generated from the Rust types"
    );
}

fn keys(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn manage_api_objects_have_statuspages_keys() {
    let app = TestApp::spawn().await;
    let c = app.create_component("API", None).await;
    let cid = c["id"].as_str().unwrap_or("");
    // The request that produced the example responses.
    let created = app
        .create_incident(
            json!({"name": "Elevated API latency", "status": "investigating",
            "body": "We are investigating elevated latency on the API.",
            "components": {cid: "degraded_performance"}, "component_ids": [cid]}),
        )
        .await;
    let patched = app
        .update_incident(
            created["id"].as_str().unwrap_or(""),
            json!({"status": "identified", "body": "A misbehaving cache node was identified."}),
        )
        .await;
    // Herald adds the promised next update (and the template an update came from), and
    // a maintenance's publication time.
    let herald_incident: std::collections::BTreeSet<String> = [
        "next_update_due_at".to_owned(),
        "next_update_overdue".to_owned(),
        "publish_at".to_owned(),
    ]
    .into();
    let herald_update: std::collections::BTreeSet<String> =
        ["next_update_due_at".to_owned(), "template".to_owned()].into();
    for (mine, theirs) in [
        (
            &created,
            herald_tests::statuspage_example("v1-create-incident-response.json"),
        ),
        (
            &patched,
            herald_tests::statuspage_example("v1-patch-incident-response.json"),
        ),
    ] {
        assert_eq!(
            &keys(mine) - &herald_incident,
            keys(&theirs),
            "incident keys"
        );
        assert_eq!(
            &keys(&mine["incident_updates"][0]) - &herald_update,
            keys(&theirs["incident_updates"][0]),
            "update keys"
        );
        assert_eq!(
            keys(&mine["components"][0]),
            keys(&theirs["components"][0]),
            "component keys"
        );
        assert_eq!(
            mine["incident_updates"].as_array().map(Vec::len),
            theirs["incident_updates"].as_array().map(Vec::len)
        );
    }
    assert_eq!(
        patched["incident_updates"][0]["status"], "identified",
        "newest first"
    );
    assert_eq!(
        created["incident_updates"][0]["affected_components"][0]["new_status"],
        "degraded_performance"
    );
}

#[tokio::test]
async fn edge_inputs_get_clear_answers() {
    let app = TestApp::spawn().await;
    // Paging far beyond the end is an empty page, not a crash.
    let r = app
        .get(&app.page_path("/incidents?page=18446744073709551615"))
        .await
        .expect(200)
        .json();
    assert_eq!(r, json!([]));
    let r = app
        .get(&app.page_path("/incidents?page=abc"))
        .await
        .expect(400)
        .json();
    assert_eq!(r["error"]["code"], "bad_request");
    // HEAD needs what GET needs.
    let viewer = app.token(herald::domain::Role::Viewer).await;
    let r = app
        .send(
            Method::HEAD,
            &app.page_path("/incidents"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    // Bodies over 1 MiB are refused as such.
    let big = "x".repeat(1_100_000);
    let r = app
        .post(
            &app.page_path("/incidents"),
            json!({"incident": {"name": "big", "body": big}}),
        )
        .await
        .expect(413)
        .json();
    assert_eq!(r["error"]["code"], "payload_too_large");
    // An empty Rails form value clears a field.
    let c = app.create_component("API", None).await;
    let cid = c["id"].as_str().unwrap_or("");
    let inc = app
        .create_incident(
            json!({"name": "x", "components": {cid: "major_outage"}, "impact_override": "minor"}),
        )
        .await;
    let r = app
        .client
        .patch(app.url(&app.page_path(&format!("/incidents/{}", inc["id"].as_str().unwrap_or("")))))
        .header("Authorization", format!("OAuth {}", app.admin))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("incident[impact_override]=&incident[scheduled_for]=")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let inc: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(inc["impact_override"], serde_json::Value::Null);
    assert_eq!(inc["impact"], "critical");
}

#[tokio::test]
async fn created_token_keys_are_never_replayed_from_storage() {
    let app = TestApp::spawn().await;
    let post = || {
        app.client
            .post(app.url(&app.page_path("/api-tokens")))
            .header("Authorization", format!("OAuth {}", app.admin))
            .header("Idempotency-Key", "tok-1")
            .json(&json!({"api_token": {"name": "deploy bot", "role": "responder"}}))
            .send()
    };
    let a = post().await.unwrap_or_else(|e| panic!("{e}"));
    let b = post().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(b.headers().get("idempotent-replayed").is_none());
    let (a, b): (serde_json::Value, serde_json::Value) = (
        a.json().await.unwrap_or_default(),
        b.json().await.unwrap_or_default(),
    );
    assert_ne!(
        a["id"], b["id"],
        "token creation is not replayable: its key is never stored"
    );
}
