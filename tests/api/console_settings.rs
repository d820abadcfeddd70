//! The console's settings over HTTP, as a browser without JavaScript uses them: the
//! page's settings, the people who sign in (invited by mail through the delivery
//! machinery), API tokens (the key shown once, revoked for good), and users kept by
//! `herald export` / `herald import`. Each change is checked through the admin API.

use std::time::Duration;

use herald::domain::Role;
use herald_tests::{Resp, TestApp, smtp::Sink};
use reqwest::Method;
use serde_json::{Value, json};

use crate::console::{PASSWORD, Person, csrf_in, signed_in};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

async fn page_doc(app: &TestApp) -> Value {
    app.get(&app.page_path("")).await.expect(200).json()
}

async fn people(app: &TestApp) -> Vec<Value> {
    app.get(&app.page_path("/users"))
        .await
        .expect(200)
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn person<'v>(all: &'v [Value], email: &str) -> Option<&'v Value> {
    all.iter().find(|u| {
        u["email"]
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
    })
}

fn assert_says(r: &Resp, text: &str) {
    assert!(r.text.contains(text), "expected {text:?} in {}", r.text);
}

/// The settings form as the page fills it, with `changes` over it.
fn settings_form<'a>(csrf: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("csrf", csrf),
        ("name", "Acme Status"),
        ("time_zone", "Europe/Berlin"),
        ("subdomain", ""),
        ("support_url", "mailto:help@acme.test"),
        ("reminder_lead_minutes", "10"),
        ("responder_emails", "oncall@acme.test\nlead@acme.test"),
        ("responder_webhook_url", ""),
        ("show_first_update_delay", "true"),
        ("action", "save"),
    ];
    for (k, v) in changes {
        f.retain(|(key, _)| key != k);
        f.push((k, v));
    }
    f
}

