//! One document's text → its object in [`Inputs`], or diagnostics.
//!
//! The settings document, the three upstream kinds (checked against their CRD
//! schema), and everything else (listed as ignored). A large settings document
//! is decoded in one pass, without a YAML value tree.

use serde_json::Value;

use crate::crd;
use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::document::Doc;
use crate::inputs::{object_label, parse_upstream, Inputs};
use crate::settings::{self, SettingsDocument};
use crate::settings_split;

/// Documents larger than this are first read for `apiVersion` and `kind` alone:
/// a settings document listing 300,000 Services would otherwise be built as a
/// YAML value tree (hundreds of MB) before it is decoded into its typed struct.
pub(crate) const PEEK_FROM_BYTES: usize = 64 * 1024;

/// `apiVersion` and `kind` of a document, nothing else kept.
#[derive(serde::Deserialize)]
struct Head {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: Option<HeadMeta>,
}

#[derive(serde::Deserialize)]
struct HeadMeta {
    name: Option<String>,
    namespace: Option<String>,
}

/// The settings document without the spare capacity its decoding left: the
/// lists grow by doubling and each one-address `loadBalancer` list has room
/// for four, which at 300,000 Services is about half of its size.
pub(crate) fn compact(mut s: SettingsDocument) -> SettingsDocument {
    for c in &mut s.spec.clusters {
        c.services.shrink_to_fit();
        for svc in &mut c.services {
            svc.load_balancer.shrink_to_fit();
        }
    }
    s.spec.clusters.shrink_to_fit();
    s
}

/// Whether a document's text has the settings document's `kind` line.
pub(crate) fn says_settings(text: &str) -> bool {
    text.lines()
        .any(|l| l.strip_prefix("kind:").map(str::trim) == Some(settings::KIND))
}

/// Parses one document into `inputs`; problems go to `diags`. A large
/// settings document is parsed a Service entry at a time where its text allows
/// ([`settings_split`]), else whole.
pub(crate) fn parse_document(doc: Doc, inputs: &mut Inputs, diags: &mut Diagnostics) {
    if doc.span.len() >= PEEK_FROM_BYTES && says_settings(doc.text()) {
        let hasher = std::hash::RandomState::new();
        if let Some((s, _, _)) = settings_split::parse(doc.text(), None, &hasher) {
            inputs.settings.push((doc, compact(s)));
            return;
        }
    }
    parse_whole(doc, inputs, diags);
}

/// [`parse_document`] reading a settings document whole, as one YAML document
/// (and for a broken one, giving serde_yaml's diagnostics).
pub(crate) fn parse_whole(doc: Doc, inputs: &mut Inputs, diags: &mut Diagnostics) {
    if doc.span.len() >= PEEK_FROM_BYTES {
        // Most likely the settings document: decode it in one pass (a peek at
        // its head would read all of it too), and take the slower path below,
        // with its diagnostics, only if that fails.
        if says_settings(doc.text()) {
            if let Ok(s) = serde_yaml::from_str::<SettingsDocument>(doc.text()) {
                if s.api_version == settings::API_VERSION && s.kind == settings::KIND {
                    inputs.settings.push((doc, compact(s)));
                    return;
                }
            }
        }
        if let Ok(head) = serde_yaml::from_str::<Head>(doc.text()) {
            if head.api_version == settings::API_VERSION && head.kind == settings::KIND {
                match serde_yaml::from_str::<SettingsDocument>(doc.text()) {
                    Ok(s) => inputs.settings.push((doc, compact(s))),
                    Err(e) => {
                        let loc = match e.location() {
                            Some(l) => doc.location_at(l.line()),
                            None => doc.location(),
                        };
                        let meta = head.metadata.as_ref();
                        let name = meta.and_then(|m| m.name.as_deref()).unwrap_or("<no name>");
                        let object = match meta.and_then(|m| m.namespace.as_deref()) {
                            Some(ns) => format!("{} {ns}/{name}", settings::KIND),
                            None => format!("{} {name}", settings::KIND),
                        };
                        diags.push(Diagnostic::error(loc, e.to_string()).object(object));
                    }
                }
                return;
            }
        }
    }
    let value: Value = match serde_yaml::from_str(doc.text()) {
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
            match serde_yaml::from_str::<SettingsDocument>(doc.text()) {
                Ok(s) => inputs.settings.push((doc, compact(s))),
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;

    /// A settings document large enough to be split, with `n` Services.
    fn large(n: usize) -> String {
        let mut s = String::from("# leading comment\napiVersion: fleetdns.io/v1alpha1\nkind: FleetDNSConfig\nmetadata: {name: big}\nspec:\n  zone: s.test\n  clusters:\n    - name: a\n      services:\n");
        for i in 0..n {
            s.push_str(&format!(
                "        - {{namespace: n, name: s{i}, loadBalancer: [\"10.0.{}.{}\"]}}\n",
                i / 250,
                i % 250
            ));
        }
        assert!(s.len() >= PEEK_FROM_BYTES);
        s
    }

    fn both(text: &str) -> [(Inputs, Diagnostics); 2] {
        let file: Arc<Path> = Arc::from(Path::new("f.yaml"));
        let parse = |f: fn(Doc, &mut Inputs, &mut Diagnostics)| {
            let mut docs = crate::document::split(&file, &Arc::from(text));
            let (mut inputs, mut diags) = (Inputs::default(), Diagnostics::default());
            f(docs.remove(0), &mut inputs, &mut diags);
            (inputs, diags)
        };
        [parse(parse_document), parse(parse_whole)]
    }

    #[test]
    fn a_split_settings_document_is_its_whole_parse() {
        let [(split, d1), (whole, d2)] = both(&large(3000));
        assert!(d1.0.is_empty() && d2.0.is_empty(), "{d1} {d2}");
        assert_eq!(split.settings.len(), 1);
        assert_eq!(split.settings[0].1, whole.settings[0].1);
        assert_eq!(split.settings[0].1.spec.clusters[0].services.len(), 3000);
    }

    #[test]
    fn a_broken_service_entry_gives_the_whole_parse_diagnostics() {
        let text = large(3000).replace("name: s2500,", "name: s2500, color: red,");
        let line = 1 + text
            .lines()
            .position(|l| l.contains("color"))
            .expect("edited");
        let [(split, d1), (_, d2)] = both(&text);
        assert!(split.settings.is_empty());
        assert_eq!(d1, d2);
        let [d] = d1.0.as_slice() else {
            panic!("one diagnostic: {d1}")
        };
        assert_eq!(d.location.line, Some(line), "{d1}");
        assert!(d.message.contains("color"), "{d1}");
        assert_eq!(d.object.as_deref(), Some("FleetDNSConfig big"), "{d1}");
    }
}
