//! Request bodies in `application/vnd.kubernetes.protobuf`, decoded to JSON.
//!
//! kubectl's typed clients (`kubectl create namespace`, `create configmap`) send protobuf
//! bodies (`Content-Type: application/vnd.kubernetes.protobuf`, seen with `-v=8`) while
//! accepting JSON answers. A real apiserver decodes protobuf for every built-in type, and
//! client-go does not fall back to JSON on a 415 for protobuf (only for CBOR), so answering
//! 415 would break those commands. The fake decodes the envelope (the `k8s\0` magic and a
//! `runtime.Unknown` with the type and the raw object) and the objects kubectl creates that
//! way here: Namespace and ConfigMap, with their `ObjectMeta`, and the
//! `SelfSubjectAccessReview` of `kubectl auth can-i`. Other built-in kinds get a 415
//! naming what is supported (a documented simplification); custom resources get the 415 a
//! real server gives, since CRDs have no protobuf encoding.

use serde_json::{json, Map, Value};

use crate::status::ApiError;

/// The protobuf media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Whether a `Content-Type` is protobuf.
pub fn is_protobuf(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| c.split(';').next().unwrap_or("").trim() == MEDIA_TYPE)
}

/// The 415 a real apiserver gives a protobuf body for a type without a protobuf encoding.
pub fn unsupported() -> ApiError {
    ApiError::new(
        415,
        "UnsupportedMediaType",
        format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {MEDIA_TYPE})"),
    )
}

/// Decodes a protobuf request body into the JSON object it encodes.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let bad = |why: &str| ApiError::bad_request(format!("error decoding protobuf: {why}"));
    let unknown = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| bad("missing the k8s magic prefix"))?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (num, field) in fields(unknown).map_err(bad)? {
        match (num, field) {
            (1, Field::Bytes(tm)) => {
                for (n, f) in fields(tm).map_err(bad)? {
                    match (n, f) {
                        (1, Field::Bytes(b)) => api_version = string(b),
                        (2, Field::Bytes(b)) => kind = string(b),
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), json!(api_version));
    obj.insert("kind".into(), json!(kind));
    for (num, field) in fields(raw).map_err(bad)? {
        let Field::Bytes(b) = field else { continue };
        match (api_version.as_str(), kind.as_str(), num) {
            (_, _, 1) => {
                obj.insert("metadata".into(), object_meta(b).map_err(bad)?);
            }
            ("v1", "Namespace", 2) => {
                let finalizers = strings(b, 1).map_err(bad)?;
                if !finalizers.is_empty() {
                    obj.insert("spec".into(), json!({ "finalizers": finalizers }));
                }
            }
            ("v1", "Namespace", 3) => {}
            ("authorization.k8s.io/v1", "SelfSubjectAccessReview", 2) => {
                obj.insert("spec".into(), review_spec(b).map_err(bad)?);
            }
            ("v1", "ConfigMap", 2) => insert_entry(&mut obj, "data", b, false).map_err(bad)?,
            ("v1", "ConfigMap", 3) => insert_entry(&mut obj, "binaryData", b, true).map_err(bad)?,
            _ => {}
        }
    }
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace")
        | ("v1", "ConfigMap")
        | ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => Ok(Value::Object(obj)),
        _ => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("kubefake decodes protobuf bodies only for v1 Namespace and ConfigMap and SelfSubjectAccessReview, not {api_version} {kind}; send application/json"),
        )),
    }
}

/// A decoded field: numbers (none of the fields read here) skipped, the rest as bytes.
enum Field<'a> {
    Scalar,
    Bytes(&'a [u8]),
}

fn varint(b: &[u8], i: &mut usize) -> Result<u64, &'static str> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i).ok_or("truncated varint")?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint too long")
}

fn fields(b: &[u8]) -> Result<Vec<(u64, Field<'_>)>, &'static str> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let key = varint(b, &mut i)?;
        let field = match key & 7 {
            0 => {
                varint(b, &mut i)?;
                Field::Scalar
            }
            1 | 5 => {
                i += if key & 7 == 1 { 8 } else { 4 };
                if i > b.len() {
                    return Err("truncated fixed field");
                }
                Field::Scalar
            }
            2 => {
                let n = usize::try_from(varint(b, &mut i)?).map_err(|_| "length too large")?;
                let bytes = b.get(i..i + n).ok_or("truncated length-delimited field")?;
                i += n;
                Field::Bytes(bytes)
            }
            _ => return Err("unsupported wire type"),
        };
        out.push((key >> 3, field));
    }
    Ok(out)
}

