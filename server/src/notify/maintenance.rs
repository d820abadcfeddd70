//! The maintenance scheduler: starts and completes maintenances at their window's edges
//! (when asked), reminds followers before they start, and tells the responders when one
//! runs past its window. It wakes for the next due time (not every minute), at every
//! write this process sees, and at least every second, so a window that began or ended
//! while Herald was down is moved as soon as it is back; each move is made once
//! (`store::maintenance::advance`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::{
    Notifier, Subject,
    compose::{Notice, Rendered},
};
use crate::domain::{Incident, IncidentId, IncidentStatus, maintenance};
use crate::store::{StoreError, deliveries::Outcome, incidents, maintenance as schedule};

/// The scheduler.
pub(super) async fn run(n: Arc<Notifier>) {
    let mut head = n.store.head();
    loop {
        if n.halted() {
            return;
        }
        let now = n.clock.now();
        let next = match pass(&n, now).await {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "scheduling maintenances");
                None
            }
        };
        n.idle(&mut head, next).await;
    }
}

/// One look at every maintenance waiting or running; returns when to look next.
async fn pass(n: &Notifier, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
    let db = n.store.db();
    // Recurring maintenance: the occurrences coming up exist before anything else looks.
    let made = crate::store::series::materialize(&n.store, now).await?;
    if made > 0 {
        tracing::info!(
            occurrences = made,
            "made occurrences of recurring maintenance"
        );
    }
    let mut list = schedule::watched(db, n.store.page_id()).await?;
    let ids: Vec<IncidentId> = list.iter().map(|m| m.id.clone()).collect();
    let made = schedule::made(db, &ids).await?;
    let mut moved = false;
    for m in &list {
        if !schedule::due_for(m, now, &made).is_empty() {
            moved = true;
            if let Err(e) = schedule::advance(&n.store, &m.id, now).await {
                // One maintenance that cannot move must not hold up the others.
                tracing::error!(incident = %m.id, error = %e, "moving a maintenance");
            }
        }
    }
    // What moved has new due times: read again only then.
    if moved {
        list = schedule::watched(db, n.store.page_id()).await?;
    }
    Ok(list
        .iter()
        .filter_map(|m| maintenance::next_wake(m, now))
        .min())
}

/// The followers' notice of a reschedule, over the maintenance as it stands.
pub(super) async fn rescheduled(
    db: &impl sea_orm::ConnectionTrait,
    id: &IncidentId,
    from: (DateTime<Utc>, Option<DateTime<Utc>>),
    tz: Tz,
) -> Result<Subject, StoreError> {
    let m = match incidents::get(db, id).await {
        Ok(m) => m,
        Err(StoreError::NotFound { .. }) => return Ok(Subject::Nothing),
        Err(e) => return Err(e),
    };
    let Some(start) = m.scheduled_for else {
        return Ok(Subject::Nothing);
    };
    let notice = maintenance::moved(from, (start, m.scheduled_until), tz);
    Ok(Subject::Incident {
        update: m.updates.first().map(|u| u.id.clone()),
        incident: Box::new(m),
        notice: Some(Notice::Rescheduled(notice)),
    })
}

/// The followers' reminder, unless the maintenance moved or started since (then there
/// is nothing to tell: a later reminder or the start says it).
pub(super) async fn reminder(
    db: &impl sea_orm::ConnectionTrait,
    id: &IncidentId,
    starts_at: DateTime<Utc>,
    minutes: u32,
    tz: Tz,
) -> Result<Subject, StoreError> {
    let m = match incidents::get(db, id).await {
        Ok(m) => m,
        Err(StoreError::NotFound { .. }) => return Ok(Subject::Nothing),
        Err(e) => return Err(e),
    };
    if m.status != IncidentStatus::Scheduled || m.scheduled_for != Some(starts_at) {
        return Ok(Subject::Nothing);
    }
    let notice = maintenance::reminder(minutes, starts_at, m.scheduled_until, tz);
    Ok(Subject::Incident {
        update: m.updates.first().map(|u| u.id.clone()),
        incident: Box::new(m),
        notice: Some(Notice::Reminder(notice)),
    })
}

/// An overrun notice stands while the maintenance runs.
pub fn still_running(m: &Incident) -> Result<(), Outcome> {
    match m.status {
        IncidentStatus::InProgress | IncidentStatus::Verifying => Ok(()),
        s => Err(Outcome::Cancelled(format!(
            "the maintenance is {} now",
            s.as_str()
        ))),
    }
}

fn overrun_words(page_url: &str, tz: Tz, m: &Incident) -> (String, String) {
    let end = m
        .scheduled_until
        .map(|e| e.with_timezone(&tz).format("%H:%M %Z").to_string())
        .unwrap_or_default();
    let url = format!("{}/incidents/{}", page_url.trim_end_matches('/'), m.id);
    (
        format!(
            "The maintenance \"{}\" was planned to end at {end} and is still {}. The page \
             shows it as taking longer than planned: post an update with the new \
             expected end, or complete it.",
            m.name,
            m.status.label().to_lowercase()
        ),
        url,
    )
}

/// The responders' mail about an overrun.
pub fn overrun_mail(page_name: &str, page_url: &str, tz: Tz, m: &Incident) -> Rendered {
    let (line, url) = overrun_words(page_url, tz, m);
    Rendered {
        subject: format!("[{page_name}] Maintenance running over: {}", m.name),
        text: format!("{line}\n\n{url}\n"),
        html: format!(
            "<!doctype html><html><body><p>{}</p><p><a href=\"{}\">{}</a></p></body></html>",
            handlebars::html_escape(&line),
            handlebars::html_escape(&url),
            handlebars::html_escape(&m.name)
        ),
    }
}

/// The responders' webhook post about an overrun.
pub fn overrun_hook(page_name: &str, page_url: &str, tz: Tz, m: &Incident) -> Value {
    let (line, url) = overrun_words(page_url, tz, m);
    let text = format!("{page_name}: {line} {url}");
    json!({
        "text": text,
        "content": text,
        "herald": {
            "type": "maintenance.overrun",
            "incident": {"id": m.id, "name": m.name, "status": m.status, "url": url},
            "scheduled_until": m.scheduled_until,
        },
    })
}
