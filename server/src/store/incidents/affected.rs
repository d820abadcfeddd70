//! What an incident does to its components' live statuses.

use super::*;

/// Whether an incident in `status` holds its components in the status it gave them:
/// open, and not a maintenance still waiting to start.
pub(super) fn live(status: IncidentStatus) -> bool {
    status.is_open() && status != IncidentStatus::Scheduled
}

/// The component changes an update makes: those it names, plus what its move implies.
/// A maintenance that starts puts its components into the announced status; a reopened
/// incident puts them back to the status they had in it; closing returns each one to
/// the worst status another live incident holds it in, or operational. Components named
/// without a status (`component_ids`) follow those rules too.
pub(super) async fn plan_components(
    w: &mut Write,
    before: &Incident,
    to: IncidentStatus,
    effect: Effect,
    named: &[(String, Option<ComponentStatus>)],
) -> Result<Vec<(String, Option<ComponentStatus>)>> {
    let mut wanted: Vec<(String, Option<ComponentStatus>)> =
        named.iter().filter(|(_, s)| s.is_some()).cloned().collect();
    let given = |wanted: &[(String, Option<ComponentStatus>)], cid: &str| {
        wanted.iter().any(|(w, _)| w == cid)
    };
    let starting = before.status == IncidentStatus::Scheduled && live(to);
    let reopening = matches!(effect, Effect::Reopened { .. });
    let closing = matches!(effect, Effect::Closed { .. }) && live(before.status);
    let mut linked: Vec<(String, ComponentStatus)> = before.components.clone();
    for (cid, _) in named.iter().filter(|(_, s)| s.is_none()) {
        if !linked.iter().any(|(l, _)| l == cid) {
            let current = components::get(w.conn(), cid, false).await.map_err(|_| {
                StoreError::invalid(
                    format!("components.{cid}"),
                    format!("component '{cid}' does not exist"),
                )
            })?;
            linked.push((cid.clone(), current.status));
        }
    }
    for (cid, held) in linked {
        if given(&wanted, &cid) {
            continue;
        }
        if starting || reopening {
            wanted.push((cid, Some(held)));
        } else if closing {
            let elsewhere = held_elsewhere(w, &before.id, &cid).await?;
            wanted.push((cid, Some(elsewhere.unwrap_or(ComponentStatus::Operational))));
        } else if named.iter().any(|(n, _)| *n == cid) {
            wanted.push((cid, None));
        }
    }
    Ok(wanted)
}

/// The worst status other live incidents hold a component in.
async fn held_elsewhere(
    w: &Write,
    incident_id: &str,
    component_id: &str,
) -> Result<Option<ComponentStatus>> {
    let others = links::Entity::find()
        .filter(links::Column::ComponentId.eq(component_id))
        .filter(links::Column::IncidentId.ne(incident_id))
        .all(w.conn())
        .await?;
    let mut worst: Option<ComponentStatus> = None;
    for l in others {
        let Some(other) = incidents::Entity::find_by_id(l.incident_id.clone())
            .one(w.conn())
            .await?
        else {
            continue;
        };
        if live(other.status.parse()?) {
            let s: ComponentStatus = l.status.parse()?;
            worst = Some(worst.map_or(s, |w| w.max(s)));
        }
    }
    Ok(worst)
}

/// Sets each listed component's status (when `apply_now`) and records it as affected.
/// Returns the changes for the update's `affected_components`.
pub(super) async fn apply_components(
    w: &mut Write,
    incident_id: &str,
    wanted: &[(String, Option<ComponentStatus>)],
    apply_now: bool,
) -> Result<Option<Vec<AffectedComponent>>> {
    if wanted.is_empty() {
        return Ok(None);
    }
    let mut affected = Vec::new();
    for (cid, status) in wanted {
        let component: Component = components::get(w.conn(), cid, false).await.map_err(|_| {
            StoreError::invalid(
                format!("components.{cid}"),
                format!("component '{cid}' does not exist"),
            )
        })?;
        let new_status = status.unwrap_or(component.status);
        let old = if apply_now {
            components::set_status(w, &component.id, new_status, Some(incident_id)).await?
        } else {
            component.status
        };
        link(w, incident_id, cid, new_status).await?;
        affected.push(AffectedComponent {
            code: component.id.clone(),
            name: component.name.clone(),
            old_status: old,
            new_status,
        });
    }
    Ok(Some(affected))
}

/// Records a component as affected, keeping the worst status it had in the incident.
async fn link(
    w: &mut Write,
    incident_id: &str,
    component_id: &str,
    status: ComponentStatus,
) -> Result<()> {
    let existing = links::Entity::find_by_id((incident_id.to_owned(), component_id.to_owned()))
        .one(w.conn())
        .await?;
    match existing {
        None => {
            links::ActiveModel {
                incident_id: Set(incident_id.to_owned()),
                component_id: Set(component_id.to_owned()),
                status: Set(status.as_str().to_owned()),
            }
            .insert(w.conn())
            .await?;
        }
        Some(m) => {
            let old: ComponentStatus = m.status.parse()?;
            if status > old {
                let mut am: links::ActiveModel = m.into();
                am.status = Set(status.as_str().to_owned());
                am.update(w.conn()).await?;
            }
        }
    }
    Ok(())
}
