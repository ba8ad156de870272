//! An upstream object or a Service entry as one record of bytes (compact JSON),
//! for the [`crate::doc_cache::DocCache`] to keep between loads.

use crate::document::Doc;
use std::borrow::Cow;

use crate::inputs::{Meta, Object, KNOWN_API_VERSIONS};

// The `apiVersion`s nearly every object has are encoded as their index.

/// The encoded form: `[api index, api (when not known), name, namespace, uid, annotations, spec]`.
type Encoded<'a, S> = (
    u8,
    Option<&'a str>,
    &'a Option<String>,
    &'a Option<String>,
    &'a Option<String>,
    &'a [(String, String)],
    &'a S,
);

/// [`Encoded`], decoded.
type Decoded<S> = (
    u8,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<(String, String)>,
    S,
);

/// Writes `o` as a record into `out` (cleared first); `false` if it cannot be.
pub(crate) fn encode<S: serde::Serialize>(o: &Object<S>, out: &mut Vec<u8>) -> bool {
    out.clear();
    let known = KNOWN_API_VERSIONS.iter().position(|v| *v == o.api_version);
    let m = &o.metadata;
    let value: Encoded<'_, S> = (
        known.map_or(u8::MAX, |i| i as u8),
        known.is_none().then_some(&*o.api_version),
        &m.name,
        &m.namespace,
        &m.uid,
        &m.annotations,
        &o.spec,
    );
    serde_json::to_writer(&mut *out, &value).is_ok()
}

/// The object of a record written by [`encode`], read from `doc`.
pub(crate) fn decode<S: serde::de::DeserializeOwned>(bytes: &[u8], doc: Doc) -> Option<Object<S>> {
    let (api, other, name, namespace, uid, annotations, spec): Decoded<S> =
        serde_json::from_slice(bytes).ok()?;
    let api_version = match KNOWN_API_VERSIONS.get(usize::from(api)) {
        Some(v) => Cow::Borrowed(*v),
        None => Cow::Owned(other?),
    };
    Some(Object {
        doc,
        api_version,
        metadata: Meta {
            name,
            namespace,
            uid,
            annotations: annotations.into_boxed_slice(),
        },
        spec,
    })
}
