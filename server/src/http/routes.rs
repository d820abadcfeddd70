//! The admin API's route table. Each route is declared once, with the role it needs and
//! its request and response types; from that one table come the actix routes, the auth
//! middleware's decisions and the OpenAPI document, so a route cannot be served without
//! a role nor documented differently from what it does.

use actix_web::{
    FromRequest, Handler, Resource, Responder,
    dev::ResourceDef,
    http::Method,
    web::{self, ServiceConfig},
};
use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use super::{body::Enveloped, error::ApiError};
use crate::domain::Role;

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// One admin operation, as the middleware and the OpenAPI document see it.
pub struct Op {
    pub method: Method,
    pub path: &'static str,
    pub role: Role,
    pub summary: &'static str,
    pub tag: &'static str,
    pub request: Option<(&'static str, SchemaFn)>,
    pub response: Option<(SchemaFn, bool)>,
    /// A POST whose answer may be kept for `Idempotency-Key` replays: not one that
    /// answers with a secret.
    pub replayable: bool,
    def: ResourceDef,
}

/// Collects routes, then hands them to actix and keeps their metadata.
#[derive(Default)]
pub struct RouteTable {
    ops: Vec<Op>,
    resources: Vec<(&'static str, Option<Resource>)>,
}

pub struct OpBuilder<'a>(&'a mut Op);

impl OpBuilder<'_> {
    /// The body this operation takes, under its envelope key.
    pub fn body<T: Enveloped + JsonSchema>(self) -> Self {
        self.0.request = Some((T::KEY, |g| g.subschema_for::<T>()));
        self
    }

    /// It answers with a secret (a new token's key): never stored for replays.
    pub fn secret(self) -> Self {
        self.0.replayable = false;
        self
    }

    /// The JSON it answers with.
    pub fn returns<T: JsonSchema>(self) -> Self {
        self.0.response = Some((|g| g.subschema_for::<T>(), false));
        self
    }

    /// A bare JSON array of `T`.
    pub fn returns_list<T: JsonSchema>(self) -> Self {
        self.0.response = Some((|g| g.subschema_for::<T>(), true));
        self
    }
}

impl RouteTable {
    #[allow(clippy::too_many_arguments)]
    pub fn add<F, Args>(
        &mut self,
        method: Method,
        path: &'static str,
        role: Role,
        tag: &'static str,
        summary: &'static str,
        handler: F,
    ) -> OpBuilder<'_>
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let mut routes = vec![web::route().method(method.clone()).to(handler.clone())];
        if method == Method::GET {
            // HEAD answers like GET, without the body.
            routes.push(web::route().method(Method::HEAD).to(handler));
        }
        for route in routes {
            match self.resources.iter_mut().find(|(p, _)| *p == path) {
                Some((_, slot)) => {
                    let res = slot.take().map(|r| r.route(route));
                    *slot = res;
                }
                None => {
                    // Mounted inside the `/v1` scope.
                    let relative = path.strip_prefix("/v1").unwrap_or(path);
                    self.resources
                        .push((path, Some(web::resource(relative).route(route))));
                }
            }
        }
        self.ops.push(Op {
            method: method.clone(),
            path,
            role,
            summary,
            tag,
            request: None,
            response: None,
            replayable: method == Method::POST,
            def: ResourceDef::new(path),
        });
        let last = self.ops.len() - 1;
        OpBuilder(&mut self.ops[last])
    }

    /// Mounts the routes; fixed segments win over parameters (`/incidents/unresolved`
    /// before `/incidents/{id}`).
    pub fn mount(mut self, cfg: &mut ServiceConfig) {
        self.resources.sort_by_key(|(p, _)| p.matches('{').count());
        for (path, res) in std::mem::take(&mut self.resources) {
            let Some(res) = res else { continue };
            let allow = self.allowed(path);
            cfg.service(
                res.default_service(web::to(move |req| method_not_allowed(req, allow.clone()))),
            );
        }
    }

    /// The methods `path` answers, for `Allow` (HEAD wherever GET is).
    fn allowed(&self, path: &str) -> String {
        let mut methods: Vec<&str> = Vec::new();
        for op in self.ops.iter().filter(|o| o.path == path) {
            methods.push(op.method.as_str());
            if op.method == Method::GET {
                methods.push("HEAD");
            }
        }
        methods.dedup();
        methods.join(", ")
    }

    /// The operations, in the order requests are matched against them.
    pub fn into_ops(mut self) -> Vec<Op> {
        self.ops.sort_by_key(|o| o.path.matches('{').count());
        self.ops
    }
}

async fn method_not_allowed(req: actix_web::HttpRequest, allow: String) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    let mut res = ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}; it answers {allow}",
        req.method(),
        req.path()
    ))
    .error_response();
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&allow) {
        res.headers_mut().insert(actix_web::http::header::ALLOW, v);
    }
    res
}

/// The operation a request is for, if any.
pub fn find<'a>(ops: &'a [Op], method: &Method, path: &str) -> Option<&'a Op> {
    // HEAD is answered by the GET route and needs what GET needs.
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    ops.iter()
        .find(|o| o.method == *method && o.def.is_match(path))
}

/// The OpenAPI 3.1 document of every operation in the table.
pub fn openapi(ops: &[Op], version: &str) -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "#/components/schemas/".into();
    });
    let mut generator = settings.into_generator();
    let mut paths = Map::new();
    for op in ops {
        let mut parameters: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if op.method == Method::POST {
            parameters.push(json!({
                "name": "Idempotency-Key", "in": "header", "required": false,
                "description": "Repeating a POST with the same key and body within 24 hours returns the first result.",
                "schema": {"type": "string"}
            }));
        }
        let mut operation = json!({
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": format!("{}_{}", op.method.as_str().to_lowercase(), op.path.replace(['/', '{', '}', '-'], "_")),
            "parameters": parameters,
            "security": [{"oauth_key": []}, {"bearer": []}, {"api_key": []}],
            "x-herald-role": op.role.as_str(),
            "responses": {
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
                "422": {"$ref": "#/components/responses/Error"},
            }
        });
        let ok = match op.response {
            Some((schema, list)) => {
                let s = serde_json::to_value(schema(&mut generator)).unwrap_or(Value::Null);
                let s = if list {
                    json!({"type": "array", "items": s})
                } else {
                    s
                };
                json!({"description": "OK", "content": {"application/json": {"schema": s}}})
            }
            None => json!({"description": "No content"}),
        };
        operation["responses"]["200"] = ok;
        if let Some((key, schema)) = op.request {
            let s = serde_json::to_value(schema(&mut generator)).unwrap_or(Value::Null);
            let wrapped = json!({"type": "object", "properties": {key: s}});
            operation["requestBody"] = json!({
                "required": op.method != Method::DELETE,
                "content": {
                    "application/json": {"schema": wrapped},
                    "application/x-www-form-urlencoded": {"schema": wrapped}
                }
            });
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method.as_str().to_lowercase()] = operation;
    }
    let schemas = generator.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Herald admin API",
            "version": version,
            "description": "Atlassian Statuspage's manage API v1, served by Herald, plus Herald's own additions under the same prefix. The `.json` suffix on every path is optional. Every operation names the role it needs in `x-herald-role`."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "An error",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {"error": {"type": "object", "properties": {
                            "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}
                        }, "required": ["code", "message"]}},
                        "required": ["error"]
                    }}}
                }
            },
            "securitySchemes": {
                "oauth_key": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`OAuth <key>`"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "api_key": {"type": "apiKey", "in": "query", "name": "api_key"}
            }
        }
    })
}
