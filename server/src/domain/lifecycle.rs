//! Which moves an incident or a maintenance may make, and what each move sets.
//!
//! Real incidents do not move in a straight line: any move between investigating,
//! identified and monitoring is allowed, resolved closes, a resolved incident can be
//! reopened, and a postmortem follows resolved. Maintenances have their own statuses.

use chrono::{DateTime, Utc};

use super::IncidentStatus::{self, *};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Incident,
    Maintenance,
}

/// The part of an incident the lifecycle rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub kind: Kind,
    pub status: IncidentStatus,
    pub has_postmortem_draft: bool,
    pub postmortem_published: bool,
    pub monitoring_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Post an update, possibly with a new status.
    Update(IncidentStatus),
    /// Save the postmortem's Markdown as a draft.
    DraftPostmortem,
    /// Publish the drafted postmortem; the incident moves to `postmortem`.
    PublishPostmortem,
    /// Take a published postmortem back to draft; the incident returns to `resolved`.
    RevertPostmortem,
}

/// What a command did, beyond the new state: the facts events and side effects need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Updated {
        from: IncidentStatus,
        to: IncidentStatus,
    },
    /// Entered resolved or completed: affected components go back to operational
    /// unless the update says otherwise.
    Closed {
        from: IncidentStatus,
        to: IncidentStatus,
    },
    /// Left resolved for an open status.
    Reopened {
        from: IncidentStatus,
        to: IncidentStatus,
    },
    PostmortemDrafted,
    PostmortemPublished,
    PostmortemReverted,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("status '{status}' is a maintenance status and not allowed on an incident")]
    MaintenanceStatusOnIncident { status: IncidentStatus },
    #[error("status '{status}' is an incident status and not allowed on a scheduled maintenance")]
    IncidentStatusOnMaintenance { status: IncidentStatus },
    #[error("an incident cannot move from '{from}' to '{to}'")]
    NotAllowed {
        from: IncidentStatus,
        to: IncidentStatus,
    },
    #[error("a new incident cannot start as '{status}'")]
    BadInitialStatus { status: IncidentStatus },
    #[error("a postmortem can only be attached once the incident is resolved; it is '{status}'")]
    PostmortemBeforeResolved { status: IncidentStatus },
    #[error("an incident becomes 'postmortem' by publishing its postmortem, not by an update")]
    PostmortemByPublishing,
    #[error("scheduled maintenances have no postmortem")]
    PostmortemOnMaintenance,
    #[error("there is no postmortem draft to publish")]
    NoPostmortemDraft,
    #[error("the postmortem is not published")]
    PostmortemNotPublished,
    #[error("the impact cannot end before it started")]
    WindowEndsBeforeStart,
    #[error("the impact cannot start in the future")]
    WindowStartsInFuture,
}

impl LifecycleError {
    /// The field whose value the lifecycle refused.
    pub fn field(&self) -> &'static str {
        match self {
            LifecycleError::WindowEndsBeforeStart => "resolved_at",
            LifecycleError::WindowStartsInFuture => "started_at",
            _ => "status",
        }
    }
}

impl Lifecycle {
    /// The state of a new incident or maintenance opened with `status` at `now`.
    pub fn open(
        kind: Kind,
        status: IncidentStatus,
        now: DateTime<Utc>,
    ) -> Result<Lifecycle, LifecycleError> {
        check_kind(kind, status)?;
        if status == Postmortem {
            return Err(LifecycleError::BadInitialStatus { status });
        }
        Ok(Lifecycle {
            kind,
            status,
            has_postmortem_draft: false,
            postmortem_published: false,
            monitoring_at: (status == Monitoring).then_some(now),
            resolved_at: (!status.is_open()).then_some(now),
        })
    }

    /// Applies `command` at `now`: the new state and what happened, or why not.
    pub fn apply(
        &self,
        command: Command,
        now: DateTime<Utc>,
    ) -> Result<(Lifecycle, Effect), LifecycleError> {
        let mut next = self.clone();
        let from = self.status;
        let effect = match command {
            Command::Update(to) => {
                check_kind(self.kind, to)?;
                if !allowed(from, to) {
                    return Err(match (from, to) {
                        (Resolved, Postmortem) => LifecycleError::PostmortemByPublishing,
                        (_, Postmortem) => {
                            LifecycleError::PostmortemBeforeResolved { status: from }
                        }
                        _ => LifecycleError::NotAllowed { from, to },
                    });
                }
                next.status = to;
                if to == Monitoring && self.monitoring_at.is_none() {
                    next.monitoring_at = Some(now);
                }
                if from.is_open() && !to.is_open() {
                    next.resolved_at = Some(now);
                    Effect::Closed { from, to }
                } else if !from.is_open() && to.is_open() {
                    next.resolved_at = None;
                    Effect::Reopened { from, to }
                } else {
                    Effect::Updated { from, to }
                }
            }
            Command::DraftPostmortem => {
                self.check_postmortem()?;
                next.has_postmortem_draft = true;
                Effect::PostmortemDrafted
            }
            Command::PublishPostmortem => {
                self.check_postmortem()?;
                if !self.has_postmortem_draft {
                    return Err(LifecycleError::NoPostmortemDraft);
                }
                next.status = Postmortem;
                next.postmortem_published = true;
                Effect::PostmortemPublished
            }
            Command::RevertPostmortem => {
                self.check_postmortem()?;
                if !self.postmortem_published {
                    return Err(LifecycleError::PostmortemNotPublished);
                }
                next.status = Resolved;
                next.postmortem_published = false;
                Effect::PostmortemReverted
            }
        };
        Ok((next, effect))
    }