#[tokio::test]
async fn an_admin_changes_the_page_settings_through_the_form() {
    let app = TestApp::spawn().await;
    let mut ada = signed_in(&app, "ada@example.com", Role::Admin).await;
    let page = ada.get("/admin/settings").await.expect(200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_says(&page, "<option selected>Etc/UTC</option>");
    assert_says(&page, "/admin/settings/users");
    let csrf = csrf_in(&page.text);

    let r = ada
        .post("/admin/settings", &settings_form(&csrf, &[]))
        .await
        .expect(303);
    assert_eq!(r.header("location"), Some("/admin/settings?done=saved"));
    let doc = page_doc(&app).await;
    assert_eq!(doc["name"], "Acme Status", "{doc}");
    assert_eq!(doc["time_zone"], "Europe/Berlin", "{doc}");
    assert_eq!(doc["support_url"], "mailto:help@acme.test", "{doc}");
    assert_eq!(doc["reminder_lead_minutes"], 10, "{doc}");
    assert_eq!(
        doc["responder_emails"],
        json!(["oncall@acme.test", "lead@acme.test"])
    );
    assert_eq!(doc["show_first_update_delay"], true);
    let after = ada.get("/admin/settings?done=saved").await.expect(200);
    assert_says(&after, "The settings are saved.");
    assert_says(&after, "<option selected>Europe/Berlin</option>");
    // The public page wears the new name.
    assert_says(&app.public("/").await.expect(200), "Acme Status");
    // In the audit log under her name.
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
            .any(|a| a["actor"] == "ada@example.com" && a["action"] == "page.update"),
        "{audit}"
    );

    // Refused input comes back with a sentence tied to its field; nothing changes.
    for (changes, says, field) in [
        (
            vec![("time_zone", "Mars/Olympus_Mons")],
            "is not an IANA time zone",
            "time_zone",
        ),
        (
            vec![("reminder_lead_minutes", "soon")],
            "whole number of minutes",
            "reminder_lead_minutes",
        ),
        (
            vec![("reminder_lead_minutes", "0")],
            "between 1 and 1440",
            "reminder_lead_minutes",
        ),
        (
            vec![("support_url", "ftp://files.acme.test")],
            "support_url",
            "support_url",
        ),
        (
            vec![("responder_emails", "not an address")],
            "not an address",
            "responder_emails",
        ),
        (vec![("name", "  ")], "name", "name"),
    ] {
        let mut c = changes.clone();
        c.push(("name", if field == "name" { "  " } else { "Other name" }));
        let r = ada
            .post("/admin/settings", &settings_form(&csrf, &c))
            .await
            .expect(422);
        assert_says(&r, says);
        assert_says(&r, "role=\"alert\"");
        // The field names its error (after its hint, if it has one).
        assert!(
            r.text
                .contains(&format!("aria-describedby=\"{field}-error\""))
                || r.text
                    .contains(&format!("aria-describedby=\"{field}-hint {field}-error\"")),
            "{field}: {}",
            r.text
        );
        assert_says(&r, &format!("id=\"{field}-error\""));
    }
    // Without its Save button the form changes nothing.
    let r = ada
        .post(
            "/admin/settings",
            &[
                ("csrf", &csrf),
                ("name", "Other name"),
                ("action", "preview"),
            ],
        )
        .await
        .expect(422);
    assert_says(&r, "Nothing was changed");
    assert_eq!(page_doc(&app).await, doc);

    // A viewer and a responder see the settings but no form, and their posts are refused;
    // people and tokens are an admin's alone.
    for role in [Role::Viewer, Role::Responder] {
        let mut p = signed_in(&app, &format!("{role}@example.com"), role).await;
        let page = p.get("/admin/settings").await.expect(200);
        assert_says(&page, "Acme Status");
        assert_says(&page, "Only an admin can change these.");
        assert!(
            !page.text.contains("action=\"/admin/settings\""),
            "a {role} is offered the form"
        );
        assert!(!page.text.contains("/admin/settings/users"), "{role}");
        let csrf = csrf_in(&page.text);
        let r = p
            .post(
                "/admin/settings",
                &settings_form(&csrf, &[("name", "Hijacked")]),
            )
            .await
            .expect(403);
        assert_says(&r, "Your role cannot do this");
        for path in ["/admin/settings/users", "/admin/settings/tokens"] {
            p.get(path).await.expect(403);
        }
        p.post(
            "/admin/settings/users",
            &[("csrf", &csrf), ("email", "mallory@example.com")],
        )
        .await
        .expect(403);
        p.post(
            "/admin/settings/tokens",
            &[("csrf", &csrf), ("name", "Mallory"), ("role", "admin")],
        )
        .await
        .expect(403);
    }
    assert_eq!(page_doc(&app).await["name"], "Acme Status");
    assert!(person(&people(&app).await, "mallory@example.com").is_none());
}

