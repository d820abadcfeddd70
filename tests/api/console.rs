//! The responder console over HTTP, as a browser without JavaScript uses it: the
//! one-time link from the command line, sessions, the CSRF token and Origin check on
//! every form, idle expiry on the injected clock, roles, `no-store` everywhere and the
//! sign-in throttle. `console_browser.rs` drives the same pages in Chromium.

use std::collections::HashMap;

use chrono::{Duration, TimeZone, Utc};
use herald::domain::Role;
use herald::store::{Actor, users};
use herald_tests::{Resp, TestApp, smtp::Sink};
use reqwest::Method;
use serde_json::{Value, json};

/// A person with a browser's cookie jar, posting forms from the console's own origin.
pub(crate) struct Person<'a> {
    app: &'a TestApp,
    cookies: HashMap<String, String>,
}

impl<'a> Person<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Person<'a> {
        Person {
            app,
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        origin: Option<&str>,
    ) -> Resp {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.app.url(path)
        };
        let mut req = self.app.client.request(method, &url);
        if !self.cookies.is_empty() {
            req = req.header("Cookie", self.cookie_header());
        }
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        if let Some(f) = form {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(f.iter())
                .finish();
            req = req
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        for v in res.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap_or_default();
            let pair = v.split(';').next().unwrap_or_default();
            if let Some((k, val)) = pair.split_once('=') {
                if val.is_empty() || v.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), val.to_owned());
                }
            }
        }
        Resp {
            status: res.status(),
            headers: res.headers().clone(),
            text: res.text().await.unwrap_or_default(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Resp {
        self.send(Method::GET, path, None, None).await
    }

    /// Posts a form from the console's origin.
    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        let origin = self.app.base.clone();
        self.send(Method::POST, path, Some(form), Some(&origin))
            .await
    }

    pub(crate) async fn post_from(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Resp {
        self.send(Method::POST, path, Some(form), origin).await
    }

    /// The CSRF token of the page at `path`.
    pub(crate) async fn csrf(&mut self, path: &str) -> String {
        let page = self.get(path).await.expect(200);
        csrf_in(&page.text)
    }

    pub(crate) fn has_session(&self) -> bool {
        self.cookies.contains_key("herald_session")
    }
}

pub(crate) fn csrf_in(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF field in {html}"));
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap_or(0)].to_owned()
}

/// Creates a user with `role` and returns the path of their one-time link.
pub(crate) async fn invite(app: &TestApp, email: &str, role: Role) -> String {
    let mut w = app
        .state
        .store
        .begin(&Actor::system("test"), app.clock.now())
        .await
        .unwrap_or_else(|e| panic!("begin: {e}"));
    let (_, token) = users::create_with_link(
        &mut w,
        users::NewUser {
            email: email.to_owned(),
            name: None,
            role,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("user: {e}"));
    w.commit().await.unwrap_or_else(|e| panic!("commit: {e}"));
    format!("/admin/welcome?token={}", token.0)
}

pub(crate) const PASSWORD: &str = "correct horse battery";

/// A person signed in through their one-time link.
pub(crate) async fn signed_in<'a>(app: &'a TestApp, email: &str, role: Role) -> Person<'a> {
    let link = invite(app, email, role).await;
    let mut p = Person::new(app);
    let token = link.split("token=").nth(1).unwrap_or_default().to_owned();
    let csrf = p.csrf(&link).await;
    let r = p
        .post(
            "/admin/welcome",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await
        .expect(303);
    assert_eq!(r.header("location"), Some("/admin"));
    assert!(p.has_session(), "no session cookie after the welcome form");
    p
}

async fn incident_count(app: &TestApp) -> usize {
    app.get(&app.page_path("/incidents"))
        .await
        .expect(200)
        .json()
        .as_array()
        .map_or(0, Vec::len)
}

