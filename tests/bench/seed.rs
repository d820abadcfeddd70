//! Seeds a page with a history of `n` incidents straight into the database (through
//! Herald's own tables, in batches), for the data-size benchmark: three pods of four
//! services and a public API; incidents over the last three years, each with three or
//! four updates, one or two affected components and their status history; one in ten a
//! maintenance; the three newest still open.

use chrono::{DateTime, Duration, Utc};
use herald::domain::{
    ComponentId, ComponentStatus, Impact, IncidentId, IncidentStatus, PageId, UpdateId,
};
use herald::store::entity::{
    component_status_changes as changes, components, incident_components as links,
    incident_updates as updates, incidents, pages,
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionTrait};

/// A small deterministic generator: the same `n` seeds the same page.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn id(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:0>10}")
        .chars()
        .rev()
        .take(12)
        .collect::<String>()
        .chars()
        .rev()
        .collect()
}

const BODIES: [&str; 4] = [
    "We are investigating reports of **elevated error rates** for customers on {pod}. Calls may fail to connect. Please expect additional updates within the next 30 minutes.",
    "The issue has been identified: a faulty media relay in {pod}. We are moving traffic away from it.\n\n- Affected: {svc}\n- Workaround: retry the call",
    "A fix has been implemented and we are monitoring the results. Error rates are back to normal levels for most customers.",
    "This incident has been resolved. All {svc} traffic in {pod} is healthy. A postmortem will follow.",
];

async fn insert_batches<E, A>(db: &impl ConnectionTrait, rows: Vec<A>) -> anyhow::Result<()>
where
    E: EntityTrait,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    let mut rows = rows.into_iter();
    loop {
        let batch: Vec<A> = rows.by_ref().take(200).collect();
        if batch.is_empty() {
            return Ok(());
        }
        E::insert_many(batch).exec_without_returning(db).await?;
    }
}