#[tokio::test]
async fn an_admin_invites_by_mail_changes_roles_and_removes_people() {
    let sink = Sink::start().await;
    let app = TestApp::spawn_mailing(&sink).await;
    let mut ada = signed_in(&app, "ada@example.com", Role::Admin).await;
    let page = ada.get("/admin/settings/users").await.expect(200);
    assert_says(&page, "ada@example.com");
    let csrf = csrf_in(&page.text);

    // Empty, not an address: refused with a sentence at the field, nobody added.
    let r = ada
        .post("/admin/settings/users", &[("csrf", &csrf), ("email", "")])
        .await
        .expect(422);
    assert_says(&r, "Enter the address of the person to invite.");
    assert_says(
        &r,
        "aria-describedby=\"invite-email-hint invite-email-error\"",
    );
    let r = ada
        .post(
            "/admin/settings/users",
            &[
                ("csrf", &csrf),
                ("email", "grace at example"),
                ("role", "responder"),
            ],
        )
        .await
        .expect(422);
    assert_says(&r, "Nothing was changed");
    assert_says(&r, "value=\"grace at example\"");
    assert_eq!(people(&app).await.len(), 1);

    // The invitation goes out by mail; its link sets a password and signs her in.
    let r = ada
        .post(
            "/admin/settings/users",
            &[
                ("csrf", &csrf),
                ("email", "grace@example.com"),
                ("name", "Grace Hopper"),
                ("role", "responder"),
            ],
        )
        .await
        .expect(303);
    assert_eq!(
        r.header("location"),
        Some("/admin/settings/users?done=invited")
    );
    let all = people(&app).await;
    let grace = person(&all, "grace@example.com")
        .cloned()
        .unwrap_or_default();
    assert_eq!(grace["role"], "responder", "{grace}");
    assert_eq!(grace["state"], "invited", "{grace}");
    assert_eq!(grace["name"], "Grace Hopper", "{grace}");
    let gid = id(&grace);
    let listed = ada
        .get("/admin/settings/users?done=invited")
        .await
        .expect(200);
    assert_says(&listed, "The invitation is on its way by mail.");
    assert_says(&listed, "invitation pending");
    let dup = ada
        .post(
            "/admin/settings/users",
            &[("csrf", &csrf), ("email", "GRACE@example.com")],
        )
        .await
        .expect(409);
    assert_says(&dup, "already exists");

    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails[0].to, "grace@example.com");
    assert!(
        mails[0].subject().contains("invited"),
        "{}",
        mails[0].subject()
    );
    let link = mails[0]
        .link(&format!("{}/admin/welcome?token=", app.base))
        .unwrap_or_else(|| panic!("no link in {}", mails[0].text()));
    let mut hopper = Person::new(&app);
    let welcome = hopper.csrf(&link).await;
    let token = link.split("token=").nth(1).unwrap_or_default();
    hopper
        .post(
            "/admin/welcome",
            &[
                ("csrf", &welcome),
                ("token", token),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await
        .expect(303);
    hopper.get("/admin").await.expect(200);
    // A responder cannot reach the people page nor its forms.
    hopper.get("/admin/settings/users").await.expect(403);
    let hcsrf = hopper.csrf("/admin").await;
    hopper
        .post(
            &format!("/admin/settings/users/{gid}"),
            &[("csrf", &hcsrf), ("role", "admin"), ("action", "role")],
        )
        .await
        .expect(403);
    let grace = app
        .get(&app.page_path(&format!("/users/{gid}")))
        .await
        .expect(200)
        .json();
    assert_eq!(grace["state"], "active");
    assert_eq!(grace["role"], "responder");

    // Searching finds her, and only her.
    let found = ada.get("/admin/settings/users?q=HOPPER").await.expect(200);
    assert_says(&found, "grace@example.com");
    assert!(
        !found.text.contains("ada@example.com</span>"),
        "{}",
        found.text
    );
    let none = ada
        .get("/admin/settings/users?q=nobody%25")
        .await
        .expect(200);
    assert_says(&none, "Nobody matches");

    // A new role: the API shows it, and her session ends.
    let r = ada
        .post(
            &format!("/admin/settings/users/{gid}"),
            &[("csrf", &csrf), ("role", "viewer"), ("action", "role")],
        )
        .await
        .expect(303);
    assert_eq!(
        r.header("location"),
        Some("/admin/settings/users?done=role")
    );
    let grace = app
        .get(&app.page_path(&format!("/users/{gid}")))
        .await
        .expect(200)
        .json();
    assert_eq!(grace["role"], "viewer");
    hopper.get("/admin").await.expect(303);

    // A reset link by mail.
    ada.post(
        &format!("/admin/settings/users/{gid}"),
        &[("csrf", &csrf), ("action", "link")],
    )
    .await
    .expect(303);
    let mails = sink.wait_for(2, Duration::from_secs(20)).await;
    assert!(
        mails[1].subject().contains("Reset"),
        "{}",
        mails[1].subject()
    );
    assert!(
        mails[1]
            .link(&format!("{}/admin/welcome?token=", app.base))
            .is_some(),
        "{}",
        mails[1].text()
    );

    // The last admin cannot demote or remove herself, here or through the API.
    let aid = id(person(&people(&app).await, "ada@example.com").unwrap_or(&Value::Null));
    for action in [
        vec![
            ("csrf", csrf.as_str()),
            ("role", "responder"),
            ("action", "role"),
        ],
        vec![("csrf", csrf.as_str()), ("action", "delete")],
    ] {
        let r = ada
            .post(&format!("/admin/settings/users/{aid}"), &action)
            .await
            .expect(409);
        assert_says(&r, "is the last admin");
    }
    let r = app
        .delete(&app.page_path(&format!("/users/{aid}")))
        .await
        .expect(409);
    assert_says(&r, "last admin");
    app.patch(
        &app.page_path(&format!("/users/{aid}")),
        json!({"user": {"disabled": true}}),
    )
    .await
    .expect(409);
    ada.get("/admin/settings/users").await.expect(200);

    // Removing needs its verb.
    let r = ada
        .post(
            &format!("/admin/settings/users/{gid}"),
            &[("csrf", &csrf), ("action", "preview")],
        )
        .await
        .expect(422);
    assert_says(&r, "Nothing was changed");
    assert!(person(&people(&app).await, "grace@example.com").is_some());
    let page = ada.get("/admin/settings/users").await.expect(200);
    assert_says(
        &page,
        "value=\"delete\" data-confirm=\"Remove grace@example.com?",
    );
    ada.post(
        &format!("/admin/settings/users/{gid}"),
        &[("csrf", &csrf), ("action", "delete")],
    )
    .await
    .expect(303);
    app.get(&app.page_path(&format!("/users/{gid}")))
        .await
        .expect(404);
    let r = ada
        .post(
            &format!("/admin/settings/users/{gid}"),
            &[("csrf", &csrf), ("action", "delete")],
        )
        .await
        .expect(404);
    assert_says(&r, "There is no person here");
}

/// The key on the page that answered a token's creation.
fn key_in(html: &str) -> String {
    let at = html
        .find("id=\"fresh-key\"")
        .unwrap_or_else(|| panic!("no key in {html}"));
    let rest = &html[at..];
    let v = rest.find("value=\"").unwrap_or_default() + "value=\"".len();
    rest[v..v + rest[v..].find('"').unwrap_or(0)].to_owned()
}

async fn token_named(app: &TestApp, name: &str) -> Value {
    app.get(&app.page_path("/api-tokens"))
        .await
        .expect(200)
        .json()
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no token {name}"))
}

#[tokio::test]
async fn a_token_made_in_the_console_works_until_it_is_revoked() {
    let app = TestApp::spawn().await;
    let mut ada = signed_in(&app, "ada@example.com", Role::Admin).await;
    let csrf = ada.csrf("/admin/settings/tokens").await;

    let r = ada
        .post(
            "/admin/settings/tokens",
            &[("csrf", &csrf), ("name", " "), ("role", "responder")],
        )
        .await
        .expect(422);
    assert_says(&r, "Give the token a name");
    assert_says(&r, "aria-describedby=\"token-name-hint token-name-error\"");
    let before = app
        .get(&app.page_path("/api-tokens"))
        .await
        .expect(200)
        .json();

    let made = ada
        .post(
            "/admin/settings/tokens",
            &[
                ("csrf", &csrf),
                ("name", "Deploy pipeline"),
                ("role", "responder"),
            ],
        )
        .await
        .expect(200);
    assert_eq!(made.header("cache-control"), Some("no-store"));
    assert_says(&made, "it will not be shown again");
    let key = key_in(&made.text);
    assert!(key.starts_with("hrld_"), "{key}");
    let t = token_named(&app, "Deploy pipeline").await;
    assert_eq!(t["role"], "responder");
    assert_eq!(
        before.as_array().map(|a| a.len() + 1),
        app.get(&app.page_path("/api-tokens"))
            .await
            .expect(200)
            .json()
            .as_array()
            .map(Vec::len)
    );
    // The key is never shown again.
    let list = ada.get("/admin/settings/tokens").await.expect(200);
    assert_says(&list, "Deploy pipeline");
    assert!(!list.text.contains(&key), "the key is on the list");

    // It authenticates as a responder: it may declare, not administer.
    app.send(
        Method::POST,
        &app.page_path("/incidents"),
        Some(&key),
        Some(json!({"incident": {"name": "From the pipeline", "status": "investigating"}})),
    )
    .await
    .expect(201);
    app.send(Method::GET, &app.page_path("/api-tokens"), Some(&key), None)
        .await
        .expect(403);
    let used = ada.get("/admin/settings/tokens").await.expect(200);
    assert!(!used.text.contains(">Never<"), "{}", used.text);

    // Revoking needs its verb; then the key stops working.
    let tid = id(&t);
    let r = ada
        .post(
            &format!("/admin/settings/tokens/{tid}"),
            &[("csrf", &csrf), ("action", "preview")],
        )
        .await
        .expect(422);
    assert_says(&r, "Nothing was changed");
    app.send(Method::GET, &app.page_path("/incidents"), Some(&key), None)
        .await
        .expect(200);
    let r = ada
        .post(
            &format!("/admin/settings/tokens/{tid}"),
            &[("csrf", &csrf), ("action", "revoke")],
        )
        .await
        .expect(303);
    assert_eq!(
        r.header("location"),
        Some("/admin/settings/tokens?done=revoked")
    );
    app.send(Method::GET, &app.page_path("/incidents"), Some(&key), None)
        .await
        .expect(401);
    let t = token_named(&app, "Deploy pipeline").await;
    assert!(t["revoked_at"].is_string(), "{t}");
    let page = ada
        .get("/admin/settings/tokens?done=revoked")
        .await
        .expect(200);
    assert_says(&page, "The token is revoked");

    // The last admin token stays, as the API says.
    let admin = app
        .get(&app.page_path("/api-tokens"))
        .await
        .expect(200)
        .json()
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["role"] == "admin" && t["revoked_at"].is_null())
        .cloned()
        .unwrap_or_default();
    let r = ada
        .post(
            &format!("/admin/settings/tokens/{}", id(&admin)),
            &[("csrf", &csrf), ("action", "revoke")],
        )
        .await
        .expect(409);
    assert_says(&r, "last active admin token");
    app.get(&app.page_path("/incidents")).await.expect(200);

    // In the audit log under her name.
    let audit = app
        .get(&app.page_path("/audit-log"))
        .await
        .expect(200)
        .json();
    for action in ["api_token.create", "api_token.revoke"] {
        assert!(
            audit
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["actor"] == "ada@example.com" && a["action"] == action),
            "{action}: {audit}"
        );
    }
}

