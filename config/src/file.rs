//! The file source: one multi-document YAML file → typed inputs → `Fleet`.
//!
//! The file holds one `FleetDNSConfig` settings document plus the upstream objects
//! exactly as users write them for Fleet (TrafficManagerProfile,
//! TrafficManagerBackend, ServiceExport). Objects fleetdns does not use
//! (Deployments, Services, placements, …) are accepted and listed as ignored, so
//! the manifests from the Fleet docs can be pasted in unchanged. Each upstream
//! object is checked against the CRD schema generated from our types (with
//! Kubernetes' structural defaulting) before it is used.
//!
//! [`watch`] re-reads the file when it changes or on demand (SIGHUP) and publishes
//! each valid `Fleet`; a broken file is reported and the last good one stays.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use tokio::sync::{watch, Notify};

use crate::crd;
use crate::diagnostic::{Diagnostic, Diagnostics, Location, Severity};
use crate::document::{self, Doc};
use crate::model::Fleet;
use crate::settings::{self, SettingsDocument};
use crate::validate;

/// Largest config file accepted (bytes).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// An upstream object from a document, with where it came from.
#[derive(Clone, Debug)]
pub struct Object<S> {
    pub doc: Doc,
    /// `apiVersion` as written (e.g. `networking.fleet.azure.com/v1alpha1`).
    pub api_version: String,
    pub metadata: ObjectMeta,
    pub spec: S,
}

impl<S> Object<S> {
    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or("default")
    }

    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }
}

/// Everything the file holds that fleetdns uses.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub settings: Vec<(Doc, SettingsDocument)>,
    pub profiles: Vec<Object<crd::v1beta1::TrafficManagerProfileSpec>>,
    pub backends: Vec<Object<crd::v1beta1::TrafficManagerBackendSpec>>,
    pub exports: Vec<Object<()>>,
    /// The file had more than [`crate::limits::MAX_DOCUMENTS`] documents; none was read.
    pub too_many_documents: bool,
}

/// Reads and validates `path`. Warnings and notes come with the `Fleet`; any error
/// rejects the file.
pub fn load(path: &Path) -> Result<(Fleet, Diagnostics), Diagnostics> {
    let text = read(path)?;
    load_str(path, &text)
}

/// Validates `text` as if read from `path`.
pub fn load_str(path: &Path, text: &str) -> Result<(Fleet, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::default();
    let inputs = parse(path, text, &mut diags);
    if inputs.too_many_documents {
        return Err(diags);
    }
    kubernetes_mode_has_no_objects(&inputs, &mut diags);
    let fleet = validate::fleet(&inputs, &mut diags);
    match fleet {
        Some(fleet) if !diags.has_errors() => Ok((fleet, diags)),
        _ => Err(diags),
    }
}

/// With `spec.kubernetes`, the fleet comes from the clusters: objects and static
/// clusters in the file would be silently shadowed, so they are errors.
fn kubernetes_mode_has_no_objects(inputs: &Inputs, diags: &mut Diagnostics) {
    let [(doc, settings)] = inputs.settings.as_slice() else {
        return;
    };
    if settings.spec.kubernetes.is_none() {
        return;
    }
    if !settings.spec.clusters.is_empty() {
        diags.push(
            Diagnostic::error(doc.location_of(&["spec", "clusters"]), "spec.clusters is not used with spec.kubernetes (Services and their load balancers are read from the member clusters); allowed: remove spec.clusters, or remove spec.kubernetes to serve from this file")
                .object("FleetDNSConfig")
                .field("spec.clusters"),
        );
    }
    let objects = inputs
        .profiles
        .iter()
        .map(|o| (&o.doc, "TrafficManagerProfile", o.namespace(), o.name()))
        .chain(
            inputs
                .backends
                .iter()
                .map(|o| (&o.doc, "TrafficManagerBackend", o.namespace(), o.name())),
        )
        .chain(
            inputs
                .exports
                .iter()
                .map(|o| (&o.doc, "ServiceExport", o.namespace(), o.name())),
        );
    for (doc, kind, ns, name) in objects {
        diags.push(
            Diagnostic::error(doc.location(), format!("{kind} objects come from the clusters when spec.kubernetes is set; allowed: apply it with kubectl to the hub (profiles, backends) or a member (exports), or remove spec.kubernetes to serve from this file"))
                .object(format!("{kind} {ns}/{name}")),
        );
    }
}

