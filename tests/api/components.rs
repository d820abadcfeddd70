use herald_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn components_and_groups_are_managed_and_ordered() {
    let app = TestApp::spawn().await;
    let web = app.create_component("Web client", None).await;
    let voice = app.create_component("Voice", None).await;
    let kb = app.create_component("Knowledge base", None).await;
    let ids = |v: &serde_json::Value| v["id"].as_str().unwrap_or("").to_owned();
    let pod = app
        .create_group("Prod1 (US)", &[&ids(&web), &ids(&voice)])
        .await;
    assert_eq!(pod["components"], json!([ids(&web), ids(&voice)]));

    // Rename and reorder.
    let path = app.page_path(&format!("/components/{}", ids(&kb)));
    let renamed = app
        .patch(
            &path,
            json!({"component": {"name": "Help center", "position": 1}}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(renamed["name"], "Help center");
    assert_eq!(renamed["position"], 1);
    let list = app
        .get(&app.page_path("/components"))
        .await
        .expect(200)
        .json();
    let positions: Vec<i64> = list
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["position"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(positions, [1, 2, 3, 4], "positions stay dense and ordered");
    assert_eq!(list[0]["name"], "Help center");

    // Status changes are kept as history; the group shows its worst child.
    let vpath = app.page_path(&format!("/components/{}", ids(&voice)));
    app.patch(&vpath, json!({"component": {"status": "partial_outage"}}))
        .await
        .expect(200);
    app.patch(&vpath, json!({"component": {"status": "operational"}}))
        .await
        .expect(200);
    app.patch(&vpath, json!({"component": {"status": "major_outage"}}))
        .await
        .expect(200);
    let hist = app
        .get(&app.page_path(&format!("/components/{}/status-history", ids(&voice))))
        .await
        .expect(200)
        .json();
    let news: Vec<&str> = hist
        .as_array()
        .map(|a| a.iter().filter_map(|h| h["new_status"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(news, ["partial_outage", "operational", "major_outage"]);
    let all = app.get(&app.page_path("/components")).await.json();
    let group = all
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == pod["id"]).cloned())
        .unwrap_or_default();
    assert_eq!(group["group"], true);
    assert_eq!(group["status"], "major_outage");

    // Deleting a group keeps its components.
    app.delete(&app.page_path(&format!("/component-groups/{}", ids(&pod))))
        .await
        .expect(200);
    assert_eq!(
        app.component(&ids(&voice)).await["group_id"],
        serde_json::Value::Null
    );
    app.delete(&vpath).await.expect(200);
    app.get(&vpath).await.expect(404);
}

#[tokio::test]
async fn bad_component_input_is_refused_clearly() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            &app.page_path("/components"),
            json!({"component": {"name": "X", "status": "down"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["code"], "invalid_field");
    assert_eq!(r["error"]["field"], "component.status");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("major_outage")
    );
    let r = app
        .post(
            &app.page_path("/components"),
            json!({"component": {"name": "  "}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "component.name");
    let r = app
        .post(
            &app.page_path("/components"),
            json!({"component": {"name": "X", "group_id": "nope"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "component.group_id");
    let r = app
        .post(
            &app.page_path("/components"),
            json!({"component": {"name": "X", "position": "first"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "component.position");
    let list = app.get(&app.page_path("/components")).await.json();
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(0),
        "nothing was written"
    );
}

#[tokio::test]
async fn the_page_has_a_subdomain_clients_can_rely_on() {
    let app =
        TestApp::spawn_with(|s| s.public_url = Some("https://status.acme.example".into())).await;
    let page = app.get(&app.page_path("")).await.expect(200).json();
    assert_eq!(page["subdomain"], "status");
    let page = app
        .patch(&app.page_path(""), json!({"page": {"subdomain": "Acme"}}))
        .await
        .expect(200)
        .json();
    assert_eq!(page["subdomain"], "acme");
    let r = app
        .patch(
            &app.page_path(""),
            json!({"page": {"subdomain": "no dots.here"}}),
        )
        .await
        .expect(422)
        .json();
    assert_eq!(r["error"]["field"], "page.subdomain");
}