    fn check_postmortem(&self) -> Result<(), LifecycleError> {
        match (self.kind, self.status) {
            (Kind::Maintenance, _) => Err(LifecycleError::PostmortemOnMaintenance),
            (Kind::Incident, Resolved | Postmortem) => Ok(()),
            (Kind::Incident, status) => Err(LifecycleError::PostmortemBeforeResolved { status }),
        }
    }
}

/// Checks an impact window: it may not start in the future nor end before it starts.
pub fn check_window(
    started_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), LifecycleError> {
    if started_at > now {
        return Err(LifecycleError::WindowStartsInFuture);
    }
    match resolved_at {
        Some(end) if end < started_at => Err(LifecycleError::WindowEndsBeforeStart),
        _ => Ok(()),
    }
}

fn check_kind(kind: Kind, status: IncidentStatus) -> Result<(), LifecycleError> {
    match (kind, status.is_maintenance()) {
        (Kind::Incident, true) => Err(LifecycleError::MaintenanceStatusOnIncident { status }),
        (Kind::Maintenance, false) => Err(LifecycleError::IncidentStatusOnMaintenance { status }),
        _ => Ok(()),
    }
}

/// The status moves an update may make (statuses of the same kind only).
fn allowed(from: IncidentStatus, to: IncidentStatus) -> bool {
    match from {
        Investigating | Identified | Monitoring => to != Postmortem,
        Resolved => to != Postmortem,
        Postmortem => to == Postmortem,
        Scheduled => true,
        InProgress | Verifying => to != Scheduled,
        Completed => to == Completed,
        Cancelled => to == Cancelled,
    }
}

#[cfg(test)]
fn tests_now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

impl Lifecycle {
    #[cfg(test)]
    fn at(kind: Kind, status: IncidentStatus) -> Lifecycle {
        Lifecycle {
            kind,
            status,
            has_postmortem_draft: false,
            postmortem_published: status == Postmortem,
            monitoring_at: None,
            resolved_at: (!status.is_open()).then_some(tests_now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IncidentStatus;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    /// The expected answer for every update move, written out as a matrix so the table is
    /// reviewed on its own rather than derived from the code under test. Rows are the
    /// current status, columns the requested one, in `IncidentStatus::ALL` order:
    /// inv idf mon res pm | sch inp ver cmp cnc.  `o` ok, `-` refused.
    const UPDATE_MATRIX: [&str; 10] = [
        "oooo- -----", // investigating
        "oooo- -----", // identified
        "oooo- -----", // monitoring
        "oooo- -----", // resolved
        "----o -----", // postmortem
        "----- ooooo", // scheduled
        "----- -oooo", // in_progress
        "----- -oooo", // verifying
        "----- ---o-", // completed
        "----- ----o", // cancelled
    ];

    fn kind_of(status: IncidentStatus) -> Kind {
        if status.is_maintenance() {
            Kind::Maintenance
        } else {
            Kind::Incident
        }
    }

    #[test]
    fn every_update_move_matches_the_matrix() {
        for (row, from) in IncidentStatus::ALL.iter().enumerate() {
            let cells: Vec<char> = UPDATE_MATRIX[row].chars().filter(|c| *c != ' ').collect();
            for (col, to) in IncidentStatus::ALL.iter().enumerate() {
                let state = Lifecycle::at(kind_of(*from), *from);
                let result = state.apply(Command::Update(*to), now());
                assert_eq!(
                    result.is_ok(),
                    cells[col] == 'o',
                    "{from} -> {to}: got {result:?}"
                );
                if let Ok((next, _)) = result {
                    assert_eq!(next.status, *to);
                }
            }
        }
    }

    #[test]
    fn refusals_say_why() {
        let inc = Lifecycle::at(Kind::Incident, Investigating);
        assert_eq!(
            inc.apply(Command::Update(InProgress), now()),
            Err(LifecycleError::MaintenanceStatusOnIncident { status: InProgress })
        );
        assert_eq!(
            inc.apply(Command::Update(Postmortem), now()),
            Err(LifecycleError::PostmortemBeforeResolved {
                status: Investigating
            })
        );
        let m = Lifecycle::at(Kind::Maintenance, Scheduled);
        assert_eq!(
            m.apply(Command::Update(Identified), now()),
            Err(LifecycleError::IncidentStatusOnMaintenance { status: Identified })
        );
        let res = Lifecycle::at(Kind::Incident, Resolved);
        assert_eq!(
            res.apply(Command::Update(Postmortem), now()),
            Err(LifecycleError::PostmortemByPublishing)
        );
        let pm = Lifecycle::at(Kind::Incident, Postmortem);
        assert_eq!(
            pm.apply(Command::Update(Investigating), now()),
            Err(LifecycleError::NotAllowed {
                from: Postmortem,
                to: Investigating
            })
        );
        let msg = LifecycleError::NotAllowed {
            from: Postmortem,
            to: Investigating,
        }
        .to_string();
        assert!(
            msg.contains("'postmortem'") && msg.contains("'investigating'"),
            "{msg}"
        );
    }

    #[test]
    fn monitoring_back_to_investigating_is_an_ordinary_update() {
        let s = Lifecycle::at(Kind::Incident, Monitoring);
        let (next, effect) = s
            .apply(Command::Update(Investigating), now())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            effect,
            Effect::Updated {
                from: Monitoring,
                to: Investigating
            }
        );
        assert_eq!(next.resolved_at, None);
    }

    #[test]
    fn resolving_closes_and_stamps_resolved_at() {
        let s = Lifecycle::at(Kind::Incident, Identified);
        let (next, effect) = s
            .apply(Command::Update(Resolved), now())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            effect,
            Effect::Closed {
                from: Identified,
                to: Resolved
            }
        );
        assert_eq!(next.resolved_at, Some(now()));
    }

    #[test]
    fn reopening_clears_resolved_at() {
        let s = Lifecycle::at(Kind::Incident, Resolved);
        let (next, effect) = s
            .apply(Command::Update(Investigating), now())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            effect,
            Effect::Reopened {
                from: Resolved,
                to: Investigating
            }
        );
        assert_eq!(next.resolved_at, None);
    }

