//! Serving: freshness, caching, compression, feeds, instances, pages, hostile input.

use super::*;

#[tokio::test]
async fn an_admin_change_shows_on_the_next_public_request() {
    let app = TestApp::spawn().await;
    let api = id_of(&app.create_component("API", None).await);
    let before = app.public("/api/v2/status.json").await.expect(200).json();
    assert_eq!(before["status"]["indicator"], "none");

    let inc = app
        .create_incident(json!({"name": "Checkout failing everywhere", "status": "investigating", "components": {api.as_str(): "major_outage"}}))
        .await;
    let id = id_of(&inc);
    // No wait, no retry: the very next request sees it.
    let summary = app.public("/api/v2/summary.json").await.expect(200).json();
    assert!(
        find(list(&summary, "incidents"), &id).is_some(),
        "{summary}"
    );
    assert_eq!(summary["status"]["indicator"], "critical");
    assert_eq!(summary["components"][0]["status"], "major_outage");
    let home = app.public("/").await.expect(200);
    assert!(
        home.text.contains("Checkout failing everywhere"),
        "the page does not show the new incident"
    );
    app.public(&format!("/incidents/{id}")).await.expect(200);
    let live = app.public("/live.json").await.expect(200).json();
    assert_eq!(live["status"]["indicator"], "critical");

    app.update_incident(&id, json!({"status": "resolved"}))
        .await;
    let unresolved = app
        .public("/api/v2/incidents/unresolved.json")
        .await
        .expect(200)
        .json();
    assert_eq!(unresolved["incidents"], json!([]));
    let status = app.public("/api/v2/status.json").await.expect(200).json();
    assert_eq!(status["status"]["indicator"], "none");
    assert_eq!(status["status"]["description"], "All Systems Operational");

    // A maintenance starting now, with nothing else wrong, shows as `maintenance`.
    let now = Utc::now();
    let m = app
        .create_incident(json!({
            "name": "Failover drill",
            "status": "in_progress",
            "scheduled_for": (now - Duration::minutes(1)).to_rfc3339(),
            "scheduled_until": (now + Duration::hours(1)).to_rfc3339(),
            "components": {api.as_str(): "under_maintenance"},
        }))
        .await;
    let summary = app.public("/api/v2/summary.json").await.expect(200).json();
    assert_eq!(
        summary["status"]["indicator"], "maintenance",
        "{}",
        summary["status"]
    );
    assert_eq!(
        summary["status"]["description"],
        "Service Under Maintenance"
    );
    assert_eq!(ids(list(&summary, "scheduled_maintenances")), [id_of(&m)]);
    assert_eq!(summary["components"][0]["status"], "under_maintenance");
}

#[tokio::test]
async fn etags_cache_headers_and_compression() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let path = "/api/v2/summary.json";

    let (status, h, identity) = raw(&app, path, &[]).await;
    assert_eq!(status, 200);
    let etag = header(&h, "etag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "ETag {etag:?}"
    );
    let cc = header(&h, "cache-control");
    for d in ["max-age", "stale-while-revalidate", "stale-if-error"] {
        assert!(cc.contains(d), "Cache-Control {cc:?} lacks {d}");
    }
    assert!(
        header(&h, "vary")
            .to_lowercase()
            .contains("accept-encoding"),
        "Vary: {:?}",
        header(&h, "vary")
    );
    assert!(
        header(&h, "content-encoding").is_empty(),
        "identity unless asked"
    );

    let (status, h304, body) = raw(&app, path, &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 304);
    assert!(body.is_empty(), "a 304 has no body");
    assert_eq!(header(&h304, "etag"), etag);

    for (accept, coding, magic) in [("br", "br", None), ("gzip", "gzip", Some([0x1f_u8, 0x8b]))] {
        let (status, h, body) = raw(&app, path, &[("Accept-Encoding", accept)]).await;
        assert_eq!(status, 200);
        assert_eq!(
            header(&h, "content-encoding"),
            coding,
            "Accept-Encoding: {accept}"
        );
        assert_eq!(
            header(&h, "content-type"),
            "application/json; charset=utf-8"
        );
        assert!(
            body.len() < identity.len(),
            "{coding}: {} bytes is not smaller than {}",
            body.len(),
            identity.len()
        );
        if let Some(m) = magic {
            assert_eq!(body.get(..2), Some(&m[..]), "gzip magic");
        }
        // A conditional request for the compressed variant also answers 304.
        let tag = header(&h, "etag").to_owned();
        let (status, _, _) = raw(
            &app,
            path,
            &[("Accept-Encoding", accept), ("If-None-Match", &tag)],
        )
        .await;
        assert_eq!(status, 304, "{coding} ETag {tag}");
    }

    app.create_incident(json!({"name": "Cache buster"})).await;
    let (status, h, _) = raw(&app, path, &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 200, "the old ETag no longer matches");
    assert_ne!(
        header(&h, "etag"),
        etag,
        "the ETag changes with the content"
    );
}

