//! Reading fleetdns's boolean annotations the same way on every object kind.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::inputs::Object;

/// `"true"` or `"false"` (absent = false); anything else is an error on that
/// annotation and `None`.
pub(super) fn bool_annotation<S>(
    o: &Object<S>,
    key: &str,
    object: &str,
    diags: &mut Diagnostics,
) -> Option<bool> {
    match o.annotation(key) {
        None | Some("false") => Some(false),
        Some("true") => Some(true),
        Some(other) => {
            diags.push(
                Diagnostic::error(
                    o.doc.location_of(&["metadata", "annotations", key]),
                    format!("{other:?} is not allowed; allowed: \"true\" or \"false\""),
                )
                .object(object.to_string())
                .field(format!("metadata.annotations[{key:?}]")),
            );
            None
        }
    }
}
