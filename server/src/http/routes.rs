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

/// A name as [`crate::domain::text::name`] takes it: one line of visible text, not
/// blank.
pub const NAME_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$";

/// One admin operation, as the middleware and the OpenAPI document see it.
pub struct Op {
    pub method: Method,
    pub path: &'static str,
    pub role: Role,
    pub summary: &'static str,
    pub tag: &'static str,
    pub request: Option<(&'static str, SchemaFn)>,
    pub response: Option<(SchemaFn, bool)>,
    /// The status a success answers with: 201 for what creates, else 200.
    pub status: u16,
    /// The query parameters it reads.
    pub query: Option<SchemaFn>,
    /// The body fields it needs (under the envelope key).
    pub required: &'static [&'static str],
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

    /// It answers 201 Created.
    pub fn created(self) -> Self {
        self.0.status = 201;
        self
    }

    /// It answers 202 Accepted (the work goes on after the answer).
    pub fn accepted(self) -> Self {
        self.0.status = 202;
        self
    }

    /// The query parameters it reads, from a flat struct.
    pub fn query<T: JsonSchema>(self) -> Self {
        self.0.query = Some(|g| g.root_schema_for::<T>());
        self
    }

    /// The body fields it needs.
    pub fn requires(self, fields: &'static [&'static str]) -> Self {
        self.0.required = fields;
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
            status: 200,
            query: None,
            required: &[],
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

/// `schema` with its references inlined and `null` taken out of every type.
fn form_schema(schema: Value, defs: &Map<String, Value>, depth: usize) -> Value {
    match schema {
        Value::Object(mut o) if depth < 16 => {
            if let Some(name) = o
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                && let Some(def) = defs.get(name)
            {
                o.remove("$ref");
                if let Value::Object(d) = form_schema(def.clone(), defs, depth + 1) {
                    for (k, v) in d {
                        o.entry(k).or_insert(v);
                    }
                }
            }
            if let Some(types) = o.get_mut("type").and_then(Value::as_array_mut) {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types[0].clone();
                    o.insert("type".into(), only);
                }
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(branches)) = o.get_mut(key) {
                    branches.retain(|b| {
                        b.get("type").and_then(Value::as_str) != Some("null")
                            && b.get("const") != Some(&Value::Null)
                    });
                }
            }
            if let Some(Value::Array(e)) = o.get_mut("enum") {
                e.retain(|v| !v.is_null());
            }
            // A form key has a name, and brackets only for nesting.
            if o.contains_key("properties") {
                o.insert(
                    "propertyNames".into(),
                    json!({"minLength": 1, "pattern": "^[^\\[]"}),
                );
            }
            Value::Object(
                o.into_iter()
                    .map(|(k, v)| (k, form_schema(v, defs, depth + 1)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| form_schema(v, defs, depth + 1))
                .collect(),
        ),
        other => other,
    }
}

/// A query parameter's schema: a parameter is absent, never `null`.
fn without_null(mut schema: Value) -> Value {
    if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types[0].clone();
            schema["type"] = only;
        }
    }
    schema
}

/// The OpenAPI 3.1 document of every operation in the table.
pub fn openapi(ops: &[Op], version: &str) -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "#/components/schemas/".into();
    });
    let mut generator = settings.into_generator();
    let mut paths = Map::new();
    let mut forms = Vec::new();
    for op in ops {
        let mut parameters: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                // Deliveries are numbered; everything else has a string id.
                let schema = if name == "delivery_id" {
                    json!({"type": "integer", "format": "int64"})
                } else {
                    json!({"type": "string"})
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        if op.method == Method::POST && op.replayable {
            parameters.push(json!({
                "name": "Idempotency-Key", "in": "header", "required": false,
                "description": "Repeating a POST with the same key and body within 24 hours returns the first result.",
                "schema": {"type": "string", "maxLength": 255}
            }));
        }
        if let Some(query) = op.query {
            let schema = serde_json::to_value(query(&mut generator)).unwrap_or(Value::Null);
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    parameters.push(json!({
                        "name": name, "in": "query", "required": false,
                        "schema": without_null(prop.clone()),
                    }));
                }
            }
        }
        let error = json!({"$ref": "#/components/responses/Error"});
        let mut responses = Map::new();
        // Every operation: a query that does not parse, no key or a wrong one, a role
        // that does not reach, an id that is not there, a field refused, and a client
        // told to wait after too many wrong keys.
        let mut codes = vec!["400", "401", "403", "404", "422", "429"];
        if op.method != Method::GET {
            codes.push("409");
        }
        if op.request.is_some() {
            codes.extend(["408", "413", "415"]);
        }
        for code in codes {
            responses.insert(code.to_owned(), error.clone());
        }
        let ok = match op.response {
            Some((schema, list)) => {
                let s = serde_json::to_value(schema(&mut generator)).unwrap_or(Value::Null);
                let s = if list {
                    json!({"type": "array", "items": s})
                } else {
                    s
                };
                let what = match op.status {
                    201 => "Created",
                    202 => "Accepted",
                    _ => "OK",
                };
                json!({"description": what, "content": {"application/json": {"schema": s}}})
            }
            None => json!({"description": "No content"}),
        };
        responses.insert(op.status.to_string(), ok);
        let mut operation = json!({
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": format!("{}_{}", op.method.as_str().to_lowercase(), op.path.replace(['/', '{', '}', '-'], "_")),
            "parameters": parameters,
            "security": [{"oauth_key": []}, {"bearer": []}, {"api_key": []}],
            "x-herald-role": op.role.as_str(),
            "responses": responses,
        });
        if let Some((key, schema)) = op.request {
            let s = serde_json::to_value(schema(&mut generator)).unwrap_or(Value::Null);
            let (inner, needed) = if op.required.is_empty() {
                // `{"incident": null}`, like no body, changes nothing.
                (json!({"anyOf": [s, {"type": "null"}]}), false)
            } else {
                (json!({"allOf": [s], "required": op.required}), true)
            };
            let mut wrapped = json!({"type": "object", "properties": {key: inner}});
            if needed {
                wrapped["required"] = json!([key]);
            } else {
                // JSON `null`, like no body, changes nothing.
                wrapped["type"] = json!(["object", "null"]);
            }
            forms.push((op.path, op.method.as_str().to_lowercase(), wrapped.clone()));
            operation["requestBody"] = json!({
                // A PATCH or PUT without a body changes nothing; a create needs its
                // fields.
                "required": needed,
                "content": {
                    "application/json": {"schema": wrapped},
                    "application/x-www-form-urlencoded": {"schema": {}}
                }
            });
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method.as_str().to_lowercase()] = operation;
    }
    let schemas = generator.take_definitions(true);
    // A form carries strings and no `null` (an empty value clears a field): its schema
    // is the JSON one, inlined, without `null`.
    for (path, method, wrapped) in forms {
        paths[path][&method]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"] =
            form_schema(wrapped, &schemas, 0);
    }
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