/// Seeds `n` incidents into the migrated, empty database at `url`. Returns the page id.
pub async fn seed(url: &str, n: usize, now: DateTime<Utc>) -> anyhow::Result<String> {
    let db = sea_orm::Database::connect(url).await?;
    let txn = db.begin().await?;
    let mut rng = Lcg(n as u64 ^ 0x5eed);
    let page_id = PageId::new("benchpage000");
    let t0 = now - Duration::days(3 * 365);
    pages::Entity::insert(pages::ActiveModel {
        id: Set(page_id.clone()),
        name: Set(format!("Bench {n}")),
        url: Set("http://127.0.0.1:8080".into()),
        time_zone: Set("Europe/Berlin".into()),
        subdomain: Set(None),
        created_at: Set(t0),
        updated_at: Set(now),
        derived_version: Set(0),
        link_secret: Set(None),
        templates_seeded: Set(false),
        support_url: Set(None),
        responder_emails: Set(None),
        responder_webhook_url: Set(None),
        reminder_lead_minutes: Set(5),
        show_first_update_delay: Set(false),
    })
    .exec(&txn)
    .await?;
    let pods = ["Prod1 (US)", "Prod2 (EU)", "Prod4 (IN)"];
    let services = ["Web client", "Voice", "Knowledge base", "Outbound webhooks"];
    let mut comps = Vec::new();
    let mut leaves: Vec<(ComponentId, String, String)> = Vec::new();
    let mut position = 0;
    for (p, pod) in pods.iter().enumerate() {
        position += 1;
        let gid = ComponentId::new(id("grp", p));
        comps.push(components::ActiveModel {
            id: Set(gid.clone()),
            page_id: Set(page_id.clone()),
            name: Set((*pod).into()),
            description: Set(Some(format!("Customers hosted in {pod}"))),
            status: Set(ComponentStatus::Operational),
            is_group: Set(true),
            group_id: Set(None),
            position: Set(position),
            showcase: Set(true),
            only_show_if_degraded: Set(false),
            start_date: Set(None),
            created_at: Set(t0),
            updated_at: Set(t0),
            deleted_at: Set(None),
        });
        for (s, svc) in services.iter().enumerate() {
            position += 1;
            let cid = ComponentId::new(id("cmp", p * 10 + s));
            leaves.push((cid.clone(), (*svc).into(), (*pod).into()));
            comps.push(components::ActiveModel {
                id: Set(cid),
                page_id: Set(page_id.clone()),
                name: Set((*svc).into()),
                description: Set(None),
                status: Set(ComponentStatus::Operational),
                is_group: Set(false),
                group_id: Set(Some(gid.clone())),
                position: Set(position),
                showcase: Set(true),
                only_show_if_degraded: Set(false),
                start_date: Set(None),
                created_at: Set(t0),
                updated_at: Set(t0),
                deleted_at: Set(None),
            });
        }
    }
    insert_batches(&txn, comps).await?;

    let span = (now - t0).num_seconds();
    let (mut rows, mut ups, mut held, mut history) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        // Evenly over three years, oldest first; the newest 3 end within the hour.
        let started = t0 + Duration::seconds(span * i as i64 / n.max(1) as i64)
            - Duration::minutes(rng.below(60) as i64);
        let open = i + 3 >= n;
        let maintenance = !open && i % 10 == 7;
        let incident_id = IncidentId::new(id("inc", i));
        let (cid, svc, pod) = leaves[rng.below(leaves.len() as u64) as usize].clone();
        let severity = [
            ComponentStatus::DegradedPerformance,
            ComponentStatus::PartialOutage,
            ComponentStatus::MajorOutage,
        ][rng.below(3) as usize];
        let steps: Vec<IncidentStatus> = if maintenance {
            vec![
                IncidentStatus::Scheduled,
                IncidentStatus::InProgress,
                IncidentStatus::Completed,
            ]
        } else if open {
            vec![IncidentStatus::Investigating, IncidentStatus::Identified]
        } else {
            vec![
                IncidentStatus::Investigating,
                IncidentStatus::Identified,
                IncidentStatus::Monitoring,
                IncidentStatus::Resolved,
            ]
        };
        let gap = Duration::minutes(15 + rng.below(30) as i64);
        let created = started + Duration::minutes(rng.below(30) as i64);
        let last = created + gap * (steps.len() as i32 - 1);
        let status = *steps.last().unwrap_or(&IncidentStatus::Resolved);
        let closed = !status.is_open();
        for (k, s) in steps.iter().enumerate() {
            let at = created + gap * k as i32;
            ups.push(updates::ActiveModel {
                id: Set(UpdateId::new(id(&format!("u{k}"), i))),
                incident_id: Set(incident_id.clone()),
                status: Set(*s),
                body: Set(BODIES[k.min(3)]
                    .replace("{pod}", &pod)
                    .replace("{svc}", &svc)),
                created_at: Set(at),
                updated_at: Set(at),
                display_at: Set(at),
                deliver_notifications: Set(true),
                affected_components: Set(None),
                template: Set(None),
                next_update_due_at: Set((s.is_open() && *s != IncidentStatus::Scheduled)
                    .then(|| at + Duration::minutes(30))),
                custom_tweet: Set(None),
                ordinal: Set(k as i32),
            });
        }
        let held_status = if maintenance {
            ComponentStatus::UnderMaintenance
        } else {
            severity
        };
        held.push(links::ActiveModel {
            incident_id: Set(incident_id.clone()),
            component_id: Set(cid.clone()),
            status: Set(held_status),
        });
        history.push(changes::ActiveModel {
            component_id: Set(cid.clone()),
            old_status: Set(ComponentStatus::Operational),
            new_status: Set(held_status),
            incident_id: Set(Some(incident_id.clone())),
            at: Set(created),
            ..Default::default()
        });
        if closed {
            history.push(changes::ActiveModel {
                component_id: Set(cid.clone()),
                old_status: Set(held_status),
                new_status: Set(ComponentStatus::Operational),
                incident_id: Set(Some(incident_id.clone())),
                at: Set(last),
                ..Default::default()
            });
        }
        let scheduled = maintenance.then_some(created);
        rows.push(incidents::ActiveModel {
            id: Set(incident_id),
            page_id: Set(page_id.clone()),
            name: Set(if maintenance {
                format!("Database maintenance in {pod}")
            } else {
                format!("{svc} degraded in {pod} ({i})")
            }),
            status: Set(status),
            impact: Set(if maintenance {
                Impact::Maintenance
            } else {
                severity.impact()
            }),
            impact_override: Set(None),
            started_at: Set(started.min(created)),
            created_at: Set(created),
            updated_at: Set(last),
            monitoring_at: Set(None),
            resolved_at: Set(closed.then_some(last)),
            next_update_due_at: Set((!closed).then(|| last + Duration::minutes(30))),
            postmortem_body: Set(None),
            postmortem_body_last_updated_at: Set(None),
            postmortem_published_at: Set(None),
            postmortem_published_body: Set(None),
            postmortem_ignored: Set(false),
            postmortem_notified_subscribers: Set(false),
            scheduled_for: Set(scheduled),
            scheduled_until: Set(scheduled.map(|s| s + Duration::hours(2))),
            scheduled_remind_prior: Set(false),
            scheduled_auto_in_progress: Set(false),
            scheduled_auto_completed: Set(false),
            maintenance_plan: Set(None),
            metadata: Set("{}".into()),
            backfilled: Set(false),
        });
    }
    // The open incidents hold their components.
    insert_batches(&txn, rows).await?;
    insert_batches(&txn, ups).await?;
    insert_batches(&txn, held).await?;
    insert_batches(&txn, history).await?;
    txn.commit().await?;
    db.execute_unprepared("UPDATE components SET status = 'degraded_performance' WHERE id IN (SELECT component_id FROM incident_components l JOIN incidents i ON i.id = l.incident_id WHERE i.status IN ('investigating','identified','monitoring'))")
        .await?;
    let _ = db.close().await;
    Ok(page_id.to_string())
}
