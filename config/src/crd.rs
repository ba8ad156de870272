//! Rust types of the Azure Kubernetes Fleet networking objects fleetdns reads.
//!
//! fleetdns does not invent its own configuration format for profiles and backends: it reads the
//! very `TrafficManagerProfile`, `TrafficManagerBackend` and `ServiceExport` objects that
//! fleet-networking's hub and member controllers consume (group `networking.fleet.azure.com`).
//! The types here mirror the upstream Go API (`api/v1beta1`, `api/v1alpha1` of
//! Azure/fleet-networking) field for field, and [`crds()`] regenerates the upstream
//! CustomResourceDefinitions from them. `tests/crd_schema.rs` compares those CRDs with the
//! upstream YAML so that the schema [`crate::schema`] checks objects against is upstream's.
//!
//! Both served versions exist: [`v1beta1`] (storage) and [`v1alpha1`]. Their schemas are the
//! same except that v1alpha1's `MonitorConfig` lacks the two interval/timeout CEL rules.
//!
//! What the generated CRDs cannot carry is the controllers' in-memory defaulting (e.g. the
//! monitor timeout of 10 s or 9 s depending on the interval); that lives in `validate`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray,
};
use kube::core::crd::merge_crds;
use kube::CustomResourceExt;
use schemars::{json_schema, Schema, SchemaGenerator};

// kube's `KubeSchema` derive copies each spec struct, `pub` and all, into the body of its
// `json_schema` function, where the copy is unreachable; lint levels cannot be set on
// generated code, so the allowance covers these two modules (missing_docs still applies).
#[allow(unreachable_pub)]
pub mod v1alpha1;
#[allow(unreachable_pub)]
pub mod v1beta1;

/// API group of every fleet networking object.
pub const GROUP: &str = "networking.fleet.azure.com";

/// ServiceExport annotation holding the cluster's weight (a decimal integer in `[0, 1000]`;
/// absent means 1, 0 means "not exported").
pub const WEIGHT_ANNOTATION: &str = "networking.fleet.azure.com/weight";

/// The API resource (group, version, plural) of an upstream kind, for the
/// sources that watch it and the writers that set its status.
pub fn api_resource(kind: crate::model::ObjectKind) -> kube::core::ApiResource {
    use crate::model::ObjectKind;
    match kind {
        ObjectKind::TrafficManagerProfile => {
            kube::core::ApiResource::erase::<v1beta1::TrafficManagerProfile>(&())
        }
        ObjectKind::TrafficManagerBackend => {
            kube::core::ApiResource::erase::<v1beta1::TrafficManagerBackend>(&())
        }
        ObjectKind::ServiceExport => kube::core::ApiResource::erase::<v1beta1::ServiceExport>(&()),
    }
}

/// The three fleet networking CRDs fleetdns reads, in the order TrafficManagerProfile,
/// TrafficManagerBackend, ServiceExport.
///
/// Each has the versions v1alpha1 (served) and v1beta1 (served, storage), in that order, as
/// upstream lists them. Unlike the single-version `crd()` of each type, these schemas are
/// normalized to controller-gen's shape: explicit `apiVersion`/`kind`/`metadata` properties, and
/// no `nullable`/`null` enum values that schemars adds for `Option` fields.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        multi_version(
            v1alpha1::TrafficManagerProfile::crd(),
            v1beta1::TrafficManagerProfile::crd(),
        ),
        multi_version(
            v1alpha1::TrafficManagerBackend::crd(),
            v1beta1::TrafficManagerBackend::crd(),
        ),
        multi_version(
            v1alpha1::ServiceExport::crd(),
            v1beta1::ServiceExport::crd(),
        ),
    ]
}

/// Merges the two single-version CRDs (v1beta1 stored) and normalizes every version's schema.
fn multi_version(
    alpha: CustomResourceDefinition,
    beta: CustomResourceDefinition,
) -> CustomResourceDefinition {
    let mut crd = merge_crds(vec![alpha, beta], "v1beta1")
        .expect("v1alpha1 and v1beta1 derive the same group, kind and scope");
    crd.spec.names.list_kind = Some(format!("{}List", crd.spec.names.kind));
    crd.spec.versions.sort_by(|a, b| a.name.cmp(&b.name));
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            normalize_schema(schema);
        }
    }
    crd
}

/// Brings a kube-derived root schema to the shape controller-gen writes:
///
/// - adds the `apiVersion`, `kind` (strings) and `metadata` (free-form object) properties, which
///   kube-derive leaves out because the apiserver validates them itself;
/// - drops `nullable: true` and `null` enum values, which schemars adds for every `Option` field
///   but upstream never has (upstream omits absent fields instead; the apiserver prunes a
///   `null` of a non-nullable field either way);
/// - drops `title`, which schemars may set on the root.
fn normalize_schema(schema: &mut JSONSchemaProps) {
    fn strip(schema: &mut JSONSchemaProps) {
        schema.nullable = None;
        schema.title = None;
        if let Some(values) = schema.enum_.as_mut() {
            values.retain(|v| !v.0.is_null());
        }
        if let Some(props) = schema.properties.as_mut() {
            props.values_mut().for_each(strip);
        }
        if let Some(JSONSchemaPropsOrArray::Schema(items)) = schema.items.as_mut() {
            strip(items);
        }
    }
    strip(schema);
    let props = schema.properties.get_or_insert_with(Default::default);
    let string = || JSONSchemaProps {
        type_: Some("string".into()),
        ..Default::default()
    };
    props.entry("apiVersion".into()).or_insert_with(string);
    props.entry("kind".into()).or_insert_with(string);
    props
        .entry("metadata".into())
        .or_insert_with(|| JSONSchemaProps {
            type_: Some("object".into()),
            ..Default::default()
        });
}

/// Schema of a `[]metav1.Condition` field as controller-gen writes it (`listType=map`, key
/// `type`), including the per-field limits that k8s-openapi's types do not carry.
pub(crate) fn conditions_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "description": "Condition contains details for one aspect of the current state of this API Resource.",
            "type": "object",
            "properties": {
                "lastTransitionTime": {
                    "description": "lastTransitionTime is the last time the condition transitioned from one status to another.",
                    "type": "string",
                    "format": "date-time"
                },
                "message": {
                    "description": "message is a human readable message indicating details about the transition.",
                    "type": "string",
                    "maxLength": 32768
                },
                "observedGeneration": {
                    "description": "observedGeneration represents the .metadata.generation that the condition was set based upon.",
                    "type": "integer",
                    "format": "int64",
                    "minimum": 0
                },
                "reason": {
                    "description": "reason contains a programmatic identifier indicating the reason for the condition's last transition.",
                    "type": "string",
                    "maxLength": 1024,
                    "minLength": 1,
                    "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
                },
                "status": {
                    "description": "status of the condition, one of True, False, Unknown.",
                    "type": "string",
                    "enum": ["True", "False", "Unknown"]
                },
                "type": {
                    "description": "type of condition in CamelCase or in foo.example.com/CamelCase.",
                    "type": "string",
                    "maxLength": 316,
                    "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
                }
            },
            "required": ["lastTransitionTime", "message", "reason", "status", "type"]
        },
        "x-kubernetes-list-map-keys": ["type"],
        "x-kubernetes-list-type": "map"
    })
}
