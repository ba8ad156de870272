//! The resource types the fake serves: the upstream fleet networking CRDs (loaded from their
//! YAML, so validation uses upstream's schemas) and a few built-in types (Service, Namespace,
//! ConfigMap, Event, Deployment, Lease) stored without schema validation.
//!
//! A type knows its group, versions (served / storage, with the schema of each CRD version),
//! plural, kind, scope and the strategy switches that differ between real resources: a status
//! subresource, whether `metadata.generation` is kept, whether an update without
//! `resourceVersion` is allowed (not for Lease).

use std::path::{Path, PathBuf};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use serde_json::{json, Value};

use crate::error::Error;
use crate::status::Qualified;

/// One served (or stored) version of a type.
#[derive(Clone, Debug)]
pub struct Version {
    /// `v1beta1`, `v1`…
    pub name: String,
    /// Whether requests may use it.
    pub served: bool,
    /// The CRD version's `openAPIV3Schema` (None for built-in types: not validated).
    pub schema: Option<JSONSchemaProps>,
    /// The CRD version's `additionalPrinterColumns` (empty for built-in types).
    pub printer_columns: Vec<PrinterColumn>,
}

/// One `additionalPrinterColumns` entry: a column of `kubectl get`.
#[derive(Clone, Debug)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// OpenAPI format hint (`name` for the Name column).
    pub format: String,
    /// Description.
    pub description: String,
    /// 0: always shown; more: only with `-o wide`.
    pub priority: i32,
    /// The JSONPath, e.g. `.status.conditions[?(@.type=='Programmed')].status`.
    pub json_path: String,
}

/// A resource type and the strategy the apiserver applies to it.
#[derive(Clone, Debug)]
pub struct ResourceType {
    /// API group, "" for core.
    pub group: String,
    /// Lower-case plural, the URL segment.
    pub plural: String,
    /// Lower-case singular.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Short names for discovery.
    pub short_names: Vec<String>,
    /// Categories for discovery.
    pub categories: Vec<String>,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Versions in discovery order (the preferred one first).
    pub versions: Vec<Version>,
    /// The version objects are stored in (all versions here have the same fields, so
    /// conversion is relabelling `apiVersion`).
    pub storage_version: String,
    /// Has a `status` subresource: writes to the main resource keep the old status, writes to
    /// `/status` change only the status; create drops the status.
    pub status_subresource: bool,
    /// Keeps `metadata.generation` (bumped on changes outside metadata and status).
    pub tracks_generation: bool,
    /// PUT without `metadata.resourceVersion` is allowed (false for Lease, as upstream).
    pub allow_unconditional_update: bool,
    /// A custom resource (strategic merge patch unsupported, status dropped on create).
    pub custom: bool,
}

impl ResourceType {
    /// The qualified name for messages.
    pub fn qualified(&self) -> Qualified<'_> {
        Qualified {
            group: &self.group,
            plural: &self.plural,
        }
    }

    /// `group/version`, or `version` for core.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// The served version called `name`.
    pub fn version(&self, name: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.name == name && v.served)
    }

    /// Schema of a version, if validated.
    pub fn schema(&self, version: &str) -> Option<&JSONSchemaProps> {
        self.version(version).and_then(|v| v.schema.as_ref())
    }

    /// The schema used for merging lists on apply (storage version's).
    pub fn storage_schema(&self) -> Option<&JSONSchemaProps> {
        self.versions
            .iter()
            .find(|v| v.name == self.storage_version)
            .and_then(|v| v.schema.as_ref())
    }
}

/// All types of one fake cluster.
#[derive(Clone, Debug)]
pub struct Registry {
    /// The types; index = resource id used by the store.
    pub types: Vec<ResourceType>,
}