// ---------------------------------------------------------------------------------------
// Feeds and calendar

/// Decodes XML/HTML character references once, as a feed reader does.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let end = rest.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text between the first `open` and the following `close`.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

#[tokio::test]
async fn atom_rss_and_calendar_feeds_follow_statuspage() {
    let w = world().await;
    let app = &w.app;
    let docs = documents(app).await;
    let page = &doc(&docs, "/api/v2/summary.json")["page"];
    let page_url = page["url"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();
    let host = url::Url::parse(&page_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    assert!(!host.is_empty(), "{page_url}");
    let name = page["name"].as_str().unwrap_or_default();
    let title = format!("{name} Status - Incident History");

    // Everything the feeds should hold, newest first, with its current status label.
    let mut everything: Vec<Value> =
        list(doc(&docs, "/api/v2/incidents.json"), "incidents").to_vec();
    everything.extend(
        list(
            doc(&docs, "/api/v2/scheduled-maintenances.json"),
            "scheduled_maintenances",
        )
        .iter()
        .cloned(),
    );
    everything.sort_by_key(|i| std::cmp::Reverse(parse_ts(&i["created_at"])));
    let label = |status: &str| match status {
        "in_progress" => "In progress".to_owned(),
        s => {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    };

    // Atom.
    let atom = app.public("/history.atom").await.expect(200);
    assert!(
        atom.header("content-type")
            .unwrap_or_default()
            .starts_with("application/atom+xml"),
        "{:?}",
        atom.header("content-type")
    );
    let xml = &atom.text;
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains(&format!("<id>tag:{host},2005:/history</id>")),
        "feed id missing: {xml}"
    );
    assert!(
        xml.contains(&format!("<title>{title}</title>")),
        "feed title missing: {xml}"
    );
    let entries: Vec<&str> = xml.split("<entry>").skip(1).collect();
    assert_eq!(
        entries.len(),
        everything.len(),
        "one entry per incident or maintenance"
    );
    let mut published = Vec::new();
    for (entry, expected) in entries.iter().zip(&everything) {
        let id = id_of(expected);
        assert_eq!(
            between(entry, "<id>", "</id>"),
            Some(format!("tag:{host},2005:Incident/{id}").as_str()),
            "entries are newest first"
        );
        assert!(
            entry.contains(&format!("href=\"{page_url}/incidents/{id}\"")),
            "entry link: {entry}"
        );
        assert_eq!(
            between(entry, "<title>", "</title>").map(unescape),
            expected["name"].as_str().map(str::to_owned)
        );
        published.push(
            between(entry, "<published>", "</published>")
                .map(str::to_owned)
                .unwrap_or_default(),
        );
        assert!(
            between(entry, "<updated>", "</updated>").is_some(),
            "{entry}"
        );
        let content = between(entry, "<content type=\"html\">", "</content>")
            .unwrap_or_else(|| panic!("no content: {entry}"));
        assert!(!content.contains('<'), "content is escaped HTML: {content}");
        let html = unescape(content);
        let strong = between(&html, "<strong>", "</strong>")
            .unwrap_or_else(|| panic!("no <strong>: {html}"));
        // The incident's status: its newest update's, or "Postmortem" once published.
        let newest = expected["status"].as_str().unwrap_or_default();
        assert_eq!(
            strong,
            label(newest),
            "the first <strong> of {} is its current status",
            expected["name"]
        );
        assert!(
            html.starts_with("<p><small>") && html.contains("<var data-var='date'>"),
            "{html}"
        );
        let postmortem = usize::from(expected["status"] == "postmortem");
        assert_eq!(
            html.matches("<strong>").count(),
            list(expected, "incident_updates").len() + postmortem,
            "one paragraph per update, and one for a published postmortem"
        );
        if postmortem == 1 {
            assert!(
                html.starts_with("<p><small>") && strong == "Postmortem",
                "{html}"
            );
        }
    }
    assert!(published.iter().all(|p| is_ts(p)), "{published:?}");
    let resolved_entry = entries
        .iter()
        .find(|e| e.contains(&format!("Incident/{}</id>", w.resolved)))
        .map(|e| unescape(e))
        .unwrap_or_default();
    assert!(
        resolved_entry.contains("<strong>Resolved</strong> - This incident has been resolved."),
        "{resolved_entry}"
    );

    // RSS.
    let rss = app.public("/history.rss").await.expect(200);
    assert!(
        rss.header("content-type")
            .unwrap_or_default()
            .starts_with("application/rss+xml"),
        "{:?}",
        rss.header("content-type")
    );
    let channel = between(&rss.text, "<channel>", "</channel>")
        .unwrap_or_else(|| panic!("no channel: {}", rss.text));
    assert_eq!(
        between(channel, "<title>", "</title>"),
        Some(title.as_str())
    );
    assert_eq!(
        between(channel, "<link>", "</link>"),
        Some(page_url.as_str())
    );
    let items: Vec<&str> = channel.split("<item>").skip(1).collect();
    assert_eq!(
        items.len(),
        everything.len(),
        "one item per incident or maintenance"
    );
    for (item, expected) in items.iter().zip(&everything) {
        let link = format!("{page_url}/incidents/{}", id_of(expected));
        assert_eq!(
            between(item, "<guid>", "</guid>"),
            Some(link.as_str()),
            "{item}"
        );
        assert_eq!(
            between(item, "<link>", "</link>"),
            Some(link.as_str()),
            "{item}"
        );
        let date = between(item, "<pubDate>", "</pubDate>").unwrap_or_default();
        assert!(
            DateTime::parse_from_rfc2822(date).is_ok(),
            "pubDate {date:?} is not RFC 822"
        );
        let html = unescape(between(item, "<description>", "</description>").unwrap_or_default());
        assert!(html.starts_with("<p><small>"), "{html}");
    }

    // The page advertises both feeds.
    let home = app.public("/").await.expect(200);
    let head = between(&home.text, "<head>", "</head>").unwrap_or_else(|| panic!("no <head>"));
    for (ty, file) in [
        ("application/atom+xml", "history.atom"),
        ("application/rss+xml", "history.rss"),
    ] {
        let link = head
            .split("<link ")
            .find(|l| l.contains("rel=\"alternate\"") && l.contains(&format!("type=\"{ty}\"")))
            .unwrap_or_else(|| panic!("<head> does not advertise {ty}: {head}"));
        assert!(link.contains(file), "{link}");
    }

    // iCalendar: one VEVENT per maintenance.
    let ics = app.public("/maintenance.ics").await.expect(200);
    assert!(
        ics.header("content-type")
            .unwrap_or_default()
            .starts_with("text/calendar"),
        "{:?}",
        ics.header("content-type")
    );
    let unfolded = ics
        .text
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace('\r', "");
    assert!(unfolded.starts_with("BEGIN:VCALENDAR"), "{unfolded}");
    let events: Vec<&str> = unfolded.split("BEGIN:VEVENT").skip(1).collect();
    let maintenances = list(
        doc(&docs, "/api/v2/scheduled-maintenances.json"),
        "scheduled_maintenances",
    );
    assert_eq!(
        events.len(),
        maintenances.len(),
        "one VEVENT per maintenance: {unfolded}"
    );
    for m in maintenances {
        let summary = format!("SUMMARY:{}", m["name"].as_str().unwrap_or_default());
        let event = events
            .iter()
            .find(|e| e.lines().any(|l| l == summary))
            .unwrap_or_else(|| panic!("no VEVENT with {summary}: {unfolded}"));
        assert!(event.contains("DTSTART"), "{event}");
        assert!(event.contains("END:VEVENT"), "{event}");
    }
}

// ---------------------------------------------------------------------------------------
// Several instances

#[tokio::test]
async fn a_second_instance_catches_up_within_two_seconds() {
    let app = TestApp::spawn().await;
    let sibling = app.sibling().await;
    let before = sibling
        .public("/api/v2/summary.json")
        .await
        .expect(200)
        .json();
    assert_eq!(before["incidents"], json!([]));

    let id = id_of(
        &app.create_incident(json!({"name": "Seen from elsewhere"}))
            .await,
    );
    let start = tokio::time::Instant::now();
    loop {
        let s = sibling
            .public("/api/v2/summary.json")
            .await
            .expect(200)
            .json();
        if find(list(&s, "incidents"), &id).is_some() {
            break;
        }
        assert!(
            start.elapsed() <= StdDuration::from_secs(2),
            "the sibling did not show the incident within 2 s: {s}"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    // And the other way round, for a change of status.
    sibling
        .update_incident(&id, json!({"status": "resolved"}))
        .await;
    let start = tokio::time::Instant::now();
    loop {
        let s = app
            .public("/api/v2/incidents/unresolved.json")
            .await
            .expect(200)
            .json();
        if s["incidents"] == json!([]) {
            break;
        }
        assert!(
            start.elapsed() <= StdDuration::from_secs(2),
            "the first instance did not see the resolution within 2 s"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    sibling.stop().await;
}

// ---------------------------------------------------------------------------------------
// HTML pages

fn assert_html(r: &Resp, what: &str) {
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "{what}: {:?}",
        r.header("content-type")
    );
    let lower = r.text.to_lowercase();
    assert!(lower.starts_with("<!doctype html>"), "{what}: {}", r.text);
    for leak in [
        "panicked",
        "stack backtrace",
        "rust_backtrace",
        ".rs:",
        "internal error",
    ] {
        assert!(!lower.contains(leak), "{what} leaks {leak:?}: {}", r.text);
    }
}

#[tokio::test]
async fn incident_pages_history_and_errors() {
    let w = world().await;
    let app = &w.app;
    let docs = documents(app).await;
    let incidents = list(doc(&docs, "/api/v2/incidents.json"), "incidents");

    // The demo's resolved incident, with its published postmortem.
    let demo = incidents
        .iter()
        .find(|i| i["status"] == "postmortem")
        .unwrap_or_else(|| panic!("no postmortem incident"));
    let r = app
        .public(&format!("/incidents/{}", id_of(demo)))
        .await
        .expect(200);
    assert_html(&r, "demo incident page");
    assert!(
        r.text.contains(demo["name"].as_str().unwrap_or_default()),
        "name missing"
    );
    assert!(r.text.contains("Duration"), "duration missing");
    assert!(
        r.text
            .contains("A deploy reduced the number of queue consumers"),
        "postmortem missing"
    );
    assert!(
        r.text.contains(">Root cause</h") && !r.text.contains("## Root cause"),
        "the postmortem's Markdown is rendered (its headings as HTML headings)"
    );

    // Our resolved incident: a draft postmortem stays hidden until it is published.
    let page = format!("/incidents/{}", w.resolved);
    let r = app.public(&page).await.expect(200);
    assert_html(&r, "resolved incident page");
    assert!(r.text.contains("Elevated billing errors") && r.text.contains("Duration"));
    for u in [
        "We are investigating elevated error rates on billing.",
        "A faulty deploy was identified.",
        "This incident has been resolved.",
    ] {
        assert!(r.text.contains(u), "update {u:?} missing");
    }
    let pm = app.page_path(&format!("/incidents/{}/postmortem", w.resolved));
    app.put(
        &pm,
        json!({"postmortem": {"body_draft": "The billing queue ran dry."}}),
    )
    .await
    .expect(200);
    let r = app.public(&page).await.expect(200);
    assert!(
        !r.text.contains("The billing queue ran dry."),
        "a draft postmortem is not public"
    );
    app.put(
        &format!("{pm}/publish"),
        json!({"postmortem": {"notify_subscribers": false}}),
    )
    .await
    .expect(200);
    let r = app.public(&page).await.expect(200);
    assert!(
        r.text.contains("The billing queue ran dry."),
        "the published postmortem shows at once"
    );

    // Unknown incidents and paths get the friendly page.
    for path in [
        "/incidents/zzzzzzzzzzzz",
        "/incidents/no-such-thing",
        "/no/such/page",
    ] {
        let r = app.public(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_html(&r, path);
        assert!(
            r.text.to_lowercase().contains("not found"),
            "{path}: {}",
            r.text
        );
    }

    // History lists the past: incidents resolved and maintenance completed, not what
    // is going on or planned (the home page has those).
    let r = app.public("/history").await.expect(200);
    assert_html(&r, "history");
    let ongoing = app
        .public("/api/v2/incidents/unresolved.json")
        .await
        .expect(200)
        .json();
    let ongoing = ongoing["incidents"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!ongoing.is_empty(), "the demo has an ongoing incident");
    for name in [
        "Elevated billing errors",
        "Certificate rotation",
        demo["name"].as_str().unwrap_or_default(),
    ] {
        assert!(r.text.contains(name), "history lacks {name}");
    }
    for name in ["Database upgrade", "Search index rebuild", ongoing.as_str()] {
        assert!(
            !r.text.contains(name),
            "history lists {name}, which is not over"
        );
    }
    assert!(
        r.text
            .contains(&format!("href=\"/incidents/{}\"", w.resolved)),
        "history links to incident pages"
    );

    // The public side is read-only.
    for path in ["/", "/api/v2/summary.json", page.as_str()] {
        let r = app.send(Method::POST, path, None, Some(json!({}))).await;
        assert_eq!(r.status, 405, "POST {path}");
    }
}

#[tokio::test]
async fn hostile_markdown_is_inert_on_pages_and_in_feeds() {
    let app = TestApp::spawn().await;
    let body = "Update with <script>alert('xss')</script> a picture <img src=x onerror=\"alert(2)\"> \
                and [click me](javascript:alert(3)) and <a href=\"JaVaScRiPt:alert(4)\">this</a>.";
    let inc = app
        .create_incident(
            json!({"name": "Hostile body check", "status": "investigating", "body": body}),
        )
        .await;
    let id = id_of(&inc);
    app.update_incident(
        &id,
        json!({"status": "identified", "body": "Second <script>document.cookie</script> update"}),
    )
    .await;

    for path in [format!("/incidents/{id}"), "/".to_owned()] {
        let r = app.public(&path).await.expect(200);
        let lower = r.text.to_lowercase();
        let scripts = lower.matches("<script").count();
        let ours = lower.matches("<script src=\"/static/herald.js").count();
        assert_eq!(
            scripts, ours,
            "{path}: a <script> from the update survived: {}",
            r.text
        );
        for bad in ["onerror", "javascript:", "alert("] {
            assert!(!lower.contains(bad), "{path}: {bad:?} survived: {}", r.text);
        }
        assert!(
            r.text.contains("Second"),
            "{path}: the latest update is shown"
        );
    }
    let page = app.public(&format!("/incidents/{id}")).await.text;
    assert!(
        page.contains("click me"),
        "harmless text of the first update stays"
    );

    for path in ["/history.atom", "/history.rss"] {
        let r = app.public(path).await.expect(200);
        let raw = r.text.to_lowercase();
        assert!(
            !raw.contains("<script"),
            "{path}: a raw <script> in the XML"
        );
        // What a feed reader renders: the content decoded once.
        let rendered = unescape(&r.text).to_lowercase();
        for bad in ["<script", "onerror", "javascript:"] {
            assert!(
                !rendered.contains(bad),
                "{path}: {bad:?} survives decoding: {rendered}"
            );
        }
        assert!(rendered.contains("click me"), "{path}: harmless text stays");
    }

    // A hostile incident name is shown as text, never as markup.
    let name = "Name <img src=x onerror=alert(5)> check";
    let hostile = id_of(&app.create_incident(json!({"name": name})).await);
    for path in [format!("/incidents/{hostile}"), "/".to_owned()] {
        let r = app.public(&path).await.expect(200);
        assert!(
            !r.text.to_lowercase().contains("<img src=x"),
            "{path}: the name became markup: {}",
            r.text
        );
        assert!(
            r.text.contains("Name &lt;img"),
            "{path}: the name is shown, escaped"
        );
    }
    // History shows it once it is over.
    app.update_incident(&hostile, json!({"status": "resolved", "body": "Done."}))
        .await;
    for path in ["/history".to_owned()] {
        let r = app.public(&path).await.expect(200);
        assert!(
            !r.text.to_lowercase().contains("<img src=x"),
            "{path}: the name became markup: {}",
            r.text
        );
        assert!(
            r.text.contains("Name &lt;img"),
            "{path}: the name is shown, escaped"
        );
    }
    for path in ["/history.atom", "/history.rss"] {
        let r = app.public(path).await.expect(200);
        assert!(
            !r.text.to_lowercase().contains("<img"),
            "{path}: the name became markup: {}",
            r.text
        );
    }
}

/// A rebuild with nothing new (the periodic one, or another instance's poll) yields the
/// same bytes, so caches in front keep answering 304.
#[tokio::test]
async fn a_rebuild_without_changes_keeps_every_etag() {
    let app = TestApp::spawn().await;
    app.create_component("API", None).await;
    let inc = app.create_incident(json!({"name": "Blip"})).await;
    app.update_incident(
        inc["id"].as_str().unwrap_or(""),
        json!({"status": "resolved"}),
    )
    .await;
    let paths = [
        "/",
        "/history",
        "/api/v2/summary.json",
        "/history.atom",
        "/maintenance.ics",
    ];
    let mut before = Vec::new();
    for p in paths {
        before.push(
            app.public(p)
                .await
                .expect(200)
                .header("etag")
                .unwrap_or("")
                .to_owned(),
        );
    }
    app.rebuild().await;
    for (p, tag) in paths.iter().zip(&before) {
        let r = app
            .client
            .get(app.url(p))
            .header("If-None-Match", tag.as_str())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(
            r.status(),
            StatusCode::NOT_MODIFIED,
            "{p} changed without a change"
        );
    }
}
