//! What webhook and chat endpoints receive. Webhook subscribers get Statuspage's payload
//! (`meta`, `page`, `incident` with its updates newest first, or `component_update` and
//! `component`), so existing receivers work unchanged, plus a `herald` key with the
//! event's sequence number and type. Slack gets blocks, Discord embeds and Teams a
//! message card: the status colour, the incident's name linked to its page, the update's
//! text and the affected components.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::domain::{
    Channel, ComponentId, ComponentStatus, Incident, IncidentStatus, UpdateId, page_status,
};
use crate::render::statuspage::{ComponentIndex, Flavor, PageCtx, incident_doc};
use crate::store::pages::Page;

/// What one event tells.
pub enum Told<'a> {
    Incident {
        incident: &'a Incident,
        update: Option<&'a UpdateId>,
    },
    Component {
        id: &'a ComponentId,
        old: ComponentStatus,
        new: ComponentStatus,
        at: DateTime<Utc>,
    },
}

/// The page as a payload needs it.
pub struct PageView<'a> {
    pub page: &'a Page,
    pub ctx: &'a PageCtx,
    pub index: &'a ComponentIndex<'a>,
    pub components: &'a [crate::domain::Component],
}

/// The incident as of the event: the updates up to the one told of (newest first), and
/// that update's status, so a late retry never shows a later state than its event.
fn as_of(incident: &Incident, update: Option<&UpdateId>) -> Incident {
    let mut i = incident.clone();
    i.updates.sort_by_key(|u| std::cmp::Reverse(u.ordinal));
    if let Some(ordinal) = update
        .and_then(|id| i.updates.iter().find(|u| &u.id == id))
        .map(|u| u.ordinal)
    {
        i.updates.retain(|u| u.ordinal <= ordinal);
        if let Some(u) = i.updates.first() {
            i.status = u.status;
        }
    }
    i
}

fn page_part(view: &PageView<'_>, incident: Option<&Incident>) -> Value {
    let open = incident
        .filter(|i| {
            !matches!(
                i.status,
                IncidentStatus::Resolved | IncidentStatus::Postmortem | IncidentStatus::Completed
            ) && i.scheduled_for.is_none()
        })
        .map(|i| i.impact);
    let status = page_status(
        view.components
            .iter()
            .filter(|c| !c.is_group)
            .map(|c| view.index.status(c)),
        open,
        false,
    );
    json!({
        "id": view.page.id,
        "status_indicator": status.indicator,
        "status_description": status.description,
    })
}

/// Statuspage's webhook payload with Herald's `herald` key.
pub fn webhook(
    view: &PageView<'_>,
    told: &Told<'_>,
    seq: i64,
    kind: &str,
    unsubscribe: &str,
    now: DateTime<Utc>,
) -> Value {
    let mut body = webhook_members(view, told, seq, kind);
    if let Value::Object(members) = &mut body {
        members.insert("meta".to_owned(), meta(view.ctx, unsubscribe, now));
    }
    body
}

/// The webhook payload's `meta`: the only part that differs per subscriber and attempt.
pub fn meta(ctx: &PageCtx, unsubscribe: &str, now: DateTime<Utc>) -> Value {
    json!({
        "unsubscribe": unsubscribe,
        "documentation": format!("{}/api", ctx.url),
        "generated_at": ctx.ts(now),
    })
}

/// The webhook payload without its `meta`: the same for every endpoint told of an
/// event, so a sender renders it once per event.
pub fn webhook_members(view: &PageView<'_>, told: &Told<'_>, seq: i64, kind: &str) -> Value {
    let herald = json!({"seq": seq, "type": kind});
    match told {
        Told::Incident { incident, update } => {
            let i = as_of(incident, *update);
            let doc = incident_doc(&i, view.index, view.ctx, Flavor::Manage);
            json!({
                "page": page_part(view, Some(&i)),
                "incident": doc,
                "herald": herald,
            })
        }
        Told::Component { id, old, new, at } => {
            let component = view
                .index
                .get(id)
                .map(|c| json!(view.index.doc(c, view.ctx, Flavor::Manage)))
                .unwrap_or(Value::Null);
            json!({
                "page": page_part(view, None),
                "component_update": {
                    "old_status": old,
                    "new_status": new,
                    "created_at": view.ctx.ts(*at),
                    "component_type": "Component",
                    "id": format!("{id}-{seq}"),
                    "component_id": id,
                },
                "component": component,
                "herald": herald,
            })
        }
    }
}

/// The bytes of a payload from its serialized members (an object, as
/// [`webhook_members`] gives) and its `meta`, without parsing the members again.
pub fn with_meta(members: &[u8], meta: &Value) -> serde_json::Result<Vec<u8>> {
    let inner = members
        .strip_prefix(b"{")
        .and_then(|m| m.strip_suffix(b"}"))
        .unwrap_or_default();
    let mut out = Vec::with_capacity(members.len() + 256);
    out.extend_from_slice(b"{\"meta\":");
    serde_json::to_writer(&mut out, meta)?;
    if !inner.is_empty() {
        out.push(b',');
        out.extend_from_slice(inner);
    }
    out.push(b'}');
    Ok(out)
}

/// What a chat message says.
struct Line {
    title: String,
    link: String,
    status: String,
    text: String,
    components: Vec<String>,
    colour: u32,
    at: String,
}