    #[test]
    fn monitoring_at_is_set_once() {
        let s = Lifecycle::at(Kind::Incident, Investigating);
        let (m, _) = s
            .apply(Command::Update(Monitoring), now())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.monitoring_at, Some(now()));
        let later = now() + chrono::Duration::minutes(5);
        let (i, _) = m
            .apply(Command::Update(Investigating), later)
            .unwrap_or_else(|e| panic!("{e}"));
        let (m2, _) = i
            .apply(Command::Update(Monitoring), later)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m2.monitoring_at, Some(now()));
    }

    #[test]
    fn postmortem_commands_for_every_status() {
        for status in IncidentStatus::ALL {
            let kind = kind_of(*status);
            for draft in [false, true] {
                let mut s = Lifecycle::at(kind, *status);
                s.has_postmortem_draft = draft;
                let resolved_like =
                    kind == Kind::Incident && matches!(status, Resolved | Postmortem);

                let drafted = s.apply(Command::DraftPostmortem, now());
                assert_eq!(drafted.is_ok(), resolved_like, "draft on {status}");

                let published = s.apply(Command::PublishPostmortem, now());
                assert_eq!(
                    published.is_ok(),
                    resolved_like && draft,
                    "publish on {status} draft={draft}"
                );
                if let Ok((next, effect)) = published {
                    assert_eq!(next.status, Postmortem);
                    assert_eq!(effect, Effect::PostmortemPublished);
                }

                let reverted = s.apply(Command::RevertPostmortem, now());
                assert_eq!(
                    reverted.is_ok(),
                    kind == Kind::Incident && *status == Postmortem,
                    "revert on {status}"
                );
                if let Ok((next, _)) = reverted {
                    assert_eq!(next.status, Resolved);
                }

                if kind == Kind::Maintenance {
                    assert_eq!(drafted, Err(LifecycleError::PostmortemOnMaintenance));
                }
            }
        }
    }

    #[test]
    fn opening_checks_kind_and_initial_status() {
        for status in IncidentStatus::ALL {
            for kind in [Kind::Incident, Kind::Maintenance] {
                let ok = kind_of(*status) == kind && *status != Postmortem;
                let opened = Lifecycle::open(kind, *status, now());
                assert_eq!(opened.is_ok(), ok, "{kind:?} opened as {status}");
                if let Ok(l) = opened {
                    assert_eq!(l.resolved_at.is_some(), !status.is_open());
                }
            }
        }
    }

    #[test]
    fn impact_window_is_checked() {
        let start = now() - chrono::Duration::minutes(35);
        assert!(check_window(start, None, now()).is_ok());
        assert!(check_window(start, Some(now()), now()).is_ok());
        assert_eq!(
            check_window(start, Some(start - chrono::Duration::seconds(1)), now()),
            Err(LifecycleError::WindowEndsBeforeStart)
        );
        assert_eq!(
            check_window(now() + chrono::Duration::minutes(1), None, now()),
            Err(LifecycleError::WindowStartsInFuture)
        );
    }
}
