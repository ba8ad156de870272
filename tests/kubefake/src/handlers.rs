//! The API verbs: list, get, create, replace, patch (merge, JSON, apply), delete and
//! deletecollection on a routed request, turned into store calls and JSON answers; and the
//! parsing of watch requests.

use std::collections::HashMap;

use hyper::Method;
use serde_json::{json, Value};

use crate::admission::FieldValidation;
use crate::route::Route;
use crate::select::Selector;
use crate::shared::{lock, Shared};
use crate::status::{delete_success, ApiError};
use crate::store::{metadata_only, present, DeleteOpts, Deleted, PatchKind, Store, WriteOpts};
use crate::watch::WatchRequest;

/// What a handler needs to know about a request.
pub(crate) struct Ctx {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) params: HashMap<String, String>,
    pub(crate) content_type: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) token: Option<String>,
    /// `Accept: application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`.
    pub(crate) metadata_only: bool,
    /// The request body as JSON (YAML bodies converted), for the write log.
    pub(crate) body: Option<Value>,
}

/// `true`/`1` query values.
pub(crate) fn is_true(v: Option<&String>) -> bool {
    v.is_some_and(|v| v == "true" || v == "1")
}

/// A successful answer.
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) body: Value,
    pub(crate) warnings: Vec<String>,
    pub(crate) changed: bool,
    pub(crate) name: Option<String>,
}

impl Reply {
    fn ok(code: u16, body: Value) -> Reply {
        Reply {
            code,
            body,
            warnings: Vec::new(),
            changed: false,
            name: None,
        }
    }
}

fn parse_body(body: &[u8], yaml_ok: bool) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(e) if yaml_ok => serde_yaml::from_slice::<Value>(body)
            .map_err(|y| ApiError::bad_request(format!("error decoding YAML: {y} (as JSON: {e})"))),
        Err(e) => Err(ApiError::bad_request(format!("error decoding JSON: {e}"))),
    }
}

fn write_opts(ctx: &Ctx, route: &Route) -> WriteOpts {
    WriteOpts {
        version: route.version.clone(),
        field_validation: FieldValidation::parse(
            ctx.params.get("fieldValidation").map(String::as_str),
        ),
        field_manager: ctx.params.get("fieldManager").cloned().or_else(|| {
            // The apiserver derives a manager from the user agent when none is given.
            ctx.user_agent
                .as_ref()
                .map(|ua| ua.split('/').next().unwrap_or(ua).to_string())
        }),
        dry_run: ctx.params.get("dryRun").is_some_and(|d| d == "All"),
    }
}