/// The upstream CRD YAML compiled into the library (from `../shared/specs/fleet-networking-crds`
/// at build time, and Fleet's MemberCluster from `tests/kubefake/crds`), so that the `kubefake` binary works wherever it is copied.
pub const EMBEDDED_CRDS: &[(&str, &str)] = &[
    (
        "internalserviceexports.yaml",
        include_str!("../../../../shared/specs/fleet-networking-crds/internalserviceexports.yaml"),
    ),
    (
        "multiclusterservices.yaml",
        include_str!("../../../../shared/specs/fleet-networking-crds/multiclusterservices.yaml"),
    ),
    (
        // Fleet's own MemberCluster (not a fleet-networking CRD; see the file's header).
        "memberclusters.yaml",
        include_str!("../crds/memberclusters.yaml"),
    ),
    (
        "serviceexports.yaml",
        include_str!("../../../../shared/specs/fleet-networking-crds/serviceexports.yaml"),
    ),
    (
        "serviceimports.yaml",
        include_str!("../../../../shared/specs/fleet-networking-crds/serviceimports.yaml"),
    ),
    (
        "trafficmanagerbackends.yaml",
        include_str!("../../../../shared/specs/fleet-networking-crds/trafficmanagerbackends.yaml"),
    ),
    (
        "trafficmanagerprofiles.yaml",
        include_str!("../../../../shared/specs/fleet-networking-crds/trafficmanagerprofiles.yaml"),
    ),
];

/// Where CRDs come from by default: `$FLEETDNS_CRD_DIR` if set, else None (the embedded copy).
pub fn default_crd_dir() -> Option<PathBuf> {
    std::env::var_os("FLEETDNS_CRD_DIR").map(PathBuf::from)
}

impl Registry {
    /// Built-in types plus the CRDs of `crd_dir` (every `*.yaml`), or the embedded ones.
    pub fn from_options(crd_dir: Option<&Path>) -> Result<Registry, Error> {
        match crd_dir {
            Some(dir) => Self::load(dir),
            None => Self::embedded(),
        }
    }

    /// Built-in types plus the embedded upstream CRDs ([`EMBEDDED_CRDS`]).
    pub fn embedded() -> Result<Registry, Error> {
        let mut types = builtins();
        for (file, text) in EMBEDDED_CRDS {
            let crd: CustomResourceDefinition = serde_yaml::from_str(text)
                .map_err(|e| Error::Crd(format!("parsing embedded {file}: {e}")))?;
            types.push(from_crd(&crd));
        }
        Ok(Registry { types })
    }

    /// Drops the types whose plural (or `plural.group`) is listed: a cluster where those
    /// CRDs are not installed.
    pub fn without(mut self, omitted: &[String]) -> Registry {
        self.types.retain(|t| {
            let qualified = format!("{}.{}", t.plural, t.group);
            !omitted.iter().any(|o| *o == t.plural || *o == qualified)
        });
        self
    }

    /// Built-in types plus every CRD (`*.yaml`) in `crd_dir`.
    pub fn load(crd_dir: &Path) -> Result<Registry, Error> {
        let mut types = builtins();
        let mut files: Vec<PathBuf> = std::fs::read_dir(crd_dir)
            .map_err(|e| Error::Crd(format!("reading {}: {e}", crd_dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::Crd(format!("no CRD YAML in {}", crd_dir.display())));
        }
        for file in files {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::Crd(format!("reading {}: {e}", file.display())))?;
            let crd: CustomResourceDefinition = serde_yaml::from_str(&text)
                .map_err(|e| Error::Crd(format!("parsing {}: {e}", file.display())))?;
            types.push(from_crd(&crd));
        }
        Ok(Registry { types })
    }

    /// The type served at `group`/`version` with this plural.
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<usize> {
        self.types
            .iter()
            .position(|t| t.group == group && t.plural == plural && t.version(version).is_some())
    }

