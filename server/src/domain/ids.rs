//! Typed ids: a component id cannot be passed where an incident id is expected. Each is
//! the 12-character lowercase id Statuspage clients know; the store generates them.

use std::{borrow::Borrow, fmt};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// The status page.
    PageId
);
id_type!(
    /// A component or a component group (a group is a component that holds others).
    ComponentId
);
id_type!(
    /// An incident or a scheduled maintenance.
    IncidentId
);
id_type!(
    /// One update in an incident's timeline.
    UpdateId
);
id_type!(
    /// An API token.
    TokenId
);
id_type!(
    /// A subscriber: a person (email) or an endpoint (webhook, chat).
    SubscriberId
);
id_type!(
    /// A tenant: a customer organisation with contacts and the components it runs on.
    TenantId
);
id_type!(
    /// A person who signs in to the console.
    UserId
);
