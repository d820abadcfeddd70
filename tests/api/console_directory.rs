//! The console's components board and incident templates over HTTP, as a browser
//! without JavaScript uses them: every form goes through the API's write path (the API
//! shows the result), an invalid form comes back with a sentence and changes nothing, a
//! viewer sees pages without forms and is refused, and deleting needs its verb.

use herald::domain::Role;
use herald_tests::TestApp;
use serde_json::{Value, json};

use crate::console::{id, signed_in};

fn components(app_list: &Value) -> Vec<Value> {
    app_list.as_array().cloned().unwrap_or_default()
}

async fn all_components(app: &TestApp) -> Vec<Value> {
    components(
        &app.get(&app.page_path("/components"))
            .await
            .expect(200)
            .json(),
    )
}

async fn find(app: &TestApp, name: &str) -> Option<Value> {
    all_components(app)
        .await
        .into_iter()
        .find(|c| c["name"] == name)
}

async fn audit_actions(app: &TestApp) -> Vec<(String, String)> {
    app.get(&app.page_path("/audit-log?limit=200"))
        .await
        .expect(200)
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["actor"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The text of the form's textarea `name`, as the browser would show it.
fn textarea(html: &str, name: &str) -> String {
    let open = format!("name=\"{name}\"");
    let at = html
        .find(&open)
        .unwrap_or_else(|| panic!("no textarea {name} in {html}"));
    let rest = &html[at..];
    let start = rest.find('>').map_or(0, |i| i + 1);
    let end = rest.find("</textarea>").unwrap_or(start);
    rest[start..end]
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x3D;", "=")
        .replace("&#x60;", "`")
}

#[tokio::test]
async fn a_responder_runs_the_components_board_through_its_forms() {
    let app = TestApp::spawn().await;
    let pod = id(&app.create_group("Prod2 (EU)", &[]).await);
    let voice = id(&app.create_component("Voice", Some(&pod)).await);
    let public_api = id(&app.create_component("Public API", None).await);
    let mut p = signed_in(&app, "resp@example.com", Role::Responder).await;

    let board = p.get("/admin/components").await.expect(200);
    for needle in [
        "Prod2 (EU)",
        "Voice",
        "Public API",
        &format!("/admin/components/{voice}/status"),
        "Add a component",
        "Add a group",
    ] {
        assert!(board.text.contains(needle), "no '{needle}' on the board");
    }
    let csrf = p.csrf("/admin/components").await;

    // The status in place, through the API's component update.
    let r = p
        .post(
            &format!("/admin/components/{voice}/status"),
            &[("csrf", &csrf), ("status", "major_outage")],
        )
        .await
        .expect(303);
    assert!(
        r.header("location")
            .unwrap_or_default()
            .contains("done=status")
    );
    assert_eq!(app.component(&voice).await["status"], "major_outage");
    assert!(
        audit_actions(&app)
            .await
            .iter()
            .any(|(a, who)| a == "component.set_status" && who.contains("resp@example.com")),
        "the status change is not in the audit log under the person"
    );
    let r = p
        .post(
            &format!("/admin/components/{voice}/status"),
            &[("csrf", &csrf), ("status", "on_fire")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("choose the status"), "{}", r.text);
    assert_eq!(app.component(&voice).await["status"], "major_outage");

    // Create: empty, a bad date, then a good one.
    let before = all_components(&app).await.len();
    let r = p
        .post("/admin/components", &[("csrf", &csrf), ("name", "")])
        .await
        .expect(422);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);
    assert!(r.text.contains("name"), "{}", r.text);
    let r = p
        .post(
            "/admin/components",
            &[
                ("csrf", &csrf),
                ("name", "Billing"),
                ("start_date", "last week"),
            ],
        )
        .await
        .expect(422);
    assert!(
        r.text
            .contains("the start date must be a date like 2026-04-14"),
        "{}",
        r.text
    );
    // The form keeps what was typed.
    assert!(r.text.contains("value=\"Billing\""), "{}", r.text);
    assert_eq!(all_components(&app).await.len(), before);
    p.post(
        "/admin/components",
        &[
            ("csrf", &csrf),
            ("name", "Billing"),
            ("description", "Invoices and cards"),
            ("group_id", &pod),
            ("status", "degraded_performance"),
            ("start_date", "2026-01-05"),
            ("showcase", "true"),
        ],
    )
    .await
    .expect(303);
    let billing = find(&app, "Billing").await.unwrap_or_default();
    assert_eq!(billing["group_id"], pod.as_str());
    assert_eq!(billing["description"], "Invoices and cards");
    assert_eq!(billing["status"], "degraded_performance");
    assert_eq!(billing["start_date"], "2026-01-05");
    assert_eq!(billing["showcase"], true);
    assert_eq!(billing["only_show_if_degraded"], false);
    let billing = id(&billing);

    // Edit: renamed, out of the group, shown only when degraded.
    let page = p
        .get(&format!("/admin/components/{billing}"))
        .await
        .expect(200);
    assert!(page.text.contains("value=\"Invoices and cards\""));
    p.post(
        &format!("/admin/components/{billing}"),
        &[
            ("csrf", &csrf),
            ("action", "save"),
            ("name", "Billing & invoices"),
            ("description", ""),
            ("group_id", ""),
            ("status", "degraded_performance"),
            ("showcase", "true"),
            ("only_show_if_degraded", "true"),
        ],
    )
    .await
    .expect(303);
    let c = app.component(&billing).await;
    assert_eq!(c["name"], "Billing & invoices");
    assert_eq!(c["group_id"], Value::Null);
    assert_eq!(c["description"], Value::Null);
    assert_eq!(c["only_show_if_degraded"], true);
    let r = p
        .post(
            &format!("/admin/components/{billing}"),
            &[("csrf", &csrf), ("action", "save"), ("name", "   ")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("aria-invalid=\"true\""), "{}", r.text);
    assert_eq!(app.component(&billing).await["name"], "Billing & invoices");

    // Move: Billing is after Public API among the components in no group; up once.
    let place = |all: &[Value], id: &str| all.iter().position(|c| c["id"] == id);
    let all = all_components(&app).await;
    assert!(place(&all, &public_api) < place(&all, &billing));
    p.post(
        &format!("/admin/components/{billing}"),
        &[("csrf", &csrf), ("action", "up")],
    )
    .await
    .expect(303);
    let all = all_components(&app).await;
    assert!(place(&all, &billing) < place(&all, &public_api), "{all:?}");
    let board = p.get("/admin/components").await.expect(200);
    let (b, a) = (
        board.text.find("Billing &amp; invoices"),
        board.text.find("Public API"),
    );
    assert!(b.is_some() && b < a, "the board is not in the new order");

    // Delete needs its verb; one an open incident holds needs the box ticked.
    let r = p
        .post(
            &format!("/admin/components/{billing}"),
            &[("csrf", &csrf), ("action", "preview")],
        )
        .await
        .expect(200);
    assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    app.component(&billing).await;
    app.create_incident(json!({"name": "Cards declined", "status": "investigating",
        "body": "Looking.", "components": {&billing: "partial_outage"}}))
        .await;
    let r = p
        .post(
            &format!("/admin/components/{billing}"),
            &[("csrf", &csrf), ("action", "delete")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("held by the open incident"), "{}", r.text);
    assert!(
        r.text.contains("tick “Also take it out of open incidents”"),
        "{}",
        r.text
    );
    app.component(&billing).await;
    p.post(
        &format!("/admin/components/{billing}"),
        &[("csrf", &csrf), ("action", "delete"), ("force", "true")],
    )
    .await
    .expect(303);
    app.get(&app.page_path(&format!("/components/{billing}")))
        .await
        .expect(404);
    assert!(
        audit_actions(&app)
            .await
            .iter()
            .any(|(a, who)| a == "component.delete" && who.contains("resp@example.com"))
    );
}

#[tokio::test]
async fn groups_are_created_renamed_moved_and_deleted_as_the_api_does() {
    let app = TestApp::spawn().await;
    let a = id(&app.create_group("Prod1 (US)", &[]).await);
    let b = id(&app.create_group("Prod2 (EU)", &[]).await);
    let voice = id(&app.create_component("Voice", Some(&a)).await);
    let mut p = signed_in(&app, "resp@example.com", Role::Responder).await;
    let csrf = p.csrf("/admin/components").await;

    let r = p
        .post("/admin/component-groups", &[("csrf", &csrf), ("name", "")])
        .await
        .expect(422);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);
    p.post(
        "/admin/component-groups",
        &[("csrf", &csrf), ("name", "Prod3 (APAC)")],
    )
    .await
    .expect(303);
    let groups = app
        .get(&app.page_path("/component-groups"))
        .await
        .expect(200)
        .json();
    let names: Vec<&str> = groups
        .as_array()
        .map(|g| g.iter().filter_map(|g| g["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["Prod1 (US)", "Prod2 (EU)", "Prod3 (APAC)"]);

    // Rename.
    p.post(
        &format!("/admin/component-groups/{a}"),
        &[
            ("csrf", &csrf),
            ("action", "save"),
            ("name", "Prod1 (US East)"),
        ],
    )
    .await
    .expect(303);
    let g = app
        .get(&app.page_path(&format!("/component-groups/{a}")))
        .await
        .expect(200)
        .json();
    assert_eq!(g["name"], "Prod1 (US East)");

    // Move the second group up: it comes first on the board and in the API.
    p.post(
        &format!("/admin/component-groups/{b}"),
        &[("csrf", &csrf), ("action", "up")],
    )
    .await
    .expect(303);
    let groups = app
        .get(&app.page_path("/component-groups"))
        .await
        .expect(200)
        .json();
    assert_eq!(groups[0]["id"], b.as_str(), "{groups}");
    let board = p.get("/admin/components").await.expect(200);
    assert!(board.text.find("Prod2 (EU)") < board.text.find("Prod1 (US East)"));
    // The first cannot go further up: it says so and nothing moves.
    let r = p
        .post(
            &format!("/admin/component-groups/{b}"),
            &[("csrf", &csrf), ("action", "up")],
        )
        .await
        .expect(200);
    assert!(r.text.contains("already the first"), "{}", r.text);

    // The page says what deleting does; it needs its verb; the members stay.
    let page = p
        .get(&format!("/admin/component-groups/{a}"))
        .await
        .expect(200);
    assert!(
        page.text
            .contains("its component stays on the public page, in no group"),
        "{}",
        page.text
    );
    assert!(page.text.contains("data-confirm="));
    p.post(
        &format!("/admin/component-groups/{a}"),
        &[("csrf", &csrf), ("action", "preview")],
    )
    .await
    .expect(200);
    app.get(&app.page_path(&format!("/component-groups/{a}")))
        .await
        .expect(200);
    p.post(
        &format!("/admin/component-groups/{a}"),
        &[("csrf", &csrf), ("action", "delete")],
    )
    .await
    .expect(303);
    app.get(&app.page_path(&format!("/component-groups/{a}")))
        .await
        .expect(404);
    assert_eq!(app.component(&voice).await["group_id"], Value::Null);
}

#[tokio::test]
async fn a_viewer_sees_the_board_without_forms_and_templates_stay_with_those_the_api_lets_read() {
    let app = TestApp::spawn().await;
    let voice = id(&app.create_component("Voice", None).await);
    let mut v = signed_in(&app, "viewer@example.com", Role::Viewer).await;
    let board = v.get("/admin/components").await.expect(200);
    assert!(board.text.contains("Voice"));
    for absent in [
        "/status\"",
        "Add a component",
        "Add a group",
        "value=\"up\"",
    ] {
        assert!(!board.text.contains(absent), "a viewer sees '{absent}'");
    }
    let page = v
        .get(&format!("/admin/components/{voice}"))
        .await
        .expect(200);
    assert!(page.text.contains(" disabled"));
    assert!(!page.text.contains("value=\"delete\""));
    let csrf = v.csrf("/admin/components").await;
    for (path, form) in [
        (
            format!("/admin/components/{voice}/status"),
            vec![("status", "major_outage")],
        ),
        (
            format!("/admin/components/{voice}"),
            vec![("action", "delete")],
        ),
        ("/admin/components".to_owned(), vec![("name", "Sneaky")]),
    ] {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend(form);
        v.post(&path, &f).await.expect(403);
    }
    assert_eq!(app.component(&voice).await["status"], "operational");
    assert!(find(&app, "Sneaky").await.is_none());
    // The API lets responders read templates and admins change them; so does the console.
    v.get("/admin/templates").await.expect(403);
    let mut r = signed_in(&app, "resp@example.com", Role::Responder).await;
    let list = r.get("/admin/templates").await.expect(200);
    assert!(list.text.contains("Investigating"));
    assert!(!list.text.contains("New template"));
    assert!(!list.text.contains("/admin/template-groups"));
    let csrf = r.csrf("/admin/templates").await;
    r.post(
        "/admin/templates/new",
        &[("csrf", &csrf), ("action", "save"), ("name", "Mine")],
    )
    .await
    .expect(403);
}

async fn count(app: &TestApp) -> usize {
    app.get(&app.page_path("/incident_templates?per_page=100"))
        .await
        .expect(200)
        .json()
        .as_array()
        .map_or(0, Vec::len)
}

#[tokio::test]
async fn an_admin_edits_templates_with_a_preview_rendered_as_the_public_page_renders() {
    let app = TestApp::spawn().await;
    let pod = id(&app.create_group("Prod2 (EU)", &[]).await);
    let voice = id(&app.create_component("Voice", Some(&pod)).await);
    let kb = id(&app.create_component("Knowledge base", Some(&pod)).await);
    let mut p = signed_in(&app, "admin@example.com", Role::Admin).await;
    let list = p.get("/admin/templates").await.expect(200);
    assert!(list.text.contains("Investigating"));
    assert!(
        list.text
            .contains("Maintenance scheduled</a> <span class=\"tag\">Maintenance</span>"),
        "maintenance templates are not marked: {}",
        list.text
    );
    let csrf = p.csrf("/admin/templates/new").await;
    let before = count(&app).await;

    // Preview: nothing saved, the body rendered by the public page's Markdown, the
    // components named in the board's order whatever order they were ticked in.
    let form = |action: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("action", action.to_owned()),
            ("name", "Carrier trouble".to_owned()),
            ("title", "Calls via {{vars.carrier}}".to_owned()),
            (
                "body",
                "**Calls** fail for {{component_names}}. Ticket {{vars.ticket}}.".to_owned(),
            ),
            ("update_status", "identified".to_owned()),
            ("next_update_minutes", "20".to_owned()),
            ("should_send_notifications", "true".to_owned()),
            ("affected[]", kb.clone()),
            ("affected[]", voice.clone()),
        ]
    };
    let as_refs = |f: &[(&'static str, String)]| -> Vec<(&'static str, String)> { f.to_vec() };
    let f = as_refs(&form("preview"));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = p.post("/admin/templates/new", &f).await.expect(200);
    assert!(
        r.text
            .contains("<strong>Calls</strong> fail for Voice and Knowledge base in Prod2 (EU)"),
        "{}",
        r.text
    );
    assert!(r.text.contains("Calls via [carrier]"), "{}", r.text);
    assert_eq!(count(&app).await, before);

    // Invalid: a name that is no variable; a promise that is no number.
    let mut bad = as_refs(&form("save"));
    bad[4].1 = "Broken {{oops}}".to_owned();
    let f: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = p.post("/admin/templates/new", &f).await.expect(422);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);
    assert!(r.text.contains("oops"), "{}", r.text);
    assert!(r.text.contains("aria-invalid=\"true\""), "{}", r.text);
    let mut bad = as_refs(&form("save"));
    bad[6].1 = "soon".to_owned();
    let f: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = p.post("/admin/templates/new", &f).await.expect(422);
    assert!(r.text.contains("whole number of minutes"), "{}", r.text);
    assert_eq!(count(&app).await, before);

    // Save: the API has it.
    let f = as_refs(&form("save"));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = p.post("/admin/templates/new", &f).await.expect(303);
    let location = r.header("location").unwrap_or_default().to_owned();
    assert!(location.contains("done=created"), "{location}");
    let t = location
        .split("/admin/templates/")
        .nth(1)
        .and_then(|s| s.split('?').next())
        .unwrap_or_default()
        .to_owned();
    let doc = app
        .get(&app.page_path(&format!("/incident_templates/{t}")))
        .await
        .expect(200)
        .json();
    assert_eq!(doc["name"], "Carrier trouble");
    assert_eq!(doc["update_status"], "identified");
    assert_eq!(doc["next_update_minutes"], 20);
    assert_eq!(doc["components"].as_array().map(Vec::len), Some(2));
    let page = p.get(&format!("/admin/templates/{t}")).await.expect(200);
    assert_eq!(
        textarea(&page.text, "body"),
        "**Calls** fail for {{component_names}}. Ticket {{vars.ticket}}."
    );

    // Template groups: create, put the template in, rename, delete (it stays).
    p.post(
        "/admin/template-groups",
        &[("csrf", &csrf), ("name", "Voice")],
    )
    .await
    .expect(303);
    let groups = app
        .get(&app.page_path("/incident_template_groups"))
        .await
        .expect(200)
        .json();
    let group = id(&groups[0]);
    let mut edit = as_refs(&form("save"));
    edit.push(("group_id", group.clone()));
    edit[2].1 = "Carrier down".to_owned();
    let f: Vec<(&str, &str)> = edit.iter().map(|(k, v)| (*k, v.as_str())).collect();
    p.post(&format!("/admin/templates/{t}"), &f)
        .await
        .expect(303);
    let doc = app
        .get(&app.page_path(&format!("/incident_templates/{t}")))
        .await
        .expect(200)
        .json();
    assert_eq!(doc["name"], "Carrier down");
    assert_eq!(doc["group_id"], group.as_str());
    let list = p.get("/admin/templates").await.expect(200);
    assert!(list.text.find(">Voice</h2>") < list.text.find("Carrier down"));
    p.post(
        &format!("/admin/template-groups/{group}"),
        &[("csrf", &csrf), ("action", "rename"), ("name", "Telephony")],
    )
    .await
    .expect(303);
    let r = p
        .post(
            &format!("/admin/template-groups/{group}"),
            &[("csrf", &csrf), ("action", "preview")],
        )
        .await
        .expect(200);
    assert!(r.text.contains("Nothing was changed"));
    p.post(
        &format!("/admin/template-groups/{group}"),
        &[("csrf", &csrf), ("action", "delete")],
    )
    .await
    .expect(303);
    let doc = app
        .get(&app.page_path(&format!("/incident_templates/{t}")))
        .await
        .expect(200)
        .json();
    assert_eq!(doc["group_id"], Value::Null);

    // Delete needs its verb.
    let r = p
        .post(&format!("/admin/templates/{t}"), &[("csrf", &csrf)])
        .await
        .expect(200);
    assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    app.get(&app.page_path(&format!("/incident_templates/{t}")))
        .await
        .expect(200);
    p.post(
        &format!("/admin/templates/{t}"),
        &[("csrf", &csrf), ("action", "delete")],
    )
    .await
    .expect(303);
    app.get(&app.page_path(&format!("/incident_templates/{t}")))
        .await
        .expect(404);
    assert!(
        audit_actions(&app)
            .await
            .iter()
            .any(|(a, who)| a == "template.delete" && who.contains("admin@example.com"))
    );
}

#[tokio::test]
async fn the_declare_form_gives_the_templates_text_as_typed_and_its_components_in_board_order() {
    let app = TestApp::spawn().await;
    let pod = id(&app.create_group("Prod2 (EU)", &[]).await);
    let voice = id(&app.create_component("Voice", Some(&pod)).await);
    let kb = id(&app.create_component("Knowledge base", Some(&pod)).await);
    let t = id(&app
        .post(
            &app.page_path("/incident_templates"),
            json!({"template": {"name": "Calls", "title": "Trouble with {{component_names}}",
                "body": "Problems with {{component_names}}. Next update by {{next_update.utc}} (in {{next_update.minutes}} minutes).",
                "next_update_minutes": 30, "component_ids": [&kb, &voice]}}),
        )
        .await
        .expect(201)
        .json());
    // The API names the template's components in the board's order.
    let made = app
        .create_incident(json!({"template_id": &t, "status": "investigating"}))
        .await;
    assert_eq!(
        made["name"],
        "Trouble with Voice and Knowledge base in Prod2 (EU)"
    );

    let mut p = signed_in(&app, "resp@example.com", Role::Responder).await;
    let csrf = p.csrf("/admin/incidents/new").await;
    let r = p
        .post(
            "/admin/incidents/new",
            &[
                ("csrf", &csrf),
                ("action", "preview"),
                ("template_id", &t),
                ("deliver_notifications", "true"),
            ],
        )
        .await
        .expect(200);
    let body = textarea(&r.text, "body");
    assert!(
        body.starts_with("Problems with Voice and Knowledge base in Prod2 (EU). Next update by "),
        "{body}"
    );
    assert!(!body.contains('\\'), "the form's text has escapes: {body}");
    // Published as it stands in the form, it reads the same on the public page.
    let name = "Trouble with Voice and Knowledge base in Prod2 (EU)";
    assert!(r.text.contains(name), "{}", r.text);
    let r = p
        .post(
            "/admin/incidents/new",
            &[
                ("csrf", &csrf),
                ("action", "publish"),
                ("name", name),
                ("status", "investigating"),
                ("body", &body),
            ],
        )
        .await
        .expect(303);
    let incident = r
        .header("location")
        .unwrap_or_default()
        .split("/admin/incidents/")
        .nth(1)
        .and_then(|s| s.split('?').next())
        .unwrap_or_default()
        .to_owned();
    let doc = app
        .get(&app.page_path(&format!("/incidents/{incident}")))
        .await
        .expect(200)
        .json();
    assert_eq!(doc["incident_updates"][0]["body"], body.as_str());
    let public = app
        .public(&format!("/incidents/{incident}"))
        .await
        .expect(200);
    assert!(
        public
            .text
            .contains("Problems with Voice and Knowledge base in Prod2 (EU). Next update by "),
        "{}",
        public.text
    );
}
