//! Components and component groups as the page shows them. A group is a component
//! that holds others; its status is the worst of theirs.

use chrono::{DateTime, NaiveDate, Utc};

use super::{ComponentId, ComponentStatus, DomainError, IncidentId, PageId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub id: ComponentId,
    pub page_id: PageId,
    pub name: String,
    pub description: Option<String>,
    pub status: ComponentStatus,
    pub is_group: bool,
    pub group_id: Option<ComponentId>,
    pub position: i32,
    pub showcase: bool,
    pub only_show_if_degraded: bool,
    pub start_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One change of a component's live status, kept as history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub component_id: ComponentId,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
    pub incident_id: Option<IncidentId>,
    pub at: DateTime<Utc>,
}

/// The most components one group holds (or one request names).
pub const MAX_MEMBERS: usize = 1_000;

/// The longest description shown under a component.
pub const MAX_DESCRIPTION: usize = 2_000;

/// A description, or `None` for a blank one.
pub fn description(d: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(d) = d.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(DomainError::invalid(
            "description",
            format!("description must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(Some(d.to_owned()))
}

/// Groups hold components, not other groups.
pub fn check_nesting(is_group: bool, group_id: Option<&ComponentId>) -> Result<(), DomainError> {
    if is_group && group_id.is_some() {
        return Err(DomainError::invalid(
            "group_id",
            "a group cannot be inside another group",
        ));
    }
    Ok(())
}

/// A group's status follows its components; only a component's can be set.
pub fn check_settable(is_group: bool) -> Result<(), DomainError> {
    if is_group {
        return Err(DomainError::invalid(
            "status",
            "a group's status follows its components",
        ));
    }
    Ok(())
}
