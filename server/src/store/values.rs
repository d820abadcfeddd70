//! Domain types as column values: statuses and ids are stored as their text and read
//! back typed, so no caller parses strings. (What sea-orm's `DeriveValueType` would
//! generate; written here because `domain` stays free of sea-orm.)

use crate::domain::{
    Channel, ComponentId, ComponentStatus, DeliveryState, Impact, IncidentId, IncidentStatus,
    PageId, RecipientKind, Role, SubscriberId, SubscriberState, TenantId, TokenId, UpdateId,
    UserId,
};

macro_rules! text_value {
    ($ty:ty, $parse:expr, $text:expr) => {
        impl From<$ty> for sea_orm::Value {
            fn from(v: $ty) -> Self {
                let text: fn(&$ty) -> String = $text;
                sea_orm::Value::String(Some(text(&v)))
            }
        }

        impl sea_orm::TryGetable for $ty {
            fn try_get_by<I: sea_orm::ColIdx>(
                res: &sea_orm::QueryResult,
                idx: I,
            ) -> Result<Self, sea_orm::TryGetError> {
                let s = String::try_get_by(res, idx)?;
                let parse: fn(&str) -> Result<$ty, String> = $parse;
                parse(&s).map_err(|e| {
                    sea_orm::TryGetError::DbErr(sea_orm::DbErr::Type(format!(
                        "{}: {e}",
                        stringify!($ty)
                    )))
                })
            }
        }

        impl sea_orm::sea_query::ValueType for $ty {
            fn try_from(v: sea_orm::Value) -> Result<Self, sea_orm::sea_query::ValueTypeErr> {
                let s = <String as sea_orm::sea_query::ValueType>::try_from(v)?;
                let parse: fn(&str) -> Result<$ty, String> = $parse;
                parse(&s).map_err(|_| sea_orm::sea_query::ValueTypeErr)
            }

            fn type_name() -> String {
                stringify!($ty).to_owned()
            }

            fn array_type() -> sea_orm::sea_query::ArrayType {
                sea_orm::sea_query::ArrayType::String
            }

            fn column_type() -> sea_orm::sea_query::ColumnType {
                sea_orm::sea_query::ColumnType::String(sea_orm::sea_query::StringLen::None)
            }
        }

        impl sea_orm::sea_query::Nullable for $ty {
            fn null() -> sea_orm::Value {
                sea_orm::Value::String(None)
            }
        }

        impl sea_orm::sea_query::postgres_array::NotU8 for $ty {}

        impl sea_orm::TryFromU64 for $ty {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($ty)))
            }
        }
    };
}

macro_rules! enum_value {
    ($($ty:ty),+) => {$(
        text_value!($ty, |s| s.parse::<$ty>().map_err(|e| e.to_string()), |v| v.as_str().to_owned());
    )+};
}

macro_rules! id_value {
    ($($ty:ty),+) => {$(
        text_value!($ty, |s| Ok(<$ty>::from(s)), |v| v.as_str().to_owned());
    )+};
}

enum_value!(
    ComponentStatus,
    IncidentStatus,
    Impact,
    Role,
    Channel,
    SubscriberState,
    DeliveryState,
    RecipientKind
);
id_value!(
    PageId,
    ComponentId,
    IncidentId,
    UpdateId,
    TokenId,
    SubscriberId,
    TenantId,
    UserId
);