pub(crate) fn dispatch(
    shared: &Shared,
    ctx: &Ctx,
    route: &Route,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let reg = &shared.registry;
    let rt = &reg.types[route.rid];
    let ns = route.namespace.clone().unwrap_or_default();
    let status_only = route.sub.is_some();
    match (&ctx.method, &route.name) {
        (&Method::GET, None) => {
            let sel = Selector::parse(
                ctx.params.get("labelSelector").map(String::as_str),
                ctx.params.get("fieldSelector").map(String::as_str),
            )?;
            let store = lock(&shared.store);
            check_list_rv(&store, ctx)?;
            let limit = ctx.params.get("limit").and_then(|l| l.parse().ok());
            let page = store.list(
                route.rid,
                route.namespace.as_deref(),
                &sel,
                limit,
                ctx.params.get("continue").map(String::as_str),
            )?;
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|o| {
                    if ctx.metadata_only {
                        metadata_only(o)
                    } else {
                        present(o, rt, &route.version)
                    }
                })
                .collect();
            let mut meta = json!({"resourceVersion": page.rv.to_string()});
            if let Some(c) = page.continue_token {
                meta["continue"] = json!(c);
                meta["remainingItemCount"] = json!(page.remaining);
            }
            let (kind, api_version) = if ctx.metadata_only {
                (
                    "PartialObjectMetadataList".to_string(),
                    "meta.k8s.io/v1".to_string(),
                )
            } else {
                (format!("{}List", rt.kind), rt.api_version(&route.version))
            };
            Ok(Reply::ok(
                200,
                json!({
                    "kind": kind,
                    "apiVersion": api_version,
                    "metadata": meta,
                    "items": items,
                }),
            ))
        }
        (&Method::GET, Some(name)) => {
            let store = lock(&shared.store);
            match store.get(route.rid, &ns, name) {
                Some(o) if ctx.metadata_only => Ok(Reply::ok(200, metadata_only(o))),
                Some(o) => Ok(Reply::ok(200, present(o, rt, &route.version))),
                None => Err(ApiError::not_found(&rt.qualified(), name)),
            }
        }
        (&Method::POST, None) => {
            if rt.namespaced && route.namespace.is_none() {
                return Err(ApiError::new(
                    405,
                    "MethodNotAllowed",
                    "create requires a namespace in the path",
                ));
            }
            let obj = parse_body(body, true)?;
            let w =
                lock(&shared.store).create(reg, route.rid, &ns, obj, &write_opts(ctx, route))?;
            Ok(Reply {
                code: 201,
                name: Some(crate::meta::meta_str(&w.object, "name").to_string()),
                body: present(&w.object, rt, &route.version),
                warnings: w.warnings,
                changed: w.changed,
            })
        }
        (&Method::PUT, Some(name)) => {
            let obj = parse_body(body, true)?;
            let w = lock(&shared.store).replace(
                reg,
                route.rid,
                &ns,
                name,
                obj,
                status_only,
                &write_opts(ctx, route),
            )?;
            Ok(Reply {
                code: 200,
                name: None,
                body: present(&w.object, rt, &route.version),
                warnings: w.warnings,
                changed: w.changed,
            })
        }
        (&Method::PATCH, Some(name)) => {
            let ct = ctx
                .content_type
                .as_deref()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            let kind = match ct.as_str() {
                "application/merge-patch+json" => PatchKind::Merge,
                "application/json-patch+json" => PatchKind::Json,
                "application/strategic-merge-patch+json" => PatchKind::Strategic,
                "application/apply-patch+yaml" | "application/apply-patch+json" => {
                    PatchKind::Apply {
                        force: is_true(ctx.params.get("force")),
                    }
                }
                other => {
                    return Err(ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other:?})")));
                }
            };
            let patch = parse_body(body, matches!(kind, PatchKind::Apply { .. }))?;
            let mut store = lock(&shared.store);
            let existed = store.get(route.rid, &ns, name).is_some();
            let w = store.patch(
                reg,
                route.rid,
                &ns,
                name,
                kind,
                &patch,
                status_only,
                &write_opts(ctx, route),
            )?;
            let code = if existed { 200 } else { 201 };
            Ok(Reply {
                code,
                name: None,
                body: present(&w.object, rt, &route.version),
                warnings: w.warnings,
                changed: w.changed,
            })
        }
        (&Method::DELETE, Some(name)) => {
            let opts = delete_opts(ctx, body);
            match lock(&shared.store).delete(reg, route.rid, &ns, name, &opts)? {
                Deleted::Pending(o) => Ok(Reply {
                    code: 200,
                    name: None,
                    body: present(&o, rt, &route.version),
                    warnings: Vec::new(),
                    changed: !opts.dry_run,
                }),
                Deleted::Gone(o) => Ok(Reply {
                    code: 200,
                    name: None,
                    body: delete_success(
                        &rt.group,
                        &rt.plural,
                        name,
                        crate::meta::meta_str(&o, "uid"),
                    ),
                    warnings: Vec::new(),
                    changed: !opts.dry_run,
                }),
            }
        }
        (&Method::DELETE, None) => {
            let sel = Selector::parse(
                ctx.params.get("labelSelector").map(String::as_str),
                ctx.params.get("fieldSelector").map(String::as_str),
            )?;
            let opts = delete_opts(ctx, body);
            let mut store = lock(&shared.store);
            let victims = store.snapshot(route.rid, route.namespace.as_deref(), &sel);
            let mut items = Vec::new();
            for v in victims {
                let vns = crate::meta::meta_str(&v, "namespace").to_string();
                let vname = crate::meta::meta_str(&v, "name").to_string();
                match store.delete(reg, route.rid, &vns, &vname, &opts)? {
                    Deleted::Pending(o) | Deleted::Gone(o) => {
                        items.push(present(&o, rt, &route.version))
                    }
                }
            }
            Ok(Reply {
                code: 200,
                name: None,
                body: json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(&route.version),
                             "metadata": {"resourceVersion": store.rv().to_string()}, "items": items}),
                warnings: Vec::new(),
                changed: true,
            })
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{} is not supported on {}", ctx.method, ctx.path),
        )),
    }
}

/// `resourceVersion` + `resourceVersionMatch` on list: an Exact version older than the kept
/// history is 410 Expired; a version newer than the store is 504 "Too large resource version"
/// (as a real apiserver answers after its wait). Otherwise the current state is served.
fn check_list_rv(store: &Store, ctx: &Ctx) -> Result<(), ApiError> {
    let Some(rv) = ctx
        .params
        .get("resourceVersion")
        .filter(|r| !r.is_empty() && *r != "0")
    else {
        return Ok(());
    };
    let rv: u64 = rv
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?;
    if rv > store.rv() {
        return Err(ApiError::too_large_rv(rv, store.rv()));
    }
    if ctx
        .params
        .get("resourceVersionMatch")
        .is_some_and(|m| m == "Exact")
        && rv < store.compacted_rv()
    {
        return Err(ApiError::expired(rv, store.compacted_rv()));
    }
    Ok(())
}

fn delete_opts(ctx: &Ctx, body: &[u8]) -> DeleteOpts {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(String::from);
    DeleteOpts {
        uid: s("/preconditions/uid"),
        resource_version: s("/preconditions/resourceVersion"),
        dry_run: ctx.params.get("dryRun").is_some_and(|d| d == "All")
            || v.get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x == "All")),
    }
}

pub(crate) fn watch_request(
    shared: &Shared,
    ctx: &Ctx,
    route: &Route,
) -> Result<WatchRequest, ApiError> {
    let sel = Selector::parse(
        ctx.params.get("labelSelector").map(String::as_str),
        ctx.params.get("fieldSelector").map(String::as_str),
    )?;
    let rv = ctx
        .params
        .get("resourceVersion")
        .cloned()
        .unwrap_or_default();
    let from = if rv.is_empty() || rv == "0" {
        None
    } else {
        Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?,
        )
    };
    let timeout = ctx
        .params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(std::time::Duration::from_secs)
        .unwrap_or(shared.options.default_watch_timeout);
    Ok(WatchRequest {
        rid: route.rid,
        version: route.version.clone(),
        namespace: route.namespace.clone(),
        selector: sel,
        from,
        timeout,
        bookmarks: is_true(ctx.params.get("allowWatchBookmarks")),
        send_initial_events: is_true(ctx.params.get("sendInitialEvents")),
        metadata_only: ctx.metadata_only,
    })
}