fn string(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The repeated string field `num` of message `b`.
fn strings(b: &[u8], num: u64) -> Result<Vec<String>, &'static str> {
    Ok(fields(b)?
        .into_iter()
        .filter_map(|(n, f)| match f {
            Field::Bytes(s) if n == num => Some(string(s)),
            _ => None,
        })
        .collect())
}

/// Adds one `map<string,string>` (or bytes, base64 as JSON has it) entry to `obj[key]`.
fn insert_entry(
    obj: &mut Map<String, Value>,
    key: &str,
    entry: &[u8],
    binary: bool,
) -> Result<(), &'static str> {
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    for (n, f) in fields(entry)? {
        if let Field::Bytes(b) = f {
            match n {
                1 => k = string(b),
                2 if binary => v = json!(base64(b)),
                2 => v = json!(string(b)),
                _ => {}
            }
        }
    }
    let map = obj.entry(key).or_insert_with(|| json!({}));
    if let Some(m) = map.as_object_mut() {
        m.insert(k, v);
    }
    Ok(())
}

fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |a, (i, x)| a | u32::from(*x) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `SelfSubjectAccessReviewSpec` (`kubectl auth can-i`): its `resourceAttributes`.
fn review_spec(b: &[u8]) -> Result<Value, &'static str> {
    const NAMES: [&str; 7] = [
        "namespace",
        "verb",
        "group",
        "version",
        "resource",
        "subresource",
        "name",
    ];
    let mut spec = Map::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(attrs)) => {
                let mut m = Map::new();
                for (k, v) in fields(attrs)? {
                    if let (1..=7, Field::Bytes(v)) = (k, v) {
                        if !v.is_empty() {
                            m.insert(NAMES[(k - 1) as usize].into(), json!(string(v)));
                        }
                    }
                }
                spec.insert("resourceAttributes".into(), Value::Object(m));
            }
            (2, Field::Bytes(_)) => {
                spec.insert("nonResourceAttributes".into(), json!({}));
            }
            _ => {}
        }
    }
    Ok(Value::Object(spec))
}

/// `ObjectMeta` fields a create carries: name, generateName, namespace, labels,
/// annotations, finalizers (server-set fields are ignored, as the apiserver resets them).
fn object_meta(b: &[u8]) -> Result<Value, &'static str> {
    let mut m = Map::new();
    for (n, f) in fields(b)? {
        let Field::Bytes(v) = f else { continue };
        let text = string(v);
        match n {
            1..=3 if !text.is_empty() => {
                let key = ["name", "generateName", "namespace"][(n - 1) as usize];
                m.insert(key.into(), json!(text));
            }
            11 => insert_entry(&mut m, "labels", v, false)?,
            12 => insert_entry(&mut m, "annotations", v, false)?,
            14 => {
                let list = m.entry("finalizers").or_insert_with(|| json!([]));
                if let Some(a) = list.as_array_mut() {
                    a.push(json!(text));
                }
            }
            _ => {}
        }
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body `kubectl create ns demo` (1.37) sends, as `-v=8` printed it.
    const CREATE_NS: &[u8] = &[
        0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, 0x4e, 0x61, 0x6d,
        0x65, 0x73, 0x70, 0x61, 0x63, 0x65, 0x12, 0x1c, 0x0a, 0x14, 0x0a, 0x04, 0x64, 0x65, 0x6d,
        0x6f, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00,
        0x12, 0x00, 0x1a, 0x02, 0x0a, 0x00, 0x1a, 0x00, 0x22, 0x00,
    ];

    #[test]
    fn kubectl_create_namespace_body() {
        assert_eq!(
            decode(CREATE_NS).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
        );
    }

    #[test]
    fn garbage_is_a_bad_request_and_other_kinds_unsupported() {
        assert_eq!(decode(b"{\"kind\":1}").unwrap_err().code, 400);
        assert_eq!(decode(&CREATE_NS[..20]).unwrap_err().code, 400);
        let mut svc = CREATE_NS.to_vec();
        svc[12..21].copy_from_slice(b"Namespacf");
        assert_eq!(decode(&svc).unwrap_err().code, 415);
        assert_eq!(base64(b"hi!"), "aGkh");
        assert_eq!(base64(b"h"), "aA==");
    }
}