pub(crate) fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_cli_link_sets_a_password_and_signs_in_once() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = crate::ops::herald(dir.path());
    cmd.args([
        "--database-url",
        &app.database_url,
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--role",
        "admin",
        "--name",
        "Ada Lovelace",
    ]);
    let (status, stdout, stderr) = crate::ops::run(cmd);
    assert!(status.success(), "{stderr}");
    // The link, alone on its line, and nothing else on stdout.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {stdout:?}");
    let link = lines[0];
    let prefix = format!("{}/admin/welcome?token=", app.base);
    assert!(link.starts_with(&prefix), "{link} (page at {})", app.base);

    let mut ada = Person::new(&app);
    let page = ada.get(link).await.expect(200);
    assert!(page.text.contains("ada@example.com"), "{}", page.text);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let csrf = csrf_in(&page.text);
    let token = link.split("token=").nth(1).unwrap_or_default();
    // Too short, then two different passwords: refused, the link still works.
    let r = ada
        .post(
            "/admin/welcome",
            &[
                ("csrf", &csrf),
                ("token", token),
                ("password", "short"),
                ("confirm", "short"),
            ],
        )
        .await
        .expect(422);
    assert!(r.text.contains("at least 10 characters"), "{}", r.text);
    ada.post(
        "/admin/welcome",
        &[
            ("csrf", &csrf),
            ("token", token),
            ("password", PASSWORD),
            ("confirm", "something else"),
        ],
    )
    .await
    .expect(422);
    let r = ada
        .post(
            "/admin/welcome",
            &[
                ("csrf", &csrf),
                ("token", token),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await
        .expect(303);
    let set = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("herald_session="))
        .unwrap_or_else(|| panic!("no session cookie: {:?}", r.headers))
        .to_owned();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/admin"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "not https here: {set}");
    let home = ada.get("/admin").await.expect(200);
    assert!(home.text.contains("Dashboard"), "{}", home.text);
    assert!(home.text.contains("Ada Lovelace"), "{}", home.text);

    // The link works once.
    Person::new(&app).get(link).await.expect(400);

    // Signing out ends the session; the password signs in again.
    let csrf = ada.csrf("/admin").await;
    ada.post("/admin/signout", &[("csrf", &csrf)])
        .await
        .expect(303);
    ada.get("/admin").await.expect(303);
    let mut again = Person::new(&app);
    let csrf = again.csrf("/admin/signin").await;
    let r = again
        .post(
            "/admin/signin",
            &[
                ("csrf", &csrf),
                ("email", "ADA@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .await
        .expect(401);
    assert!(r.text.contains("do not match"), "{}", r.text);
    again
        .post(
            "/admin/signin",
            &[
                ("csrf", &csrf),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("next", "/admin/incidents/new"),
            ],
        )
        .await
        .expect(303);
    again.get("/admin/incidents/new").await.expect(200);

    // What she did is in the audit log under her name.
    let audit = app
        .get(&app.page_path("/audit-log"))
        .await
        .expect(200)
        .json();
    let actions: Vec<(String, String)> = audit
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["actor"].as_str().unwrap_or_default().to_owned(),
                a["action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for action in ["user.set_password", "user.sign_in", "user.sign_out"] {
        assert!(
            actions.contains(&(
                "Ada Lovelace <ada@example.com>".to_owned(),
                action.to_owned()
            )),
            "{action} not in {actions:?}"
        );
    }
}

#[tokio::test]
async fn forms_without_the_right_token_or_from_elsewhere_change_nothing() {
    let app = TestApp::spawn().await;
    // The console wears the page's inline icon.
    let signin = app.public("/admin/signin").await.expect(200).text;
    assert!(
        signin.contains(
            "<link rel=\"icon\" href=\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'"
        ),
        "{signin}"
    );
    let api = id(&app.create_component("API", None).await);
    let mut ada = signed_in(&app, "ada@example.com", Role::Responder).await;
    let csrf = ada.csrf("/admin/incidents/new").await;
    let affected = format!("status_of[{api}]");
    let form = |token: &str| -> Vec<(String, String)> {
        [
            ("csrf", token),
            ("name", "Checkout errors"),
            ("status", "investigating"),
            ("body", "We are looking."),
            ("action", "publish"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    };
    let pairs = |f: &[(String, String)]| -> Vec<(String, String)> { f.to_vec() };
    fn refs(f: &[(String, String)]) -> Vec<(&str, &str)> {
        f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
    // No token, a wrong one: a clear page, nothing written.
    let none = pairs(&form("")[1..]);
    let r = ada
        .post("/admin/incidents/new", &refs(&none))
        .await
        .expect(403);
    assert!(r.text.contains("This form has expired"), "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let wrong = form("forged-token");
    let r = ada
        .post("/admin/incidents/new", &refs(&wrong))
        .await
        .expect(403);
    assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    // From another site, or from nowhere it says: refused even with the token.
    let with = form(&csrf);
    let r = ada
        .post_from(
            "/admin/incidents/new",
            &refs(&with),
            Some("https://evil.example"),
        )
        .await
        .expect(403);
    assert!(
        r.text.contains("did not come from the console"),
        "{}",
        r.text
    );
    ada.post_from("/admin/incidents/new", &refs(&with), None)
        .await
        .expect(403);
    assert_eq!(incident_count(&app).await, 0);

    // The same form, done right, publishes.
    let mut right = with.clone();
    right.push(("affected[]".to_owned(), api.clone()));
    right.push((affected.clone(), "major_outage".to_owned()));
    let r = ada
        .post("/admin/incidents/new", &refs(&right))
        .await
        .expect(303);
    let location = r.header("location").unwrap_or_default().to_owned();
    assert!(location.starts_with("/admin/incidents/"), "{location}");
    assert_eq!(incident_count(&app).await, 1);
    assert_eq!(app.component(&api).await["status"], "major_outage");
    let public = app.public("/").await.expect(200);
    assert!(public.text.contains("Checkout errors"), "not on the page");
    let audit = app
        .get(&app.page_path("/audit-log"))
        .await
        .expect(200)
        .json();
    assert!(
        audit
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["actor"] == "ada@example.com"
                && a["action"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("incident"))),
        "{audit}"
    );
}

#[tokio::test]
async fn an_idle_session_ends_and_its_forms_change_nothing() {
    let start = Utc
        .with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .unwrap_or_default();
    let app = TestApp::spawn_at(start).await;
    let mut ada = signed_in(&app, "ada@example.com", Role::Admin).await;
    let csrf = ada.csrf("/admin/incidents/new").await;
    app.clock.advance(Duration::hours(11));
    ada.get("/admin").await.expect(200);
    app.clock
        .advance(Duration::hours(12) + Duration::minutes(1));
    let r = ada
        .post(
            "/admin/incidents/new",
            &[
                ("csrf", &csrf),
                ("name", "Too late"),
                ("body", "x"),
                ("action", "publish"),
            ],
        )
        .await
        .expect(303);
    assert_eq!(r.header("location"), Some("/admin/signin?expired=1"));
    assert_eq!(incident_count(&app).await, 0);
    let r = ada.get("/admin/incidents/new").await.expect(303);
    assert!(
        r.header("location")
            .unwrap_or_default()
            .starts_with("/admin/signin?next=%2Fadmin%2Fincidents%2Fnew"),
        "{:?}",
        r.header("location")
    );
    let page = ada.get("/admin/signin?expired=1").await.expect(200);
    assert!(
        page.text.contains("Your session has ended"),
        "{}",
        page.text
    );
}

#[tokio::test]
async fn a_viewer_sees_but_every_form_is_refused() {
    let app = TestApp::spawn().await;
    let api = id(&app.create_component("API", None).await);
    let incident = app
        .create_incident(json!({"name": "Slow API", "status": "investigating", "body": "Looking.", "components": {&api: "degraded_performance"}}))
        .await;
    let iid = id(&incident);
    let mut vera = signed_in(&app, "vera@example.com", Role::Viewer).await;
    let page = vera
        .get(&format!("/admin/incidents/{iid}"))
        .await
        .expect(200);
    assert!(page.text.contains("Slow API"), "{}", page.text);
    assert!(
        !page.text.contains("Post update"),
        "a viewer is offered a form"
    );
    let csrf = csrf_in(&page.text);
    for (path, form) in [
        (
            format!("/admin/incidents/{iid}/update"),
            vec![("status", "identified"), ("body", "Found it.")],
        ),
        (
            format!("/admin/incidents/{iid}/resolve"),
            vec![("body", "Fixed.")],
        ),
        (
            "/admin/incidents/new".to_owned(),
            vec![
                ("name", "Viewer's incident"),
                ("body", "x"),
                ("action", "publish"),
            ],
        ),
        (
            format!("/admin/incidents/{iid}/postmortem"),
            vec![("body", "What happened"), ("action", "draft")],
        ),
    ] {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend(form);
        let r = vera.post(&path, &f).await.expect(403);
        assert!(
            r.text.contains("Your role cannot do this"),
            "{path}: {}",
            r.text
        );
    }
    let after = app
        .get(&app.page_path(&format!("/incidents/{iid}")))
        .await
        .expect(200)
        .json();
    assert_eq!(after["status"], "investigating");
    assert_eq!(after["incident_updates"].as_array().map(Vec::len), Some(1));
    assert_eq!(incident_count(&app).await, 1);
}

#[tokio::test]
async fn every_console_route_enforces_its_role_and_is_never_cached() {
    let app = TestApp::spawn().await;
    let api = id(&app.create_component("API", None).await);
    app.subscribe("told@example.com", &[]).await;
    let open = id(&app
        .create_incident(json!({"name": "Open one", "status": "investigating", "body": "Looking.", "components": {&api: "partial_outage"}}))
        .await);
    // Each placeholder of the table's paths, filled with a thing that exists. A page
    // with a new kind of `{placeholder}` adds its thing here.
    app.deliveries_settled().await;
    let delivery = app.deliveries(&format!("incident_id={open}")).await[0]["id"]
        .as_i64()
        .unwrap_or_default()
        .to_string();
    let user = id(&app
        .post(
            &app.page_path("/users"),
            json!({"user": {"email": "matrix@example.com", "role": "viewer"}}),
        )
        .await
        .expect(201)
        .json());
    let token = id(&app
        .post(
            &app.page_path("/api-tokens"),
            json!({"api_token": {"name": "matrix", "role": "viewer"}}),
        )
        .await
        .expect(201)
        .json());
    let maintenance = id(&app
        .create_incident(json!({"name": "Window", "status": "scheduled",
            "scheduled_for": "2099-12-03T01:00:00Z", "scheduled_until": "2099-12-03T03:00:00Z",
            "components": {&api: "under_maintenance"}}))
        .await);
    let series = id(&app
        .post(
            &app.page_path("/maintenance_series"),
            json!({"series": {"name": "Weekly window", "rrule": "FREQ=WEEKLY;BYDAY=TU",
                   "starts_at_local": "2099-03-17T02:00", "duration_minutes": 60}}),
        )
        .await
        .expect(201)
        .json());
    let subscriber = id(&app.subscribe("someone@example.com", &[]).await);
    let tenant = id(&app
        .post(
            &app.page_path("/tenants"),
            json!({"tenant": {"name": "Acme"}}),
        )
        .await
        .expect(201)
        .json());
    let group = id(&app.create_group("Pod", &[]).await);
    let template_group = id(&app
        .post(
            &app.page_path("/incident_template_groups"),
            json!({"template_group": {"name": "Voice"}}),
        )
        .await
        .expect(201)
        .json());
    let template = id(&app
        .post(
            &app.page_path("/incident_templates"),
            json!({"template": {"name": "Outage", "title": "Outage", "body": "Looking."}}),
        )
        .await
        .expect(201)
        .json());
    let ids: Vec<(&str, String)> = vec![
        ("{id}", open.clone()),
        ("{component}", api.clone()),
        ("{group}", group),
        ("{template}", template),
        ("{template_group}", template_group),
        ("{delivery}", delivery),
        ("{user}", user),
        ("{token}", token),
        ("{maintenance}", maintenance),
        ("{series}", series),
        ("{subscriber}", subscriber),
        ("{tenant}", tenant),
    ];
    let fill = |path: &str| {
        let filled = ids
            .iter()
            .fold(path.to_owned(), |p, (k, v)| p.replace(k, v));
        assert!(!filled.contains('{'), "no thing for {path}'s placeholder");
        filled
    };
    let table = herald::console::routes::table();
    assert!(table.len() >= 15, "the console's route table is short");
    let roles = [Role::Viewer, Role::Responder, Role::Admin];
    for (n, role) in roles.into_iter().enumerate() {
        for route in &table {
            let what = format!("{} {} as {role}", route.method, route.path);
            // A fresh session for each request: signing out ends one.
            let mut p = signed_in(
                &app,
                &format!("p{n}-{}@example.com", herald::store::new_id()),
                role,
            )
            .await;
            let path = fill(route.path);
            let r = if route.method.as_str() == "GET" {
                p.get(&path).await
            } else {
                // Forms before sign-in carry the token their page set as a cookie.
                let from = if route.role.is_some() {
                    "/admin"
                } else {
                    "/admin/signin"
                };
                let csrf = p.csrf(from).await;
                // A preview or an empty form: nothing the next request depends on.
                p.post(&path, &[("csrf", &csrf), ("action", "preview")])
                    .await
            };
            assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
            let need = route.role.unwrap_or(Role::Viewer);
            if role < need {
                assert_eq!(r.status.as_u16(), 403, "{what}: {}", r.text);
            } else {
                assert!(
                    ![403, 404, 405, 500].contains(&r.status.as_u16()),
                    "{what}: {} {}",
                    r.status,
                    r.text
                );
            }
        }
    }
    // Without a session: the open pages answer, the others send to sign-in.
    for route in &table {
        let mut p = Person::new(&app);
        let path = fill(route.path);
        let r = if route.method.as_str() == "GET" {
            p.get(&path).await
        } else {
            p.post(&path, &[("csrf", "x")]).await
        };
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        if route.role.is_some() && route.method.as_str() == "GET" {
            assert_eq!(r.status.as_u16(), 303, "{path}: {}", r.text);
        } else if route.role.is_some() {
            assert!(
                [303, 403].contains(&r.status.as_u16()),
                "{path}: {}",
                r.status
            );
        }
    }
    let r = Person::new(&app)
        .get("/admin/nothing-here")
        .await
        .expect(404);
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn sign_in_attempts_are_throttled_per_address() {
    let start = Utc
        .with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .unwrap_or_default();
    let app = TestApp::spawn_at(start).await;
    let _ = signed_in(&app, "ada@example.com", Role::Admin).await;
    let mut mallory = Person::new(&app);
    let csrf = mallory.csrf("/admin/signin").await;
    for n in 0..5 {
        let pw = format!("guess number {n}");
        mallory
            .post(
                "/admin/signin",
                &[
                    ("csrf", &csrf),
                    ("email", "ada@example.com"),
                    ("password", &pw),
                ],
            )
            .await
            .expect(401);
    }
    // Even the right password waits now.
    let r = mallory
        .post(
            "/admin/signin",
            &[
                ("csrf", &csrf),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await
        .expect(429);
    assert!(r.header("retry-after").is_some());
    assert!(r.text.contains("Please wait"), "{}", r.text);
    assert!(!mallory.has_session());
    // The allowance comes back with time.
    app.clock.advance(Duration::minutes(4));
    mallory
        .post(
            "/admin/signin",
            &[
                ("csrf", &csrf),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await
        .expect(303);
}

#[tokio::test]
async fn users_are_managed_through_the_api_and_invited_by_mail() {
    let sink = Sink::start().await;
    let app = TestApp::spawn_mailing(&sink).await;
    let created = app
        .post(
            &app.page_path("/users"),
            json!({"user": {"email": "Grace@Example.com", "name": "Grace Hopper", "role": "responder"}}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(created["state"], "invited", "{created}");
    assert_eq!(created["role"], "responder");
    assert!(
        !created.to_string().contains("token"),
        "a secret in {created}"
    );
    let dup = app
        .post(
            &app.page_path("/users"),
            json!({"user": {"email": "grace@example.com"}}),
        )
        .await
        .expect(409);
    assert_eq!(dup.json()["error"]["code"], "conflict");
    let bad = app
        .post(
            &app.page_path("/users"),
            json!({"user": {"email": "not an address"}}),
        )
        .await
        .expect(422);
    assert_eq!(bad.json()["error"]["field"], "user.email", "{}", bad.text);

    // The invitation, with a link that works.
    let mails = sink.wait_for(1, std::time::Duration::from_secs(20)).await;
    assert_eq!(mails[0].to, "Grace@Example.com");
    assert!(
        mails[0].subject().contains("invited"),
        "{}",
        mails[0].subject()
    );
    let link = mails[0]
        .link(&format!("{}/admin/welcome?token=", app.base))
        .unwrap_or_else(|| panic!("no link in {}", mails[0].text()));
    let mut grace = Person::new(&app);
    let csrf = grace.csrf(&link).await;
    let token = link.split("token=").nth(1).unwrap_or_default();
    grace
        .post(
            "/admin/welcome",
            &[
                ("csrf", &csrf),
                ("token", token),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await
        .expect(303);
    grace.get("/admin").await.expect(200);
    let uid = id(&created);
    let got = app
        .get(&app.page_path(&format!("/users/{uid}")))
        .await
        .expect(200)
        .json();
    assert_eq!(got["state"], "active");

    // A new role ends her session; disabling her keeps her out.
    app.patch(
        &app.page_path(&format!("/users/{uid}")),
        json!({"user": {"role": "viewer"}}),
    )
    .await
    .expect(200);
    grace.get("/admin").await.expect(303);
    app.patch(
        &app.page_path(&format!("/users/{uid}")),
        json!({"user": {"disabled": true}}),
    )
    .await
    .expect(200);
    let mut again = Person::new(&app);
    let csrf = again.csrf("/admin/signin").await;
    again
        .post(
            "/admin/signin",
            &[
                ("csrf", &csrf),
                ("email", "grace@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await
        .expect(401);

    // A reset says the same whether the address has an account or not, and mails only
    // a person who has one and may sign in.
    app.patch(
        &app.page_path(&format!("/users/{uid}")),
        json!({"user": {"disabled": false}}),
    )
    .await
    .expect(200);
    let mut someone = Person::new(&app);
    let csrf = someone.csrf("/admin/reset").await;
    let known = someone
        .post(
            "/admin/reset",
            &[("csrf", &csrf), ("email", "grace@example.com")],
        )
        .await
        .expect(200);
    let unknown = someone
        .post(
            "/admin/reset",
            &[("csrf", &csrf), ("email", "nobody@example.com")],
        )
        .await
        .expect(200);
    // The same page either way (the server's clock stamped on it aside).
    let same = |html: &str, email: &str| {
        let html = html.replace(email, "X");
        match html.find("data-now=\"") {
            Some(at) => {
                let end = html[at + 10..]
                    .find('"')
                    .map_or(html.len(), |e| at + 10 + e);
                format!("{}{}", &html[..at], &html[end..])
            }
            None => html,
        }
    };
    assert_eq!(
        same(&known.text, "grace@example.com"),
        same(&unknown.text, "nobody@example.com")
    );
    let mails = sink.wait_for(2, std::time::Duration::from_secs(20)).await;
    assert!(
        mails[1].subject().contains("Reset"),
        "{}",
        mails[1].subject()
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(sink.to("nobody@example.com").is_empty());

    let list = app.get(&app.page_path("/users")).await.expect(200).json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    app.delete(&app.page_path(&format!("/users/{uid}")))
        .await
        .expect(200);
    app.get(&app.page_path(&format!("/users/{uid}")))
        .await
        .expect(404);
}
