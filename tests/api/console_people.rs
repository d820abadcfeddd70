//! The console's subscriber and tenant pages over HTTP, as a browser without
//! JavaScript uses them: every change made through a form shows in the admin API,
//! bad input comes back as a sentence and changes nothing, roles are those of the API,
//! irreversible actions need their verb, and a CSV import writes nothing until every
//! row is good.

use herald::domain::Role;
use herald_tests::TestApp;
use serde_json::{Value, json};

use crate::console::{id, signed_in};

async fn subscriber(app: &TestApp, id: &str) -> Value {
    app.get(&app.page_path(&format!("/subscribers/{id}")))
        .await
        .expect(200)
        .json()
}

async fn all_subscribers(app: &TestApp) -> Vec<Value> {
    app.get(&app.page_path("/subscribers?state=all"))
        .await
        .expect(200)
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn tenants(app: &TestApp) -> Vec<Value> {
    app.get(&app.page_path("/tenants"))
        .await
        .expect(200)
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The id at the end of a `303`'s location, before its query.
fn located(r: &herald_tests::Resp, prefix: &str) -> String {
    let loc = r.header("location").unwrap_or_default();
    assert!(loc.starts_with(prefix), "{loc}");
    loc[prefix.len()..]
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn subscribers_are_added_searched_and_managed_through_the_console() {
    let app = TestApp::spawn().await;
    let api = id(&app.create_component("API", None).await);
    let mut p = signed_in(&app, "resp@example.com", Role::Responder).await;
    let csrf = p.csrf("/admin/subscribers").await;

    // Adding: empty, then a bad address, change nothing.
    let r = p
        .post("/admin/subscribers", &[("csrf", &csrf), ("action", "add")])
        .await
        .expect(422);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);
    assert!(r.text.contains("needs"), "{}", r.text);
    let r = p
        .post(
            "/admin/subscribers",
            &[("csrf", &csrf), ("email", "not an address")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    assert!(
        r.text.contains("aria-describedby=\"form-error\""),
        "{}",
        r.text
    );
    assert!(all_subscribers(&app).await.is_empty());

    // One who already agreed, following one component; one who must confirm.
    let r = p
        .post(
            "/admin/subscribers",
            &[
                ("csrf", &csrf),
                ("email", "Ada@Example.com"),
                ("component_ids[]", &api),
                ("skip_confirmation_notification", "true"),
            ],
        )
        .await
        .expect(303);
    let ada = located(&r, "/admin/subscribers/");
    let s = subscriber(&app, &ada).await;
    assert_eq!(s["state"], "active");
    assert_eq!(s["components"], json!([api]));
    let r = p
        .post(
            "/admin/subscribers",
            &[("csrf", &csrf), ("email", "bob@example.com")],
        )
        .await
        .expect(303);
    let bob = located(&r, "/admin/subscribers/");
    assert_eq!(subscriber(&app, &bob).await["state"], "unconfirmed");
    // The same address again is refused as the API refuses it.
    let r = p
        .post(
            "/admin/subscribers",
            &[("csrf", &csrf), ("email", "bob@example.com")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("already subscribed"), "{}", r.text);

    // The list: counts by state, a prefix search, a state filter.
    let r = p.get("/admin/subscribers").await.expect(200);
    assert!(
        r.text.contains("1 active") && r.text.contains("1 unconfirmed"),
        "{}",
        r.text
    );
    let r = p.get("/admin/subscribers?q=ADA").await.expect(200);
    assert!(
        r.text.contains("Ada@Example.com") && !r.text.contains("bob@example.com"),
        "{}",
        r.text
    );
    let r = p.get("/admin/subscribers?q=bo").await.expect(200);
    assert!(!r.text.contains("Ada@Example.com") && r.text.contains("bob@example.com"));
    let r = p
        .get("/admin/subscribers?state=unconfirmed")
        .await
        .expect(200);
    assert!(!r.text.contains("Ada@Example.com") && r.text.contains("bob@example.com"));

    // What Ada follows: everything, then nothing ticked is refused.
    let page = format!("/admin/subscribers/{ada}");
    let r = p.get(&page).await.expect(200);
    assert!(r.text.contains("Save what they follow"));
    p.post(
        &page,
        &[("csrf", &csrf), ("action", "follow"), ("follows", "all")],
    )
    .await
    .expect(303);
    assert_eq!(subscriber(&app, &ada).await["components"], json!([]));
    let r = p
        .post(
            &page,
            &[("csrf", &csrf), ("action", "follow"), ("follows", "chosen")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("tick at least one"), "{}", r.text);
    assert_eq!(subscriber(&app, &ada).await["components"], json!([]));
    p.post(
        &page,
        &[
            ("csrf", &csrf),
            ("action", "follow"),
            ("follows", "chosen"),
            ("component_ids[]", &api),
        ],
    )
    .await
    .expect(303);
    assert_eq!(subscriber(&app, &ada).await["components"], json!([api]));

    // The confirmation link again: only for one who has not confirmed.
    let r = p
        .post(&page, &[("csrf", &csrf), ("action", "resend")])
        .await
        .expect(422);
    assert!(
        r.text.contains("only an unconfirmed subscriber"),
        "{}",
        r.text
    );
    p.post(
        &format!("/admin/subscribers/{bob}"),
        &[("csrf", &csrf), ("action", "resend")],
    )
    .await
    .expect(303);

    // Unsubscribing needs its verb.
    let r = p
        .post(&page, &[("csrf", &csrf), ("action", "preview")])
        .await
        .expect(200);
    assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    assert!(r.text.contains("data-confirm="), "{}", r.text);
    assert_eq!(subscriber(&app, &ada).await["state"], "active");
    p.post(&page, &[("csrf", &csrf), ("action", "unsubscribe")])
        .await
        .expect(303);
    assert_eq!(subscriber(&app, &ada).await["state"], "unsubscribed");

    // Reactivating is an admin's, as in the API.
    let reactivate = format!("/admin/subscribers/{ada}/reactivate");
    p.post(&reactivate, &[("csrf", &csrf), ("action", "reactivate")])
        .await
        .expect(403);
    assert_eq!(subscriber(&app, &ada).await["state"], "unsubscribed");
    let mut admin = signed_in(&app, "admin@example.com", Role::Admin).await;
    let acsrf = admin.csrf(&page).await;
    admin
        .post(&reactivate, &[("csrf", &acsrf), ("action", "preview")])
        .await
        .expect(200);
    assert_eq!(subscriber(&app, &ada).await["state"], "unsubscribed");
    admin
        .post(&reactivate, &[("csrf", &acsrf), ("action", "reactivate")])
        .await
        .expect(303);
    assert_eq!(subscriber(&app, &ada).await["state"], "active");

    // A viewer cannot read subscribers (the API's role for them is responder).
    let mut v = signed_in(&app, "viewer@example.com", Role::Viewer).await;
    v.get("/admin/subscribers").await.expect(403);
    v.get(&page).await.expect(403);
    let vcsrf = v.csrf("/admin").await;
    v.post(&page, &[("csrf", &vcsrf), ("action", "unsubscribe")])
        .await
        .expect(403);
    v.post(
        "/admin/subscribers",
        &[("csrf", &vcsrf), ("email", "eve@example.com")],
    )
    .await
    .expect(403);
    assert_eq!(subscriber(&app, &ada).await["state"], "active");
    assert_eq!(all_subscribers(&app).await.len(), 2);
}

#[tokio::test]
async fn a_subscriber_csv_with_a_bad_row_writes_nothing_until_it_is_fixed() {
    let app = TestApp::spawn().await;
    app.create_component("API", None).await;
    let mut admin = signed_in(&app, "admin@example.com", Role::Admin).await;
    let csrf = admin.csrf("/admin/subscribers/import").await;
    let bad = "email,components\nann@example.com,API\ncid@example.com,Billing\n";
    for action in ["preview", "import"] {
        let r = admin
            .post(
                "/admin/subscribers/import",
                &[("csrf", &csrf), ("csv", bad), ("action", action)],
            )
            .await
            .expect(422);
        assert!(r.text.contains("row 3"), "{}", r.text);
        assert!(r.text.contains("Billing"), "{}", r.text);
        assert!(r.text.contains("Nothing was imported"), "{}", r.text);
        assert!(all_subscribers(&app).await.is_empty());
    }
    // A row the store refuses (not an address) is named by its line too.
    let r = admin
        .post(
            "/admin/subscribers/import",
            &[
                ("csrf", &csrf),
                ("csv", "email\nann@example.com\nnot-an-address\n"),
                ("action", "import"),
            ],
        )
        .await
        .expect(422);
    assert!(r.text.contains("row 3"), "{}", r.text);
    assert!(all_subscribers(&app).await.is_empty());
    let mut good = String::from("email,components\nann@example.com,API\ncid@example.com,\n");
    for n in 0..60 {
        good.push_str(&format!("bulk{n:02}@example.com,\n"));
    }
    let r = admin
        .post(
            "/admin/subscribers/import",
            &[("csrf", &csrf), ("csv", &good), ("action", "preview")],
        )
        .await
        .expect(200);
    assert!(r.text.contains("62 will be created"), "{}", r.text);
    assert!(all_subscribers(&app).await.is_empty());
    let r = admin
        .post(
            "/admin/subscribers/import",
            &[("csrf", &csrf), ("csv", &good), ("action", "import")],
        )
        .await
        .expect(303);
    let next = r.header("location").unwrap_or_default().to_owned();
    let r = admin.get(&next).await.expect(200);
    assert!(r.text.contains("Imported 62 subscribers"), "{}", r.text);
    assert_eq!(
        app.get(&app.page_path("/subscribers/count"))
            .await
            .expect(200)
            .json()["email"],
        62
    );
    // Pages of a bounded size, by cursor.
    assert_eq!(
        r.text.matches("<th scope=\"row\">").count(),
        50,
        "{}",
        r.text
    );
    let r = admin.get("/admin/subscribers?q=bulk").await.expect(200);
    assert!(r.text.contains("bulk00@example.com") && !r.text.contains("bulk59@example.com"));
    let at = r
        .text
        .find("rel=\"next\"")
        .map(|i| &r.text[..i])
        .unwrap_or_default();
    let href = at.rsplit("href=\"").next().unwrap_or_default();
    let href = href[..href.find('"').unwrap_or(0)]
        .replace("&amp;", "&")
        .replace("&#x3D;", "=");
    let r = admin.get(&href).await.expect(200);
    assert!(r.text.contains("bulk59@example.com") && !r.text.contains("bulk00@example.com"));
    // Importing is an admin's.
    let mut resp = signed_in(&app, "resp@example.com", Role::Responder).await;
    resp.get("/admin/subscribers/import").await.expect(403);
    let rcsrf = resp.csrf("/admin/subscribers").await;
    resp.post(
        "/admin/subscribers/import",
        &[
            ("csrf", &rcsrf),
            ("csv", "email\nx@example.com\n"),
            ("action", "import"),
        ],
    )
    .await
    .expect(403);
}

#[tokio::test]
async fn tenants_are_created_edited_and_deleted_through_the_console() {
    let app = TestApp::spawn().await;
    let voice = id(&app.create_component("Voice", None).await);
    let pod = id(&app.create_group("Prod2 (EU)", &[&voice]).await);
    let mut admin = signed_in(&app, "admin@example.com", Role::Admin).await;
    let csrf = admin.csrf("/admin/tenants").await;

    let r = admin
        .post("/admin/tenants", &[("csrf", &csrf), ("action", "preview")])
        .await
        .expect(422);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);
    let r = admin
        .post(
            "/admin/tenants",
            &[
                ("csrf", &csrf),
                ("name", "Acme"),
                ("emails", "ops@acme.example\nnot an address"),
            ],
        )
        .await
        .expect(422);
    assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    // What was typed comes back.
    assert!(r.text.contains("ops@acme.example"), "{}", r.text);
    assert!(tenants(&app).await.is_empty());

    let r = admin
        .post(
            "/admin/tenants",
            &[
                ("csrf", &csrf),
                ("name", "Acme"),
                ("emails", "ops@acme.example\ncto@acme.example"),
                ("runs_on[]", &pod),
            ],
        )
        .await
        .expect(303);
    let acme = located(&r, "/admin/tenants/");
    let t = &tenants(&app).await[0];
    assert_eq!(t["name"], "Acme");
    assert_eq!(t["group_ids"], json!([pod]));
    assert_eq!(t["emails"].as_array().map(Vec::len), Some(2));

    let page = format!("/admin/tenants/{acme}");
    let r = admin.get(&page).await.expect(200);
    assert!(r.text.contains("Prod2 (EU) (pod)"), "{}", r.text);
    admin
        .post(
            &page,
            &[
                ("csrf", &csrf),
                ("action", "save"),
                ("name", "Acme Corp"),
                ("emails", "ops@acme.example"),
                ("runs_on[]", &voice),
            ],
        )
        .await
        .expect(303);
    let t = &tenants(&app).await[0];
    assert_eq!(t["name"], "Acme Corp");
    assert_eq!(t["component_ids"], json!([voice]));
    assert_eq!(t["group_ids"], json!([]));
    assert_eq!(t["emails"], json!(["ops@acme.example"]));
    let r = admin
        .post(&page, &[("csrf", &csrf), ("action", "save"), ("name", "")])
        .await
        .expect(422);
    assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    assert_eq!(tenants(&app).await[0]["name"], "Acme Corp");

    let r = admin.get("/admin/tenants?q=corp").await.expect(200);
    assert!(r.text.contains("Acme Corp"));
    let r = admin.get("/admin/tenants?q=zzz").await.expect(200);
    assert!(!r.text.contains("Acme Corp"));

    // A responder sees tenants but no forms, and cannot change them.
    let mut resp = signed_in(&app, "resp@example.com", Role::Responder).await;
    let r = resp.get("/admin/tenants").await.expect(200);
    assert!(r.text.contains("Acme Corp") && !r.text.contains("Add a tenant"));
    let r = resp.get(&page).await.expect(200);
    assert!(!r.text.contains("Delete tenant"));
    let rcsrf = resp.csrf("/admin").await;
    resp.post(&page, &[("csrf", &rcsrf), ("action", "delete")])
        .await
        .expect(403);
    let mut v = signed_in(&app, "viewer@example.com", Role::Viewer).await;
    v.get("/admin/tenants").await.expect(403);

    // Deleting needs its verb.
    let r = admin
        .post(&page, &[("csrf", &csrf), ("action", "preview")])
        .await
        .expect(200);
    assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    assert_eq!(tenants(&app).await.len(), 1);
    admin
        .post(&page, &[("csrf", &csrf), ("action", "delete")])
        .await
        .expect(303);
    assert!(tenants(&app).await.is_empty());
    app.get(&app.page_path(&format!("/tenants/{acme}")))
        .await
        .expect(404);
}

#[tokio::test]
async fn a_tenant_csv_with_a_bad_row_writes_nothing_until_it_is_fixed() {
    let app = TestApp::spawn().await;
    let voice = id(&app.create_component("Voice", None).await);
    app.create_group("Prod2 (EU)", &[&voice]).await;
    let mut admin = signed_in(&app, "admin@example.com", Role::Admin).await;
    let csrf = admin.csrf("/admin/tenants/import").await;
    let r = admin
        .post(
            "/admin/tenants/import",
            &[("csrf", &csrf), ("action", "preview")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("paste the CSV"), "{}", r.text);
    // A pod that does not exist, found while reading.
    let bad = "name,emails,groups\nAcme,ops@acme.example,Prod2 (EU)\nBeta,ops@beta.example,Prod9\n";
    let r = admin
        .post(
            "/admin/tenants/import",
            &[("csrf", &csrf), ("csv", bad), ("action", "import")],
        )
        .await
        .expect(422);
    assert!(
        r.text.contains("row 3") && r.text.contains("Prod9"),
        "{}",
        r.text
    );
    assert!(tenants(&app).await.is_empty());
    // A contact the store refuses, found by the import itself and rolled back.
    let bad = "name,emails,groups\nAcme,ops@acme.example,Prod2 (EU)\nBeta,not an address,\n";
    let r = admin
        .post(
            "/admin/tenants/import",
            &[("csrf", &csrf), ("csv", bad), ("action", "import")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("row 3"), "{}", r.text);
    assert!(tenants(&app).await.is_empty());
    let good = "name,emails,groups\nAcme,ops@acme.example,Prod2 (EU)\nBeta,ops@beta.example,\n";
    let r = admin
        .post(
            "/admin/tenants/import",
            &[("csrf", &csrf), ("csv", good), ("action", "preview")],
        )
        .await
        .expect(200);
    assert!(r.text.contains("2 will be created"), "{}", r.text);
    assert!(tenants(&app).await.is_empty());
    admin
        .post(
            "/admin/tenants/import",
            &[("csrf", &csrf), ("csv", good), ("action", "import")],
        )
        .await
        .expect(303);
    let all = tenants(&app).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["name"], "Acme");
    assert_eq!(all[0]["group_ids"].as_array().map(Vec::len), Some(1));
}
