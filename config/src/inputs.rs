//! Upstream objects as fleetdns reads them, from a file or a cluster.
//!
//! [`Inputs`] is what both sources hand to [`crate::validate`]: the settings
//! document plus the TrafficManagerProfile, TrafficManagerBackend and
//! ServiceExport objects, each checked against the CRD schema generated from
//! [`crate::crd`] (with Kubernetes' structural defaulting) before it is used.

use std::borrow::Cow;

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
    /// `apiVersion` as written (e.g. `networking.fleet.azure.com/v1alpha1`;
    /// the served versions are shared, not a copy per object).
    pub api_version: Cow<'static, str>,
    /// The parts of the object's `metadata` fleetdns reads (the whole `metadata`
    /// is still checked as Kubernetes' `ObjectMeta` when the object is parsed).
    pub metadata: Meta,
    /// The decoded `spec` (`()` for a ServiceExport, which has none).
    pub spec: S,
}

/// What fleetdns keeps of an object's `metadata`: a compact form of the fields it
/// reads. At 100k profiles the parsed objects are kept between reloads, and a
/// whole `ObjectMeta` (15 fields, annotations in a B-tree) was most of their size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// `metadata.name`.
    pub name: Option<String>,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `metadata.uid` (set on objects read from a cluster).
    pub uid: Option<String>,
    /// `metadata.annotations` as (key, value) pairs sorted by key.
    pub annotations: Box<[(String, String)]>,
}

impl From<ObjectMeta> for Meta {
    fn from(m: ObjectMeta) -> Self {
        // A BTreeMap iterates in key order, so the pairs come sorted.
        let annotations = m.annotations.unwrap_or_default().into_iter().collect();
        Self {
            name: m.name,
            namespace: m.namespace,
            uid: m.uid,
            annotations,
        }
    }
}

impl Meta {
    /// The value of the annotation `key`, if set.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.annotations[i].1.as_str())
    }
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
        self.metadata.annotation(key)
    }
}

/// The `apiVersion`s of the upstream objects fleetdns reads.
pub(crate) const KNOWN_API_VERSIONS: [&str; 2] = [
    "networking.fleet.azure.com/v1beta1",
    "networking.fleet.azure.com/v1alpha1",
];

/// `apiVersion` as an [`Object`] holds it: a known one shared.
pub(crate) fn shared_api_version(api_version: &str) -> Cow<'static, str> {
    match KNOWN_API_VERSIONS.iter().find(|v| **v == api_version) {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(api_version.to_string()),
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
    let metadata: Meta = match value
        .get_mut("metadata")
        .map(|m| serde_json::from_value::<ObjectMeta>(m.take()))
    {
        Some(Ok(m)) => m.into(),
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
        None => Meta::default(),
    };
    if metadata.name.as_deref().unwrap_or("").is_empty() {
        diags.push(
            Diagnostic::error(doc.location_of(&["metadata"]), "metadata.name is required")
                .object(object)
                .field("metadata.name"),
        );
        return;
    }
    let spec = value.get_mut("spec").map_or(Value::Null, Value::take);
    let api_version = shared_api_version(api_version);
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
