//! Upstream objects as fleetdns reads them, from a file or a cluster.
//!
//! [`Inputs`] is what both sources hand to [`crate::validate`]: the settings
//! document plus the TrafficManagerProfile, TrafficManagerBackend and
//! ServiceExport objects, each checked against the CRD schema generated from
//! [`crate::crd`] (with Kubernetes' structural defaulting) before it is used.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::crd;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document::Doc;
use crate::settings::SettingsDocument;

/// An upstream object from a document, with where it came from.
#[derive(Clone, Debug)]
pub struct Object<S> {
    /// The document the object was read from; diagnostics point into it.
    pub doc: Doc,
    /// `apiVersion` as written (e.g. `networking.fleet.azure.com/v1alpha1`).
    pub api_version: String,
    /// The object's `metadata` (name, namespace, uid, generation, annotations, …).
    pub metadata: ObjectMeta,
    /// The decoded `spec` (`()` for a ServiceExport, which has none).
    pub spec: S,
}

impl<S> Object<S> {
    /// `metadata.namespace`, or `default` when absent.
    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or("default")
    }

    /// `metadata.name`, or empty when absent (parsing rejects objects without a name).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// The value of the annotation `key`, if set.
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
    /// Every FleetDNSConfig document; validation requires exactly one.
    pub settings: Vec<(Doc, SettingsDocument)>,
    /// Every TrafficManagerProfile, of either served version, decoded as v1beta1.
    pub profiles: Vec<Object<crd::v1beta1::TrafficManagerProfileSpec>>,
    /// Every TrafficManagerBackend, of either served version, decoded as v1beta1.
    pub backends: Vec<Object<crd::v1beta1::TrafficManagerBackendSpec>>,
    /// Every ServiceExport (no spec: its weight is an annotation).
    pub exports: Vec<Object<()>>,
    /// The file had more than [`crate::limits::MAX_DOCUMENTS`] documents; none was read.
    pub too_many_documents: bool,
}

/// The upstream CRDs, generated once: building their schemas is costly and every
/// upstream document is checked against them.
fn upstream_crds() -> &'static [k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition]{
    static CRDS: std::sync::OnceLock<Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>> =
        std::sync::OnceLock::new();
    CRDS.get_or_init(crd::crds)
}

/// `Kind namespace/name` of a raw object, for diagnostics.
pub fn object_label(kind: &str, metadata: Option<&Value>) -> String {
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
/// Checks one upstream object against its CRD schema, applies the schema's
/// defaults and adds it to `inputs`; problems go to `diags`.
pub fn parse_upstream(
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
