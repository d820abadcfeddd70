//! Kept promises: the responders are reminded before a promised update is due.
//!
//! A worker wakes for the next reminder's time (the earliest promise minus the page's
//! lead), at every write this process sees, and at least every second; it makes each
//! reminder once (`store::reminders`), and the reminder goes out through the outbox and
//! the ledger like every other notification: mail to the responders' addresses, a post
//! to their webhook. A reminder still waiting to be sent when the update is posted (the
//! promise changed or the incident closed) is cancelled rather than sent.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::{Notifier, compose::Rendered};
use crate::domain::{Channel, Incident};
use crate::store::{deliveries::Outcome, pages::Page, reminders};

/// Who is reminded: the page's responders, else the operator's
/// (`HERALD_RESPONDER_EMAILS`, `HERALD_RESPONDER_WEBHOOK_URL`).
pub fn responders(page: &Page, emails: &[String], webhook: Option<&str>) -> Vec<(Channel, String)> {
    let mut out: Vec<(Channel, String)> = if page.responder_emails.is_empty() {
        emails.iter().map(|e| (Channel::Email, e.clone())).collect()
    } else {
        page.responder_emails
            .iter()
            .map(|e| (Channel::Email, e.clone()))
            .collect()
    };
    if let Some(url) = page.responder_webhook_url.as_deref().or(webhook) {
        out.push((Channel::Webhook, url.to_owned()));
    }
    out
}

/// The reminder worker.
pub(super) async fn run(n: Arc<Notifier>) {
    let mut head = n.store.head();
    loop {
        if n.halted() {
            return;
        }
        let now = n.clock.now();
        let db = n.store.db();
        let next = match crate::store::pages::get(db, n.store.page_id()).await {
            Ok(page) => {
                let lead = Duration::minutes(i64::from(page.reminder_lead_minutes));
                let anyone =
                    !responders(&page, &n.responders, n.responder_hook.as_deref()).is_empty();
                if anyone && let Err(e) = reminders::remind(&n.store, now, lead).await {
                    tracing::error!(error = %e, "making promise reminders");
                }
                reminders::next(db, n.store.page_id(), now, lead)
                    .await
                    .ok()
                    .flatten()
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the page for reminders");
                None
            }
        };
        n.idle(&mut head, next).await;
    }
}

/// Whether the reminder still stands: the incident is open and its promise is the one
/// reminded of. Otherwise the update was posted (or the incident closed): cancelled.
pub fn still_due(incident: &Incident, due_at: DateTime<Utc>) -> Result<(), Outcome> {
    if !reminders::PROMISING.contains(&incident.status) {
        return Err(Outcome::Cancelled(format!(
            "the incident is {} now",
            incident.status.as_str()
        )));
    }
    if incident.next_update_due_at != Some(due_at) {
        return Err(Outcome::Cancelled(
            "an update was posted before the promise fell due".into(),
        ));
    }
    Ok(())
}

/// What a reminder says.
struct Words {
    subject: String,
    line: String,
    url: String,
    last: String,
}

fn words(
    page_name: &str,
    page_url: &str,
    tz: Tz,
    incident: &Incident,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Words {
    let local = due_at.with_timezone(&tz).format("%H:%M %Z").to_string();
    let utc = due_at.format("%H:%M UTC").to_string();
    let left = (due_at - now).num_minutes();
    let when = if left > 0 {
        format!("in {left} minute{}", if left == 1 { "" } else { "s" })
    } else if left == 0 {
        "now".to_owned()
    } else {
        format!("{} minutes ago (overdue)", -left)
    };
    let subject = if left >= 0 {
        format!(
            "[{page_name}] Next update due at {local}: {}",
            incident.name
        )
    } else {
        format!(
            "[{page_name}] Update overdue since {local}: {}",
            incident.name
        )
    };
    let line = format!(
        "The next update on \"{}\" ({}) was promised by {local} ({utc}), {when}.",
        incident.name,
        incident.status.label()
    );
    let last = incident
        .updates
        .first()
        .map(|u| {
            let mut b: String = u.body.chars().take(300).collect();
            if u.body.chars().count() > 300 {
                b.push('…');
            }
            b
        })
        .unwrap_or_default();
    Words {
        subject,
        line,
        url: format!(
            "{}/incidents/{}",
            page_url.trim_end_matches('/'),
            incident.id
        ),
        last,
    }
}

/// The reminder mail.
pub fn mail(
    page_name: &str,
    page_url: &str,
    tz: Tz,
    incident: &Incident,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Rendered {
    let w = words(page_name, page_url, tz, incident, due_at, now);
    let keep = "Post the update before then to keep the promise; posting it cancels this reminder.";
    Rendered {
        text: format!(
            "{}\n\n{keep}\n\nIncident: {}\nLast update: {}\n",
            w.line, w.url, w.last
        ),
        html: format!(
            "<!doctype html><html><body><p>{}</p><p>{keep}</p>\
             <p><a href=\"{}\">{}</a></p><blockquote>{}</blockquote></body></html>",
            handlebars::html_escape(&w.line),
            handlebars::html_escape(&w.url),
            handlebars::html_escape(&incident.name),
            handlebars::html_escape(&w.last)
        ),
        subject: w.subject,
    }
}

/// The reminder posted to the responders' webhook: `text` (Slack, Teams) and `content`
/// (Discord) for chat apps, and the facts under `herald` for programs.
pub fn hook(
    page_name: &str,
    page_url: &str,
    tz: Tz,
    incident: &Incident,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
    seq: i64,
) -> Value {
    let w = words(page_name, page_url, tz, incident, due_at, now);
    let text = format!("{} {}", w.line, w.url);
    json!({
        "text": text,
        "content": text,
        "herald": {
            "type": "incident.reminder_due",
            "seq": seq,
            "due_at": due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "minutes_left": (due_at - now).num_minutes(),
            "incident": {
                "id": incident.id,
                "name": incident.name,
                "status": incident.status,
                "url": w.url,
            },
        },
    })
}