fn read(path: &Path) -> Result<String, Diagnostics> {
    let fail = |message: String| {
        Diagnostics(vec![Diagnostic::error(
            Location {
                file: path.to_path_buf(),
                ..Location::default()
            },
            message,
        )])
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(format!(
            "the file is {} bytes; allowed: at most {MAX_FILE_BYTES} bytes",
            meta.len()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read the file: {e}")))
}

/// Splits and classifies the documents of `text`.
pub fn parse(path: &Path, text: &str, diags: &mut Diagnostics) -> Inputs {
    let file: Arc<Path> = Arc::from(path);
    let mut inputs = Inputs::default();
    let docs = document::split(&file, text);
    if let Some(over) = docs.get(crate::limits::MAX_DOCUMENTS) {
        diags.push(Diagnostic::error(
            over.location(),
            format!(
                "{} YAML documents; allowed: at most {} per config file (this is the first one over the limit)",
                docs.len(),
                crate::limits::MAX_DOCUMENTS
            ),
        ));
        inputs.too_many_documents = true;
        return inputs;
    }
    for doc in docs {
        parse_document(doc, &mut inputs, diags);
    }
    inputs
}

fn parse_document(doc: Doc, inputs: &mut Inputs, diags: &mut Diagnostics) {
    let value: Value = match serde_yaml::from_str(&doc.text) {
        Ok(v) => v,
        Err(e) => {
            let loc = match e.location() {
                Some(l) => doc.location_at(l.line()),
                None => doc.location(),
            };
            diags.push(Diagnostic::error(loc, format!("not valid YAML: {e}")));
            return;
        }
    };
    let Value::Object(map) = &value else {
        diags.push(Diagnostic::error(
            doc.location(),
            "a document must be a mapping with apiVersion and kind",
        ));
        return;
    };
    let api_version = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (api_version, kind) = (api_version.as_str(), kind.as_str());
    if api_version.is_empty() || kind.is_empty() {
        diags.push(
            Diagnostic::error(
                doc.location(),
                "every document needs apiVersion and kind (for example apiVersion: networking.fleet.azure.com/v1beta1, kind: TrafficManagerProfile)",
            )
            .field(if api_version.is_empty() { "apiVersion" } else { "kind" }),
        );
        return;
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let object = object_label(kind, map.get("metadata"));
    let (api_version, kind) = (api_version.to_string(), kind.to_string());
    let (api_version, kind) = (api_version.as_str(), kind.as_str());

    match (group, kind) {
        ("fleetdns.io", settings::KIND) => {
            if api_version != settings::API_VERSION {
                diags.push(
                    Diagnostic::error(
                        doc.location_of(&["apiVersion"]),
                        format!("{api_version:?} is not supported; allowed: {}", settings::API_VERSION),
                    )
                    .object(object)
                    .field("apiVersion"),
                );
                return;
            }
            match serde_yaml::from_str::<SettingsDocument>(&doc.text) {
                Ok(s) => inputs.settings.push((doc, s)),
                Err(e) => {
                    let loc = match e.location() {
                        Some(l) => doc.location_at(l.line()),
                        None => doc.location(),
                    };
                    diags.push(Diagnostic::error(loc, e.to_string()).object(object));
                }
            }
        }
        (crd::GROUP, "TrafficManagerProfile" | "TrafficManagerBackend" | "ServiceExport") => {
            parse_upstream(doc, api_version, version, kind, value, &object, inputs, diags);
        }
        (crd::GROUP, _) => diags.push(
            Diagnostic::error(doc.location(), format!(
                "kind {kind} of {api_version} is ignored: fleetdns reads TrafficManagerProfile, TrafficManagerBackend and ServiceExport"
            ))
            .severity(Severity::Note)
            .object(object),
        ),
        _ => diags.push(
            Diagnostic::error(doc.location(), format!(
                "{api_version} {kind} is ignored: fleetdns does not use it"
            ))
            .severity(Severity::Note)
            .object(object),
        ),
    }
}

/// The upstream CRDs, generated once: building their schemas is costly and every
/// upstream document is checked against them.
fn upstream_crds() -> &'static [k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition]{
    static CRDS: std::sync::OnceLock<Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>> =
        std::sync::OnceLock::new();
    CRDS.get_or_init(crd::crds)
}

pub(crate) fn object_label(kind: &str, metadata: Option<&Value>) -> String {
    let name = metadata
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("<no name>");
    match metadata
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
    {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn parse_upstream(
    doc: Doc,
    api_version: &str,
    version: &str,
    kind: &str,
    mut value: Value,
    object: &str,
    inputs: &mut Inputs,
    diags: &mut Diagnostics,
) {
    let crds = upstream_crds();
    let Some(def) = crds.iter().find(|c| c.spec.names.kind == kind) else {
        return;
    };
    let Some(schema) = crate::schema::version_schema(def, version) else {
        let served: Vec<String> = def
            .spec
            .versions
            .iter()
            .filter(|v| v.served)
            .map(|v| format!("{}/{}", crd::GROUP, v.name))
            .collect();
        diags.push(
            Diagnostic::error(
                doc.location_of(&["apiVersion"]),
                format!(
                    "{api_version:?} is not served for {kind}; allowed: {}",
                    served.join(", ")
                ),
            )
            .object(object)
            .field("apiVersion"),
        );
        return;
    };
    let violations = crate::schema::check(schema, &value);
    if !violations.is_empty() {
        for v in violations {
            let segments: Vec<&str> = v
                .path
                .split('.')
                .map(|s| s.split('[').next().unwrap_or(s))
                .collect();
            diags.push(
                Diagnostic::error(doc.location_of(&segments), v.message)
                    .object(object)
                    .field(v.path),
            );
        }
        return;
    }
    crate::schema::apply_defaults(schema, &mut value);
    let metadata: ObjectMeta = match value.get("metadata").cloned().map(serde_json::from_value) {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            diags.push(
                Diagnostic::error(
                    doc.location_of(&["metadata"]),
                    format!("invalid metadata: {e}"),
                )
                .object(object)
                .field("metadata"),
            );
            return;
        }
        None => ObjectMeta::default(),
    };
    if metadata.name.as_deref().unwrap_or("").is_empty() {
        diags.push(
            Diagnostic::error(doc.location_of(&["metadata"]), "metadata.name is required")
                .object(object)
                .field("metadata.name"),
        );
        return;
    }
    let spec = value.get("spec").cloned().unwrap_or(Value::Null);
    let api_version = api_version.to_string();
    let decode_error = |e: serde_json::Error, diags: &mut Diagnostics, doc: &Doc| {
        diags.push(
            Diagnostic::error(doc.location_of(&["spec"]), format!("invalid spec: {e}"))
                .object(object)
                .field("spec"),
        );
    };
    match kind {
        "TrafficManagerProfile" => match serde_json::from_value(spec) {
            Ok(spec) => inputs.profiles.push(Object {
                doc,
                api_version,
                metadata,
                spec,
            }),
            Err(e) => decode_error(e, diags, &doc),
        },
        "TrafficManagerBackend" => match serde_json::from_value(spec) {
            Ok(spec) => inputs.backends.push(Object {
                doc,
                api_version,
                metadata,
                spec,
            }),
            Err(e) => decode_error(e, diags, &doc),
        },
        _ => inputs.exports.push(Object {
            doc,
            api_version,
            metadata,
            spec: (),
        }),
    }
}

/// How often the file's modification time and size are checked.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Watches `path` (loaded when it had the stamp `loaded`): reloads when its
/// modification time or size changes and when
/// `reload` is notified (SIGHUP). Each valid result is published on `tx`; an
/// invalid file is logged with every diagnostic and the last good `Fleet` stays.
/// Returns when `shutdown` resolves.
pub async fn watch(
    path: PathBuf,
    loaded: Option<Stamp>,
    tx: watch::Sender<Arc<Fleet>>,
    reload: Arc<Notify>,
    on_result: impl Fn(Result<&Diagnostics, &Diagnostics>) + Send,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut seen = loaded;
    loop {
        let forced = tokio::select! {
            _ = &mut shutdown => return,
            _ = reload.notified() => true,
            _ = tokio::time::sleep(POLL_INTERVAL) => false,
        };
        let now = stamp(&path);
        if !forced && now == seen {
            continue;
        }
        seen = now;
        match load(&path) {
            Ok((fleet, diags)) => {
                on_result(Ok(&diags));
                let changed = **tx.borrow() != fleet;
                if changed {
                    tx.send_replace(Arc::new(fleet));
                }
            }
            Err(diags) => on_result(Err(&diags)),
        }
    }
}

/// What identifies a version of the file for change detection: modification time and size.
pub type Stamp = (std::time::SystemTime, u64);

/// The file's current [`Stamp`]. Take it *before* the first [`load`] and pass it to
/// [`watch`], so a change made between the load and the watcher's start is seen.
pub fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}
