//! What an incident does to the live status of the components it names or holds.
//!
//! An incident *holds* a component while it is live (open, and not a maintenance still
//! waiting to start) at the status it gave it. Several incidents can hold one component;
//! when one lets go (closes, is deleted) the component returns to the worst status the
//! others still hold, or operational. A maintenance announced ahead and an incident
//! entered after the fact (backfilled, already resolved) record their components
//! without touching their live status. Putting a component under maintenance never
//! hides a worse status that another live incident holds.

use super::{ComponentStatus, IncidentStatus};

/// Whether an incident in `status` holds its components.
pub fn live(status: IncidentStatus) -> bool {
    status.is_open() && status != IncidentStatus::Scheduled
}

/// The statuses in which an incident holds its components: what the store reads when
/// it looks for other incidents holding a component.
pub fn live_statuses() -> impl Iterator<Item = IncidentStatus> {
    IncidentStatus::ALL.iter().copied().filter(|s| live(*s))
}

/// The step an incident takes, as far as its components are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Opened in this status.
    Open(IncidentStatus),
    /// Fields edited without a new update, in this status.
    Edit(IncidentStatus),
    /// An update moved it from one status to another (possibly the same).
    Post {
        from: IncidentStatus,
        to: IncidentStatus,
    },
    /// Deleted while in this status.
    Delete(IncidentStatus),
}

/// How the command names a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    No,
    /// In `component_ids`: affected, keeping whatever status follows from the step.
    WithoutStatus,
    /// In `components` with the status it takes.
    With(ComponentStatus),
}

/// What happens to one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effect {
    /// The status the update records for it in `affected_components` (and the incident
    /// remembers, keeping the worst); `None` when the update does not mention it.
    pub affected: Option<ComponentStatus>,
    /// The live status it takes now; `None` leaves it alone.
    pub live: Option<ComponentStatus>,
}

/// The worst status among other incidents' holds: `(their status, held status)`.
pub fn held_elsewhere(
    holds: impl IntoIterator<Item = (IncidentStatus, ComponentStatus)>,
) -> Option<ComponentStatus> {
    holds
        .into_iter()
        .filter(|(status, _)| live(*status))
        .map(|(_, held)| held)
        .max()
}

