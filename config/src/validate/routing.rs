//! The routing-method annotations: `fleetdns.io/routing-method` and
//! `fleetdns.io/max-return` on a TrafficManagerProfile, `fleetdns.io/priority`
//! on a TrafficManagerBackend (see [`crate::routing`]).

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::inputs::Object;
use crate::routing::{
    RoutingMethod, DEFAULT_MAX_RETURN, DEFAULT_PRIORITY, MAX_MAX_RETURN, MAX_PRIORITY,
    MAX_RETURN_ANNOTATION, PRIORITY_ANNOTATION, ROUTING_METHODS, ROUTING_METHOD_ANNOTATION,
};

fn bad<S>(o: &Object<S>, key: &str, object: &str, message: String) -> Diagnostic {
    Diagnostic::error(
        o.doc.location_of(&["metadata", "annotations", key]),
        message,
    )
    .object(object.to_string())
    .field(format!("metadata.annotations[{key:?}]"))
}

/// The profile's routing method; `None` (with an error) when an annotation is invalid.
pub(super) fn routing_method<S>(
    p: &Object<S>,
    object: &str,
    diags: &mut Diagnostics,
) -> Option<RoutingMethod> {
    let method = p.annotation(ROUTING_METHOD_ANNOTATION);
    let max_return = p.annotation(MAX_RETURN_ANNOTATION);
    match method {
        None | Some("Weighted") | Some("Priority") | Some("MultiValue") => {}
        Some(other) => {
            let allowed: Vec<String> = ROUTING_METHODS.iter().map(|m| format!("{m:?}")).collect();
            diags.push(bad(
                p,
                ROUTING_METHOD_ANNOTATION,
                object,
                format!(
                    "{other:?} is not allowed; allowed: {} (default Weighted; the spelling is Traffic Manager's)",
                    allowed.join(", ")
                ),
            ));
            return None;
        }
    }
    if method != Some("MultiValue") {
        if let Some(raw) = max_return {
            diags.push(
                bad(
                    p,
                    MAX_RETURN_ANNOTATION,
                    object,
                    format!(
                        "{raw:?} is ignored: {MAX_RETURN_ANNOTATION} applies to {ROUTING_METHOD_ANNOTATION}: \"MultiValue\" only"
                    ),
                )
                .severity(Severity::Warning),
            );
        }
        return Some(match method {
            Some("Priority") => RoutingMethod::Priority,
            _ => RoutingMethod::Weighted,
        });
    }
    let max_return = match max_return {
        None => DEFAULT_MAX_RETURN,
        Some(raw) => match raw.parse::<u8>() {
            Ok(n) if (1..=MAX_MAX_RETURN).contains(&n) => n,
            _ => {
                diags.push(bad(
                    p,
                    MAX_RETURN_ANNOTATION,
                    object,
                    format!(
                        "{raw:?} is not allowed; allowed: an integer from 1 to {MAX_MAX_RETURN} (endpoints per MultiValue answer, default {DEFAULT_MAX_RETURN})"
                    ),
                ));
                return None;
            }
        },
    };
    Some(RoutingMethod::MultiValue { max_return })
}

/// The backend's priority (`DEFAULT_PRIORITY` when absent); `None` (with an
/// error) when the annotation is invalid. `routing` is its profile's method:
/// elsewhere the annotation is accepted but has no effect, which a note says.
pub(super) fn priority<S>(
    b: &Object<S>,
    object: &str,
    routing: RoutingMethod,
    diags: &mut Diagnostics,
) -> Option<u32> {
    let Some(raw) = b.annotation(PRIORITY_ANNOTATION) else {
        return Some(DEFAULT_PRIORITY);
    };
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_PRIORITY).contains(&n) => {
            if routing != RoutingMethod::Priority {
                diags.push(
                    bad(
                        b,
                        PRIORITY_ANNOTATION,
                        object,
                        format!(
                            "has no effect: its profile's routing method is {}, not Priority ({ROUTING_METHOD_ANNOTATION})",
                            routing.name()
                        ),
                    )
                    .severity(Severity::Note),
                );
            }
            Some(n)
        }
        _ => {
            diags.push(bad(
                b,
                PRIORITY_ANNOTATION,
                object,
                format!(
                    "{raw:?} is not allowed; allowed: an integer from 1 to {MAX_PRIORITY}, lower answered first (absent: {DEFAULT_PRIORITY})"
                ),
            ));
            None
        }
    }
}
