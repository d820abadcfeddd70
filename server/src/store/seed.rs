//! The demo page: pods as component groups with services inside them, and a few
//! incidents that look like real ones. Seeded into an empty database by `serve --demo`.

use chrono::{DateTime, Duration, Utc};

use super::{
    Actor, Result, Store,
    components::{self, ComponentPatch, NewComponent},
    incidents::{self, Changes, Command, PostmortemAction, Promise},
    pages::{self, PagePatch},
};
use crate::domain::{ComponentId, ComponentStatus, IncidentStatus};

const PODS: &[(&str, &str)] = &[
    ("Prod1 (US)", "Customers hosted in the United States"),
    ("Prod2 (EU)", "Customers hosted in the European Union"),
    ("Prod4 (IN)", "Customers hosted in India"),
];

const SERVICES: &[&str] = &["Web client", "Voice", "Knowledge base", "Outbound webhooks"];

/// Seeds the demo page unless the page already has components. Returns whether it did.
pub async fn demo(store: &Store, now: DateTime<Utc>) -> Result<bool> {
    if !components::list(store.db(), store.page_id())
        .await?
        .is_empty()
    {
        return Ok(false);
    }
    let actor = Actor::system("demo");
    let at = |minutes_ago: i64| now - Duration::minutes(minutes_ago);

    let mut w = store.begin(&actor, at(60 * 24 * 30)).await?;
    pages::update(
        &mut w,
        PagePatch {
            name: Some("Herald Demo".into()),
            ..PagePatch::default()
        },
    )
    .await?;
    let mut by_pod: Vec<Vec<ComponentId>> = Vec::new();
    for (pod, description) in PODS {
        let group = components::create(
            &mut w,
            NewComponent {
                name: (*pod).into(),
                description: Some((*description).into()),
                is_group: true,
                ..Default::default()
            },
        )
        .await?;
        let mut ids = Vec::new();
        for service in SERVICES {
            let c = components::create(
                &mut w,
                NewComponent {
                    name: (*service).into(),
                    group_id: Some(group.id.clone()),
                    ..Default::default()
                },
            )
            .await?;
            ids.push(c.id);
        }
        by_pod.push(ids);
    }
    let api = components::create(
        &mut w,
        NewComponent {
            name: "Public API".into(),
            description: Some("REST API and SDKs".into()),
            ..Default::default()
        },
    )
    .await?;
    w.commit().await?;
    let eu = &by_pod[1];
    let us = &by_pod[0];

    // Resolved nine days ago, with a published postmortem.
    let mut w = store.begin(&actor, at(60 * 24 * 9 + 80)).await?;
    let past = incidents::create(
        &mut w,
        Changes {
            name: Some("Outbound webhooks delayed in Prod2 (EU)".into()),
            status: Some(IncidentStatus::Investigating),
            body: Some("Webhook deliveries for customers on Prod2 (EU) are delayed by up to 20 minutes. We are investigating.".into()),
            components: vec![(eu[3].clone(), Some(ComponentStatus::PartialOutage))],
            started_at: Some(at(60 * 24 * 9 + 115)),
            ..Default::default()
        },
    )
    .await?
    .incident;
    w.commit().await?;
    for (minutes_ago, status, body) in [
        (
            60 * 24 * 9 + 50,
            IncidentStatus::Identified,
            "A saturated queue consumer was identified as the cause; we are adding capacity.",
        ),
        (
            60 * 24 * 9 + 20,
            IncidentStatus::Monitoring,
            "Capacity has been added and the backlog is draining. We are monitoring.",
        ),
        (
            60 * 24 * 9,
            IncidentStatus::Resolved,
            "All delayed webhooks have been delivered. This incident has been resolved.",
        ),
    ] {
        let mut w = store.begin(&actor, at(minutes_ago)).await?;
        incidents::apply(
            &mut w,
            &past.id,
            Command::Change(Changes {
                status: Some(status),
                body: Some(body.into()),
                ..Default::default()
            }),
        )
        .await?;
        w.commit().await?;
    }
    let mut w = store.begin(&actor, at(60 * 24 * 7)).await?;
    incidents::apply(
        &mut w,
        &past.id,
        Command::Postmortem(PostmortemAction::Draft(POSTMORTEM.into())),
    )
    .await?;
    incidents::apply(
        &mut w,
        &past.id,
        Command::Postmortem(PostmortemAction::Publish {
            notify_subscribers: false,
        }),
    )
    .await?;
    w.commit().await?;

    // Ongoing: voice degraded in the US, posted 35 minutes after the impact began.
    let mut w = store.begin(&actor, at(25)).await?;
    incidents::create(
        &mut w,
        Changes {
            name: Some("Degraded call quality on Voice in Prod1 (US)".into()),
            status: Some(IncidentStatus::Identified),
            body: Some("Some calls on Prod1 (US) have choppy audio. We have identified a faulty media relay and are moving traffic away from it. Please expect additional updates within the next 30 minutes.".into()),
            components: vec![(us[1].clone(), Some(ComponentStatus::DegradedPerformance))],
            started_at: Some(at(60)),
            promise: Some(Promise::Within(30)),
            ..Default::default()
        },
    )
    .await?;
    w.commit().await?;

    let mut w = store.begin(&actor, at(5)).await?;
    components::update(
        &mut w,
        &api.id,
        false,
        ComponentPatch {
            description: Some(Some("REST API, SDKs and the CLI".into())),
            ..Default::default()
        },
    )
    .await?;
    w.commit().await?;
    Ok(true)
}

const POSTMORTEM: &str = "## Summary\n\nFor 1 hour 55 minutes, outbound webhooks for customers on Prod2 (EU) were delayed by up to 20 minutes. No webhook was lost.\n\n## Root cause\n\nA deploy reduced the number of queue consumers from 12 to 4. Under the Monday morning peak, the queue grew faster than it drained.\n\n## Timeline (UTC)\n\n| time | event |\n| --- | --- |\n| 07:05 | deploy reduces consumers |\n| 07:40 | alert on queue age fires |\n| 08:05 | cause identified, capacity added |\n| 09:00 | backlog drained |\n\n## Lessons\n\n- Consumer counts are now checked by the deploy pipeline.\n- The queue-age alert fires at 5 minutes instead of 30.\n";