/// The rule. `held_here` is the status this incident holds the component at (if it is
/// among its components), `current` its live status, `elsewhere` the worst status other
/// live incidents hold it at.
pub fn effect(
    step: Step,
    named: Named,
    held_here: Option<ComponentStatus>,
    current: ComponentStatus,
    elsewhere: Option<ComponentStatus>,
) -> Effect {
    let released = elsewhere.unwrap_or(ComponentStatus::Operational);
    // Maintenance never covers a worse status another incident holds.
    let cover = |s: ComponentStatus| {
        if s == ComponentStatus::UnderMaintenance {
            s.max(released)
        } else {
            s
        }
    };
    let none = Effect {
        affected: None,
        live: None,
    };
    match (step, named) {
        (Step::Open(status) | Step::Edit(status), Named::With(s)) => Effect {
            affected: Some(s),
            live: live(status).then(|| cover(s)),
        },
        // Named without a status: the incident affects it at whatever status it has.
        (Step::Open(_) | Step::Edit(_), Named::WithoutStatus) => Effect {
            affected: Some(current),
            live: None,
        },
        (Step::Open(_) | Step::Edit(_), Named::No) => none,
        (Step::Delete(status), _) => match held_here {
            Some(_) if live(status) => Effect {
                affected: None,
                live: Some(released),
            },
            _ => none,
        },
        (Step::Post { from, to }, Named::With(s)) => Effect {
            affected: Some(s),
            live: (live(from) || live(to)).then(|| cover(s)),
        },
        (Step::Post { from, to }, named) => {
            // Named without a status and not yet held: held at its current status.
            let held = match (held_here, named) {
                (Some(h), _) => h,
                (None, Named::WithoutStatus) => current,
                (None, _) => return none,
            };
            let starting = from == IncidentStatus::Scheduled && live(to);
            let reopening = !from.is_open() && to.is_open();
            let closing = live(from) && !to.is_open();
            if starting || reopening {
                Effect {
                    affected: Some(held),
                    live: Some(cover(held)),
                }
            } else if closing {
                Effect {
                    affected: Some(released),
                    live: Some(released),
                }
            } else if named == Named::WithoutStatus {
                Effect {
                    affected: Some(current),
                    live: None,
                }
            } else {
                none
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComponentStatus::*;
    use IncidentStatus::*;

    const STEPS: [(&str, Step); 15] = [
        ("open investigating", Step::Open(Investigating)),
        ("open scheduled", Step::Open(Scheduled)),
        ("open resolved (backfill)", Step::Open(Resolved)),
        ("edit identified", Step::Edit(Identified)),
        ("edit scheduled", Step::Edit(Scheduled)),
        ("edit resolved", Step::Edit(Resolved)),
        (
            "post investigating->identified",
            Step::Post {
                from: Investigating,
                to: Identified,
            },
        ),
        (
            "post identified->resolved",
            Step::Post {
                from: Identified,
                to: Resolved,
            },
        ),
        (
            "post resolved->investigating",
            Step::Post {
                from: Resolved,
                to: Investigating,
            },
        ),
        (
            "post scheduled->in_progress",
            Step::Post {
                from: Scheduled,
                to: InProgress,
            },
        ),
        (
            "post in_progress->completed",
            Step::Post {
                from: InProgress,
                to: Completed,
            },
        ),
        (
            "post scheduled->completed",
            Step::Post {
                from: Scheduled,
                to: Completed,
            },
        ),
        ("delete identified", Step::Delete(Identified)),
        ("delete resolved", Step::Delete(Resolved)),
        ("delete scheduled", Step::Delete(Scheduled)),
    ];

    /// Every step against every way of naming a component, every status this incident
    /// may hold it at and whether another live incident holds it (at major outage). The
    /// component is degraded now. Columns, in groups of six:
    ///
    ///   named: no | without status | with partial_outage | with under_maintenance
    ///   each:  held here: none, partial, maintenance; each: elsewhere none, major
    ///
    /// A cell is two letters: what the update records (affected) and the live status it
    /// takes, `-` for nothing; o d p m u for the statuses.
    const MATRIX: [&str; 15] = [
        // no                 without             with partial        with maintenance
        "-- -- -- -- -- -- | d- d- d- d- d- d- | pp pp pp pp pp pp | uu um uu um uu um", // open investigating
        "-- -- -- -- -- -- | d- d- d- d- d- d- | p- p- p- p- p- p- | u- u- u- u- u- u-", // open scheduled
        "-- -- -- -- -- -- | d- d- d- d- d- d- | p- p- p- p- p- p- | u- u- u- u- u- u-", // open resolved
        "-- -- -- -- -- -- | d- d- d- d- d- d- | pp pp pp pp pp pp | uu um uu um uu um", // edit identified
        "-- -- -- -- -- -- | d- d- d- d- d- d- | p- p- p- p- p- p- | u- u- u- u- u- u-", // edit scheduled
        "-- -- -- -- -- -- | d- d- d- d- d- d- | p- p- p- p- p- p- | u- u- u- u- u- u-", // edit resolved
        "-- -- -- -- -- -- | d- d- d- d- d- d- | pp pp pp pp pp pp | uu um uu um uu um", // inv->idf
        "-- -- oo mm oo mm | oo mm oo mm oo mm | pp pp pp pp pp pp | uu um uu um uu um", // idf->resolved
        "-- -- pp pp uu um | dd dd pp pp uu um | pp pp pp pp pp pp | uu um uu um uu um", // reopen
        "-- -- pp pp uu um | dd dd pp pp uu um | pp pp pp pp pp pp | uu um uu um uu um", // start
        "-- -- oo mm oo mm | oo mm oo mm oo mm | pp pp pp pp pp pp | uu um uu um uu um", // finish
        "-- -- -- -- -- -- | d- d- d- d- d- d- | p- p- p- p- p- p- | u- u- u- u- u- u-", // cancel
        "-- -- -o -m -o -m | -- -- -o -m -o -m | -- -- -o -m -o -m | -- -- -o -m -o -m", // delete live
        "-- -- -- -- -- -- | -- -- -- -- -- -- | -- -- -- -- -- -- | -- -- -- -- -- --", // delete resolved
        "-- -- -- -- -- -- | -- -- -- -- -- -- | -- -- -- -- -- -- | -- -- -- -- -- --", // delete scheduled
    ];

    fn letter(s: Option<ComponentStatus>) -> char {
        match s {
            None => '-',
            Some(Operational) => 'o',
            Some(DegradedPerformance) => 'd',
            Some(PartialOutage) => 'p',
            Some(MajorOutage) => 'm',
            Some(UnderMaintenance) => 'u',
        }
    }

    #[test]
    fn every_step_matches_the_matrix() {
        let nameds = [
            Named::No,
            Named::WithoutStatus,
            Named::With(PartialOutage),
            Named::With(UnderMaintenance),
        ];
        let helds = [None, Some(PartialOutage), Some(UnderMaintenance)];
        let elsewheres = [None, Some(MajorOutage)];
        for (row, (label, step)) in STEPS.iter().enumerate() {
            let cells: Vec<&str> = MATRIX[row]
                .split([' ', '|'])
                .filter(|c| !c.is_empty())
                .collect();
            assert_eq!(cells.len(), 24, "row {label}");
            let mut col = 0;
            for named in nameds {
                for held in helds {
                    for elsewhere in elsewheres {
                        let e = effect(*step, named, held, DegradedPerformance, elsewhere);
                        let got: String = [letter(e.affected), letter(e.live)].iter().collect();
                        assert_eq!(
                            got, cells[col],
                            "{label}, named {named:?}, held here {held:?}, elsewhere {elsewhere:?}"
                        );
                        col += 1;
                    }
                }
            }
        }
    }

    #[test]
    fn only_live_incidents_hold() {
        assert_eq!(
            held_elsewhere([
                (Resolved, MajorOutage),
                (Scheduled, UnderMaintenance),
                (Monitoring, DegradedPerformance),
                (InProgress, UnderMaintenance),
            ]),
            Some(DegradedPerformance)
        );
        assert_eq!(held_elsewhere([(Completed, MajorOutage)]), None);
        for s in IncidentStatus::ALL {
            assert_eq!(
                live(*s),
                matches!(
                    s,
                    Investigating | Identified | Monitoring | InProgress | Verifying
                ),
                "{s}"
            );
        }
    }
}