/// `herald export` then `herald import` keeps the people, their roles and passwords;
/// sessions and sign-in links stay behind.
#[tokio::test]
async fn users_survive_an_export_and_import() {
    let app = TestApp::spawn_sqlite().await;
    let mut ada = signed_in(&app, "ada@example.com", Role::Admin).await;
    let csrf = ada.csrf("/admin/settings/users").await;
    ada.post(
        "/admin/settings/users",
        &[
            ("csrf", &csrf),
            ("email", "grace@example.com"),
            ("name", "Grace Hopper"),
            ("role", "responder"),
        ],
    )
    .await
    .expect(303);
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = crate::ops::herald(work.path());
    cmd.args(["export", "-o", "page.json"])
        .env("HERALD_DATABASE_URL", &app.database_url);
    let (status, _, err) = crate::ops::run(cmd);
    assert!(status.success(), "{err}");
    let text =
        std::fs::read_to_string(work.path().join("page.json")).unwrap_or_else(|e| panic!("{e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let users = doc["users"].as_array().cloned().unwrap_or_default();
    assert_eq!(users.len(), 2, "{}", doc["users"]);
    assert!(
        users.iter().any(|u| u["email"] == "ada@example.com"
            && u["password_hash"]
                .as_str()
                .is_some_and(|h| h.starts_with("$argon2id$"))),
        "{users:?}"
    );
    for key in ["console_sessions", "sign_in_links", "sessions"] {
        assert!(doc.get(key).is_none(), "{key} is exported");
    }

    let target = herald_tests::sqlite_in(&work.path().join("copy"));
    std::fs::create_dir_all(work.path().join("copy")).unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = crate::ops::herald(work.path());
    cmd.args(["import", "page.json"])
        .env("HERALD_DATABASE_URL", &target);
    let (status, _, err) = crate::ops::run(cmd);
    assert!(status.success(), "{err}");
    let copy = TestApp::spawn_on(&target, &app.admin).await;
    let path = app.page_path("/users");
    let a = app.get(&path).await.expect(200).text;
    let b = copy
        .send(Method::GET, &path, Some(&app.admin), None)
        .await
        .expect(200)
        .text;
    assert_eq!(a, b, "the users differ after the round trip");

    // Her password still signs her in; her old session does not carry over.
    let mut again = Person::new(&copy);
    again.get("/admin").await.expect(303);
    let csrf = again.csrf("/admin/signin").await;
    again
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
    let page = again.get("/admin/settings/users").await.expect(200);
    assert_says(&page, "grace@example.com");
    assert_says(&page, "invitation pending");
}
