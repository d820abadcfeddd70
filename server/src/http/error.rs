//! The one HTTP error type for the API: JSON `{"error": {"code", "message"}}` with a
//! stable machine code. 5xx are logged once, here, and their detail is not sent.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde_json::json;

use crate::domain::DomainError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("this API key's role '{have}' cannot do this; it needs '{need}'")]
    Forbidden {
        have: &'static str,
        need: &'static str,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Invalid {
        code: &'static str,
        field: Option<String>,
        message: String,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the body is larger than {0}")]
    TooLarge(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("{0}")]
    RequestTimeout(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            code: "invalid_field",
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// Names the field by its path in the request (`incident.started_at`): errors from
    /// below name fields relative to the object the request carries under `key`.
    pub fn in_body(self, key: &str) -> Self {
        match self {
            ApiError::Invalid {
                code,
                field: Some(f),
                message,
            } if !f.starts_with(&format!("{key}.")) => ApiError::Invalid {
                code,
                field: Some(format!("{key}.{f}")),
                message,
            },
            other => other,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Invalid { code, .. } => code,
            ApiError::BadRequest(_) => "bad_request",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::TooLarge(_) => "payload_too_large",
            ApiError::Conflict(_) => "conflict",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(detail) = self {
            tracing::error!(error = %detail, "request failed");
        }
        let mut error = json!({"code": self.code(), "message": self.to_string()});
        if let ApiError::Invalid { field: Some(f), .. } = self {
            error["field"] = json!(f);
        }
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthorized) {
            res.insert_header(("WWW-Authenticate", "OAuth realm=\"herald\""));
        }
        if let ApiError::TooManyRequests { retry_after, .. } = self {
            res.insert_header(("Retry-After", retry_after.to_string()));
        }
        if matches!(self, ApiError::RequestTimeout(_)) {
            // The rest of the body may still come: the connection is not reused.
            res.force_close();
        }
        res.json(json!({ "error": error }))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::Domain(d) => ApiError::Invalid {
                code: match d {
                    DomainError::Lifecycle(_) => "invalid_transition",
                    _ => "invalid_field",
                },
                field: d.field().map(str::to_owned),
                message: d.to_string(),
            },
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Corrupt(m) | StoreError::Open(m) => ApiError::Internal(m),
            StoreError::Db(db) => ApiError::Internal(db.to_string()),
        }
    }
}

/// Turns actix's own errors (bad JSON, unknown route, wrong method) into the same shape.
pub fn from_actix(status: StatusCode, message: String) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::NotFound(message),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(message),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(message),
        s if s.is_server_error() => ApiError::Internal(message),
        _ => ApiError::BadRequest(message),
    }
}
