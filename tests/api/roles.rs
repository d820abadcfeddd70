//! Every admin operation in the OpenAPI document, called with no key, a wrong key and each
//! role: the gate answers 401, 403 or lets the request through exactly as the document's
//! `x-herald-role` says. Public routes need no key at all.

use std::collections::{BTreeMap, HashMap};

use herald::domain::Role;
use herald_tests::{Resp, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

/// One operation of the OpenAPI document.
struct Op {
    method: Method,
    path: String,
    role: Role,
}

/// Every operation the server documents; at least 30, so an empty document cannot pass.
async fn served_operations(app: &TestApp) -> Vec<Op> {
    let doc = app.public("/v1/openapi.json").await.expect(200).json();
    let ops = operations(&doc);
    assert!(
        ops.len() >= 30,
        "only {} operations in the OpenAPI document",
        ops.len()
    );
    ops
}

fn operations(doc: &Value) -> Vec<Op> {
    let paths = doc["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("the OpenAPI document has no `paths`: {doc}"));
    // Sorted, so the run is the same every time.
    let paths: BTreeMap<&String, &Value> = paths.iter().collect();
    let mut ops = Vec::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .unwrap_or_else(|| panic!("{path}: not an object"));
        let methods: BTreeMap<&String, &Value> = item.iter().collect();
        for (method, op) in methods {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                "head" => Method::HEAD,
                "options" => Method::OPTIONS,
                "trace" => Method::TRACE,
                // Path-level keys such as `parameters` or `summary`.
                _ => continue,
            };
            let role = op["x-herald-role"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no x-herald-role"))
                .parse::<Role>()
                .unwrap_or_else(|e| panic!("{method} {path}: x-herald-role: {e:?}"));
            ops.push(Op {
                method,
                path: path.clone(),
                role,
            });
        }
    }
    ops
}

/// Ids to put in path parameters, keyed by parameter name. Created with the admin token.
async fn fixtures(app: &TestApp, tag: &str) -> HashMap<String, String> {
    let id = |v: &Value| {
        v["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {v}"))
            .to_owned()
    };
    let component = app
        .create_component(&format!("Roles component {tag}"), None)
        .await;
    let group = app.create_group(&format!("Roles group {tag}"), &[]).await;
    let incident = app
        .create_incident(json!({"name": format!("Roles incident {tag}"), "status": "investigating", "body": "Looking."}))
        .await;
    let incident = app
        .update_incident(
            &id(&incident),
            json!({"status": "identified", "body": "Found it."}),
        )
        .await;
    let update = id(&incident["incident_updates"][0]);
    let subscriber = app
        .post(
            &app.page_path(&format!("/incidents/{}/subscribers", id(&incident))),
            json!({"subscriber": {"email": format!("roles-{}@example.com", tag.replace(' ', "-"))}}),
        )
        .await
        .expect(201)
        .json();
    // The subscriber's confirmation mail is a delivery in the ledger.
    let mut delivery = String::new();
    for _ in 0..200 {
        if let Some(d) = app
            .deliveries(&format!(
                "recipient={}",
                subscriber["email"].as_str().unwrap_or_default()
            ))
            .await
            .first()
        {
            delivery = d["id"].to_string();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!delivery.is_empty(), "no delivery for {subscriber}");
    let tenant = app
        .post(
            &app.page_path("/tenants"),
            json!({"tenant": {"name": format!("Roles tenant {tag}"), "emails": ["t@example.com"]}}),
        )
        .await
        .expect(201)
        .json();
    let template = app
        .post(
            &app.page_path("/incident_templates"),
            json!({"template": {"name": format!("Roles template {tag}"), "title": "{{incident.name}}", "body": "Looking."}}),
        )
        .await
        .expect(201)
        .json();
    let template_group = app
        .post(
            &app.page_path("/incident_template_groups"),
            json!({"template_group": {"name": format!("Roles group {tag}")}}),
        )
        .await
        .expect(201)
        .json();
    let series = app
        .post(
            &app.page_path("/maintenance_series"),
            json!({"series": {"name": format!("Roles series {tag}"), "rrule": "FREQ=WEEKLY",
                              "starts_at_local": "2099-01-06T02:00"}}),
        )
        .await
        .expect(201)
        .json();
    let token = app
        .post(
            &app.page_path("/api-tokens"),
            json!({"api_token": {"name": format!("roles {tag}"), "role": "viewer"}}),
        )
        .await
        .expect(201)
        .json();
    let user = app
        .post(
            &app.page_path("/users"),
            json!({"user": {"email": format!("roles-user-{}@example.com", tag.replace(' ', "-")), "role": "viewer"}}),
        )
        .await
        .expect(201)
        .json();
    HashMap::from([
        ("user_id".to_owned(), id(&user)),
        ("page_id".to_owned(), app.page_id.clone()),
        ("component_id".to_owned(), id(&component)),
        ("group_id".to_owned(), id(&group)),
        ("incident_id".to_owned(), id(&incident)),
        ("incident_update_id".to_owned(), update),
        ("token_id".to_owned(), id(&token)),
        ("subscriber_id".to_owned(), id(&subscriber)),
        ("tenant_id".to_owned(), id(&tenant)),
        ("delivery_id".to_owned(), delivery),
        ("template_id".to_owned(), id(&template)),
        ("template_group_id".to_owned(), id(&template_group)),
        ("series_id".to_owned(), id(&series)),
    ])
}

/// `path` with every `{param}` replaced by its fixture.
fn fill(path: &str, ids: &HashMap<String, String>) -> String {
    path.split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => ids
                .get(name)
                .unwrap_or_else(|| panic!("{path}: no fixture for path parameter `{name}`; add one to tests/api/roles.rs"))
                .clone(),
            None => seg.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `fill`, with the first character of the last fixed segment percent-encoded
/// (`/api-tokens` becomes `/%61pi-tokens`): the same resource to any HTTP router.
fn fill_encoded(path: &str, ids: &HashMap<String, String>) -> String {
    let filled = fill(path, ids);
    let mut segs: Vec<String> = filled.split('/').map(str::to_owned).collect();
    let templ: Vec<&str> = path.split('/').collect();
    let last = templ
        .iter()
        .rposition(|s| !s.is_empty() && !s.starts_with('{'))
        .unwrap_or_else(|| panic!("{path} has no fixed segment"));
    let seg = &segs[last];
    let first = seg.bytes().next().unwrap_or(b'x');
    segs[last] = format!("%{first:02X}{}", &seg[1..]);
    segs.join("/")
}

fn error_code(r: &Resp) -> String {
    serde_json::from_str::<Value>(&r.text)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test]
async fn every_admin_operation_enforces_its_role() {
    // Hundreds of wrong keys from one address: what the throttle stops (tested in
    // `hostile`), off here.
    let app = TestApp::spawn_with(|s| s.auth_failure_limit = 0).await;
    let ops = served_operations(&app).await;

    let viewer = app.token(Role::Viewer).await;
    let responder = app.token(Role::Responder).await;
    let admin = app.token(Role::Admin).await;
    let roles = [
        (Role::Viewer, viewer.as_str()),
        (Role::Responder, responder.as_str()),
        (Role::Admin, admin.as_str()),
    ];
    let shared = fixtures(&app, "shared").await;

    let mut fresh_sets = 0;
    for op in &ops {
        let what = format!("{} {}", op.method, op.path);
        let body =
            matches!(op.method, Method::POST | Method::PATCH | Method::PUT).then(|| json!({}));
        let path = fill(&op.path, &shared);

        for token in [None, Some("wrong-key-0000000000")] {
            let r = app
                .send(op.method.clone(), &path, token, body.clone())
                .await;
            assert_eq!(r.status.as_u16(), 401, "{what} with {token:?}: {}", r.text);
            assert_eq!(
                error_code(&r),
                "unauthorized",
                "{what} with {token:?}: {}",
                r.text
            );
        }

        for (role, key) in roles {
            if role < op.role {
                let r = app
                    .send(op.method.clone(), &path, Some(key), body.clone())
                    .await;
                assert_eq!(r.status.as_u16(), 403, "{what} as {role}: {}", r.text);
                assert_eq!(error_code(&r), "forbidden", "{what} as {role}: {}", r.text);
                continue;
            }
            // A DELETE really deletes: give it its own fixtures, so the shared ones (and the
            // checking tokens, which are never fixtures) stay for the operations after it.
            let path = if op.method == Method::DELETE {
                fresh_sets += 1;
                fill(
                    &op.path,
                    &fixtures(&app, &format!("fresh {fresh_sets}")).await,
                )
            } else {
                path.clone()
            };
            let r = app
                .send(op.method.clone(), &path, Some(key), body.clone())
                .await;
            let code = r.status.as_u16();
            assert!(
                code != 401 && code != 403,
                "{what} as {role} (needs {}): {code} {}",
                op.role,
                r.text
            );
            assert!(code < 500, "{what} as {role}: {code} {}", r.text);
            if op.method == Method::GET {
                assert_eq!(code, 200, "{what} as {role} with real ids: {}", r.text);
            }
        }
    }
    assert!(fresh_sets > 0, "the document has no DELETE operation");

    // The shared fixtures survived every operation and the checking keys still work.
    let p = app.page_path(&format!("/incidents/{}", shared["incident_id"]));
    for (_, key) in roles {
        app.send(Method::GET, &p, Some(key), None).await.expect(200);
    }
}

#[tokio::test]
async fn public_routes_need_no_token_and_admin_routes_refuse_none() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let inc = app
        .create_incident(json!({"name": "Public check", "status": "investigating"}))
        .await;
    let id = inc["id"].as_str().unwrap_or_default();
    let public = [
        "/".to_owned(),
        "/history".to_owned(),
        format!("/incidents/{id}"),
        "/history.atom".to_owned(),
        "/history.rss".to_owned(),
        "/maintenance.ics".to_owned(),
        "/healthz".to_owned(),
        "/readyz".to_owned(),
        "/live.json".to_owned(),
        "/v1/openapi.json".to_owned(),
        "/api/v2/summary.json".to_owned(),
        "/api/v2/status.json".to_owned(),
        "/api/v2/components.json".to_owned(),
        "/api/v2/incidents.json".to_owned(),
        "/api/v2/incidents/unresolved.json".to_owned(),
        "/api/v2/scheduled-maintenances.json".to_owned(),
        "/api/v2/scheduled-maintenances/upcoming.json".to_owned(),
        "/api/v2/scheduled-maintenances/active.json".to_owned(),
    ];
    for path in &public {
        let r = app.public(path).await;
        assert_eq!(r.status.as_u16(), 200, "{path} without a token: {}", r.text);
    }

    let ops = served_operations(&app).await;
    let ids = HashMap::from([
        ("page_id".to_owned(), app.page_id.clone()),
        ("component_id".to_owned(), "nonexistent1".to_owned()),
        ("group_id".to_owned(), "nonexistent2".to_owned()),
        ("incident_id".to_owned(), id.to_owned()),
        ("incident_update_id".to_owned(), "nonexistent3".to_owned()),
        ("token_id".to_owned(), "nonexistent4".to_owned()),
        ("user_id".to_owned(), "nonexistent9".to_owned()),
        ("subscriber_id".to_owned(), "nonexistent5".to_owned()),
        ("tenant_id".to_owned(), "nonexistent6".to_owned()),
        ("delivery_id".to_owned(), "999999".to_owned()),
        ("template_id".to_owned(), "nonexistent7".to_owned()),
        ("template_group_id".to_owned(), "nonexistent8".to_owned()),
        ("series_id".to_owned(), "nonexistent9".to_owned()),
    ]);
    for op in &ops {
        assert!(
            !public.contains(&op.path),
            "{} is both public and an admin route",
            op.path
        );
        let path = fill(&op.path, &ids);
        for p in [path.clone(), format!("{path}.json")] {
            let r = app.send(op.method.clone(), &p, None, None).await;
            assert_eq!(
                r.status.as_u16(),
                401,
                "{} {p} without a token: {}",
                op.method,
                r.text
            );
        }
    }
}

/// The role check must see the path the router sees: a percent-encoded letter
/// (`/%61pi-tokens`) routes to the same handler, so it must meet the same role check.
#[tokio::test]
async fn percent_encoded_paths_get_the_same_role_check() {
    let app = TestApp::spawn().await;
    let ops = served_operations(&app).await;
    let viewer = app.token(Role::Viewer).await;
    let responder = app.token(Role::Responder).await;
    let roles = [
        (Role::Viewer, viewer.as_str()),
        (Role::Responder, responder.as_str()),
    ];
    let shared = fixtures(&app, "shared").await;

    let mut checked = 0;
    let mut bypassed = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let body =
            matches!(op.method, Method::POST | Method::PATCH | Method::PUT).then(|| json!({}));
        for (role, key) in roles {
            if role >= op.role {
                continue;
            }
            // If the check is bypassed the request really runs: a DELETE gets its own
            // fixtures so that the operations after it still find theirs.
            let path = if op.method == Method::DELETE {
                fill_encoded(&op.path, &fixtures(&app, &format!("enc {n} {role}")).await)
            } else {
                fill_encoded(&op.path, &shared)
            };
            let r = app
                .send(op.method.clone(), &path, Some(key), body.clone())
                .await;
            checked += 1;
            let code = r.status.as_u16();
            if code != 403 && code != 404 {
                bypassed.push(format!(
                    "{} {path} as {role} (needs {}): {code} {}",
                    op.method,
                    op.role,
                    r.text.chars().take(120).collect::<String>()
                ));
            }
        }
    }
    assert!(checked >= 20, "only {checked} requests checked");
    assert!(
        bypassed.is_empty(),
        "{} of {checked} requests with a percent-encoded path got past the role check:\n{}",
        bypassed.len(),
        bypassed.join("\n")
    );
}
