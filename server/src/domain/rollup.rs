//! Impact of an incident and the page's overall status, from component statuses.

use schemars::JsonSchema;
use serde::Serialize;

use super::{ComponentStatus, Impact};

/// The impact an incident has: the override when one is set, else the worst status
/// among its affected components.
pub fn derive_impact(
    statuses: impl IntoIterator<Item = ComponentStatus>,
    impact_override: Option<Impact>,
) -> Impact {
    impact_override.unwrap_or_else(|| {
        statuses
            .into_iter()
            .map(ComponentStatus::impact)
            .fold(Impact::None, Impact::worst)
    })
}

/// `status` of the public API: an indicator and the sentence the widget shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PageStatus {
    pub indicator: Impact,
    pub description: &'static str,
}

/// Rolls the page up: the worst of the open incidents' impacts and the components'
/// statuses; `maintenance` when nothing is wrong but something is under maintenance.
pub fn page_status(
    components: impl IntoIterator<Item = ComponentStatus>,
    open_incident_impacts: impl IntoIterator<Item = Impact>,
    maintenance_active: bool,
) -> PageStatus {
    let mut worst_component = ComponentStatus::Operational;
    let mut any_maintenance = maintenance_active;
    for s in components {
        any_maintenance |= s == ComponentStatus::UnderMaintenance;
        if s.impact().worst(worst_component.impact()) != worst_component.impact() {
            worst_component = s;
        }
    }
    let incidents = open_incident_impacts
        .into_iter()
        .filter(|i| *i != Impact::Maintenance)
        .fold(Impact::None, Impact::worst);
    let indicator = incidents.worst(worst_component.impact());
    let (indicator, description) = match indicator {
        Impact::None | Impact::Maintenance if any_maintenance => {
            (Impact::Maintenance, "Service Under Maintenance")
        }
        Impact::None | Impact::Maintenance => (Impact::None, "All Systems Operational"),
        Impact::Minor if incidents == Impact::None => (Impact::Minor, "Partially Degraded Service"),
        Impact::Minor => (Impact::Minor, "Minor Service Outage"),
        Impact::Major => (Impact::Major, "Partial System Outage"),
        Impact::Critical => (Impact::Critical, "Major Service Outage"),
    };
    PageStatus {
        indicator,
        description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComponentStatus::*;

    #[test]
    fn impact_is_the_worst_component_unless_overridden() {
        assert_eq!(derive_impact([], None), Impact::None);
        assert_eq!(derive_impact([DegradedPerformance], None), Impact::Minor);
        assert_eq!(
            derive_impact([DegradedPerformance, MajorOutage, PartialOutage], None),
            Impact::Critical
        );
        assert_eq!(
            derive_impact([PartialOutage, Operational], None),
            Impact::Major
        );
        assert_eq!(derive_impact([UnderMaintenance], None), Impact::None);
        assert_eq!(
            derive_impact([MajorOutage], Some(Impact::Minor)),
            Impact::Minor
        );
    }

    #[test]
    fn page_rolls_up() {
        let s = page_status([Operational, Operational], [], false);
        assert_eq!(
            (s.indicator, s.description),
            (Impact::None, "All Systems Operational")
        );
        let s = page_status([Operational, DegradedPerformance], [], false);
        assert_eq!(
            (s.indicator, s.description),
            (Impact::Minor, "Partially Degraded Service")
        );
        let s = page_status([Operational], [Impact::Minor], false);
        assert_eq!(
            (s.indicator, s.description),
            (Impact::Minor, "Minor Service Outage")
        );
        let s = page_status([PartialOutage], [Impact::Minor], false);
        assert_eq!(
            (s.indicator, s.description),
            (Impact::Major, "Partial System Outage")
        );
        let s = page_status([Operational], [Impact::Critical], false);
        assert_eq!(
            (s.indicator, s.description),
            (Impact::Critical, "Major Service Outage")
        );
        let s = page_status([UnderMaintenance], [], false);
        assert_eq!(
            (s.indicator, s.description),
            (Impact::Maintenance, "Service Under Maintenance")
        );
        let s = page_status([Operational], [Impact::Maintenance], true);
        assert_eq!(s.indicator, Impact::Maintenance);
        let s = page_status([UnderMaintenance, MajorOutage], [], true);
        assert_eq!(s.indicator, Impact::Critical);
    }
}