fn incident_colour(s: IncidentStatus) -> u32 {
    match s {
        IncidentStatus::Investigating => 0xcf_22_2e,
        IncidentStatus::Identified => 0xbc_4c_00,
        IncidentStatus::Monitoring => 0x9a_67_00,
        IncidentStatus::Resolved | IncidentStatus::Completed | IncidentStatus::Postmortem => {
            0x1a_7f_37
        }
        _ => 0x09_69_da,
    }
}

fn component_colour(s: ComponentStatus) -> u32 {
    match s {
        ComponentStatus::Operational => 0x1a_7f_37,
        ComponentStatus::UnderMaintenance => 0x09_69_da,
        ComponentStatus::DegradedPerformance => 0x9a_67_00,
        ComponentStatus::PartialOutage => 0xbc_4c_00,
        _ => 0xcf_22_2e,
    }
}

fn human(s: &str) -> String {
    let s = s.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

fn line(view: &PageView<'_>, told: &Told<'_>) -> Line {
    match told {
        Told::Incident { incident, update } => {
            let i = as_of(incident, *update);
            let u = i.updates.first();
            let text = match (update, u) {
                (None, _) => "The postmortem is published.".to_owned(),
                (Some(_), Some(u)) => u.body.clone(),
                (Some(_), None) => String::new(),
            };
            Line {
                title: i.name.clone(),
                link: view.ctx.shortlink(&i.id),
                status: human(i.status.as_str()),
                text,
                components: i
                    .components
                    .iter()
                    .filter_map(|(id, s)| {
                        view.index
                            .get(id)
                            .map(|c| format!("{}: {}", c.name, human(s.as_str())))
                    })
                    .collect(),
                colour: incident_colour(i.status),
                at: view.ctx.ts(u.map_or(i.updated_at, |u| u.display_at)),
            }
        }
        Told::Component { id, old, new, at } => {
            let name = view
                .index
                .get(id)
                .map_or_else(|| id.to_string(), |c| c.name.clone());
            Line {
                title: format!("{name} is {}", human(new.as_str()).to_lowercase()),
                link: view.ctx.url.clone(),
                status: human(new.as_str()),
                text: format!(
                    "{name} went from {} to {}.",
                    human(old.as_str()).to_lowercase(),
                    human(new.as_str()).to_lowercase()
                ),
                components: vec![format!("{name}: {}", human(new.as_str()))],
                colour: component_colour(*new),
                at: view.ctx.ts(*at),
            }
        }
    }
}

/// Slack's `<` `>` `&` escapes in mrkdwn.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// The message for a chat app.
pub fn chat(channel: Channel, view: &PageView<'_>, told: &Told<'_>) -> Value {
    let l = line(view, told);
    let components = if l.components.is_empty() {
        "None".to_owned()
    } else {
        l.components.join("\n")
    };
    let colour = format!("#{:06x}", l.colour);
    match channel {
        Channel::Slack => json!({
            "text": format!("{}: {} ({})", view.page.name, l.title, l.status),
            "attachments": [{
                "color": colour,
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": cut(&format!(
                        "*<{}|{}>*\n*{}*: {}",
                        l.link, slack_escape(&l.title), l.status, slack_escape(&l.text)
                    ), 3000)}},
                    {"type": "section", "fields": [
                        {"type": "mrkdwn", "text": format!("*Status*\n{}", l.status)},
                        {"type": "mrkdwn", "text": cut(&format!("*Affected components*\n{}", slack_escape(&components)), 2000)},
                    ]},
                    {"type": "context", "elements": [
                        {"type": "mrkdwn", "text": format!("{} · {}", slack_escape(&view.page.name), l.at)}
                    ]},
                ],
            }],
        }),
        Channel::Discord => json!({
            "username": cut(&view.page.name, 80),
            "embeds": [{
                "title": cut(&l.title, 256),
                "url": l.link,
                "description": cut(&l.text, 4096),
                "color": l.colour,
                "fields": [
                    {"name": "Status", "value": l.status, "inline": true},
                    {"name": "Affected components", "value": cut(&components, 1024), "inline": false},
                ],
                "footer": {"text": cut(&view.page.name, 2048)},
                "timestamp": l.at,
            }],
        }),
        _ => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "themeColor": format!("{:06X}", l.colour),
            "summary": cut(&format!("{}: {}", view.page.name, l.title), 200),
            "title": l.title,
            "sections": [{
                "activityTitle": format!("[{}]({})", l.title, l.link),
                "activitySubtitle": format!("{} · {}", view.page.name, l.at),
                "text": l.text,
                "facts": [
                    {"name": "Status", "value": l.status},
                    {"name": "Affected components", "value": components},
                ],
            }],
            "potentialAction": [{
                "@type": "OpenUri",
                "name": "View on the status page",
                "targets": [{"os": "default", "uri": l.link}],
            }],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_is_its_members_with_its_meta() {
        let meta = json!({"unsubscribe": "https://status.example.com/u?s=1", "generated_at": "x"});
        for members in [
            json!({"page": {"id": "p"}, "herald": {"seq": 7}}),
            json!({}),
        ] {
            let bytes = serde_json::to_vec(&members).unwrap_or_default();
            let body = with_meta(&bytes, &meta).unwrap_or_default();
            let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let mut expected = members.clone();
            if let Value::Object(m) = &mut expected {
                m.insert("meta".to_owned(), meta.clone());
            }
            assert_eq!(parsed, expected, "{}", String::from_utf8_lossy(&body));
        }
    }
}
