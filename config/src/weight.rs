//! fleet-networking's endpoint weight formula (fleet-atm-spec.md §2.4).
//!
//! A TrafficManagerBackend with weight `W` spreads it over the clusters that export
//! its service, in proportion to their export weights `w_i`:
//! `ceil(W × w_i / Σ w)`. Sums may exceed `W` because of the ceiling; that is what
//! fleet-networking programs into Traffic Manager, so it is what we serve.

/// Export weight when the `networking.fleet.azure.com/weight` annotation is absent.
pub const DEFAULT_EXPORT_WEIGHT: u32 = 1;
/// Backend weight when `spec.weight` is absent.
pub const DEFAULT_BACKEND_WEIGHT: u32 = 1;
/// Largest backend or export weight (both CRD and annotation limit).
pub const MAX_WEIGHT: u32 = 1000;

/// Effective weight of one endpoint: `ceil(backend × export / total_export)`.
///
/// `total_export` is the sum of the export weights of all valid exports of the
/// backend's service (weight-0 exports are not exports). Returns 0 when the backend
/// weight or the total is 0. For `backend, export ≤ 1000` the integer ceiling equals
/// fleet-networking's `math.Ceil(float64(W*w)/float64(total))`.
pub fn endpoint_weight(backend: u32, export: u32, total_export: u64) -> u32 {
    if backend == 0 || export == 0 || total_export == 0 {
        return 0;
    }
    let product = u64::from(backend) * u64::from(export);
    let w = product.div_ceil(total_export);
    u32::try_from(w).unwrap_or(u32::MAX)
}

/// Parses the export weight annotation the way fleet-networking does: absent → 1,
/// otherwise an integer in 0..=1000 (0 = not exported).
pub fn parse_export_weight(annotation: Option<&str>) -> Result<u32, String> {
    let Some(raw) = annotation else {
        return Ok(DEFAULT_EXPORT_WEIGHT);
    };
    match raw.parse::<i64>() {
        Ok(w) if (0..=i64::from(MAX_WEIGHT)).contains(&w) => Ok(w as u32),
        Ok(w) => Err(format!(
            "{w} is out of range; allowed: an integer from 0 to {MAX_WEIGHT} (0 = not exported)"
        )),
        Err(_) => Err(format!(
            "{raw:?} is not an integer; allowed: an integer from 0 to {MAX_WEIGHT} (0 = not exported)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(backend: u32, exports: &[u32]) -> Vec<u32> {
        let total: u64 = exports.iter().map(|&w| u64::from(w)).sum();
        exports
            .iter()
            .map(|&w| endpoint_weight(backend, w, total))
            .collect()
    }

    // The worked examples of fleet-atm-spec.md §2.4 (fleet-networking docs and tests).
    #[test]
    fn fleet_worked_examples() {
        assert_eq!(weights(500, &[100, 200]), vec![167, 334]);
        assert_eq!(weights(10, &[2, 1]), vec![7, 4]);
        assert_eq!(weights(10, &[1, 1]), vec![5, 5]);
        assert_eq!(weights(10, &[1]), vec![10]);
        assert_eq!(weights(1, &[1, 1]), vec![1, 1]);
    }

    #[test]
    fn zero_backend_weight_means_no_endpoints() {
        assert_eq!(weights(0, &[5, 7]), vec![0, 0]);
    }

    #[test]
    fn integer_ceiling_matches_fleets_float_formula_everywhere() {
        // Exhaustive over a grid that covers the whole allowed range coarsely and
        // the small values exactly.
        let mut checked = 0u32;
        for w_backend in (1..=1000).step_by(7).chain(1..=20) {
            for w in (1..=1000).step_by(13).chain(1..=20) {
                for other in [0u64, 1, 2, 3, 999, 1000, 12_345] {
                    let total = u64::from(w) + other;
                    let float = (f64::from(w_backend * w) / total as f64).ceil() as u32;
                    assert_eq!(endpoint_weight(w_backend, w, total), float);
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn result_is_within_one_and_backend_weight() {
        for w_backend in 1..=50 {
            for w in 1..=50 {
                for total in u64::from(w)..u64::from(w) + 60 {
                    let e = endpoint_weight(w_backend, w, total);
                    assert!(
                        (1..=w_backend).contains(&e),
                        "{w_backend} {w} {total} -> {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn annotation_parsing() {
        assert_eq!(parse_export_weight(None), Ok(1));
        assert_eq!(parse_export_weight(Some("0")), Ok(0));
        assert_eq!(parse_export_weight(Some("1000")), Ok(1000));
        let e = parse_export_weight(Some("abc")).unwrap_err();
        assert!(
            e.contains("not an integer") && e.contains("0 to 1000"),
            "{e}"
        );
        let e = parse_export_weight(Some("-1")).unwrap_err();
        assert!(e.contains("out of range") && e.contains("0 to 1000"), "{e}");
        let e = parse_export_weight(Some("1001")).unwrap_err();
        assert!(e.contains("out of range"), "{e}");
    }
}