    /// The type of an object's `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<(usize, String)> {
        let (group, version) = split_api_version(api_version);
        self.types
            .iter()
            .position(|t| t.group == group && t.kind == kind && t.version(version).is_some())
            .map(|i| (i, version.to_string()))
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

fn from_crd(crd: &CustomResourceDefinition) -> ResourceType {
    let names = &crd.spec.names;
    let mut versions: Vec<Version> = crd
        .spec
        .versions
        .iter()
        .map(|v| Version {
            name: v.name.clone(),
            served: v.served,
            schema: v.schema.as_ref().and_then(|s| s.open_api_v3_schema.clone()),
            printer_columns: v
                .additional_printer_columns
                .iter()
                .flatten()
                .map(|c| PrinterColumn {
                    name: c.name.clone(),
                    type_: c.type_.clone(),
                    format: c.format.clone().unwrap_or_default(),
                    description: c.description.clone().unwrap_or_default(),
                    priority: c.priority.unwrap_or(0),
                    json_path: c.json_path.clone(),
                })
                .collect(),
        })
        .collect();
    let storage = crd
        .spec
        .versions
        .iter()
        .find(|v| v.storage)
        .map(|v| v.name.clone())
        .unwrap_or_else(|| versions[0].name.clone());
    // Discovery lists the storage version first (our CRDs: v1beta1 preferred).
    versions.sort_by_key(|v| v.name != storage);
    let status_subresource = crd
        .spec
        .versions
        .iter()
        .any(|v| v.subresources.as_ref().is_some_and(|s| s.status.is_some()));
    ResourceType {
        group: crd.spec.group.clone(),
        plural: names.plural.clone(),
        singular: names
            .singular
            .clone()
            .unwrap_or_else(|| names.kind.to_lowercase()),
        kind: names.kind.clone(),
        short_names: names.short_names.clone().unwrap_or_default(),
        categories: names.categories.clone().unwrap_or_default(),
        namespaced: crd.spec.scope == "Namespaced",
        versions,
        storage_version: storage,
        status_subresource,
        tracks_generation: true,
        allow_unconditional_update: true,
        custom: true,
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    short: &'static [&'static str],
    namespaced: bool,
    status: bool,
    generation: bool,
    unconditional: bool,
}

fn builtins() -> Vec<ResourceType> {
    let list = [
        Builtin {
            group: "",
            version: "v1",
            plural: "namespaces",
            kind: "Namespace",
            short: &["ns"],
            namespaced: false,
            status: true,
            generation: false,
            unconditional: true,
        },
        Builtin {
            group: "",
            version: "v1",
            plural: "services",
            kind: "Service",
            short: &["svc"],
            namespaced: true,
            status: true,
            generation: false,
            unconditional: true,
        },
        Builtin {
            group: "",
            version: "v1",
            plural: "configmaps",
            kind: "ConfigMap",
            short: &["cm"],
            namespaced: true,
            status: false,
            generation: false,
            unconditional: true,
        },
        Builtin {
            group: "",
            version: "v1",
            plural: "events",
            kind: "Event",
            short: &["ev"],
            namespaced: true,
            status: false,
            generation: false,
            unconditional: true,
        },
        Builtin {
            group: "apps",
            version: "v1",
            plural: "deployments",
            kind: "Deployment",
            short: &["deploy"],
            namespaced: true,
            status: true,
            generation: true,
            unconditional: true,
        },
        Builtin {
            group: "coordination.k8s.io",
            version: "v1",
            plural: "leases",
            kind: "Lease",
            short: &[],
            namespaced: true,
            status: false,
            generation: false,
            unconditional: false,
        },
        Builtin {
            group: "events.k8s.io",
            version: "v1",
            plural: "events",
            kind: "Event",
            short: &["ev"],
            namespaced: true,
            status: false,
            generation: false,
            unconditional: true,
        },
    ];
    list.iter()
        .map(|b| ResourceType {
            group: b.group.into(),
            plural: b.plural.into(),
            singular: b.kind.to_lowercase(),
            kind: b.kind.into(),
            short_names: b.short.iter().map(|s| s.to_string()).collect(),
            categories: Vec::new(),
            namespaced: b.namespaced,
            versions: vec![Version {
                name: b.version.into(),
                served: true,
                schema: None,
                printer_columns: Vec::new(),
            }],
            storage_version: b.version.into(),
            status_subresource: b.status,
            tracks_generation: b.generation,
            allow_unconditional_update: b.unconditional,
            custom: false,
        })
        .collect()
}

/// The `APIResource` entries of one group version (for `/api/v1`, `/apis/<g>/<v>`).
pub fn api_resources(types: &[&ResourceType]) -> Vec<Value> {
    let mut out = Vec::new();
    for t in types {
        out.push(json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "shortNames": t.short_names,
            "categories": t.categories,
        }));
        if t.status_subresource {
            out.push(json!({
                "name": format!("{}/status", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    out
}
