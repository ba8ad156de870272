//! `fleetdns check`: validate a config file and show what would be served; in Kubernetes
//! mode also check the clusters (`check_kube`) unless `--offline`.

use std::io::Write;
use std::process::ExitCode;

use fleetdns_config::{Diagnostics, Fleet, Protocol};
use fleetdns_sources::file;

use crate::check_kube;
use crate::cli::{CheckArgs, Output};

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let result = file::load(&args.config);
    // Kubernetes mode: check the clusters too, unless told not to.
    let kube = match &result {
        Ok((fleet, _)) if !args.offline => match &fleet.kubernetes {
            Some(k) => Some(check_kube::run(k)?),
            None => None,
        },
        _ => None,
    };
    let mut out = std::io::stdout().lock();
    match args.output {
        Output::Json => {
            let mut value = match &result {
                Ok((fleet, diags)) => {
                    serde_json::json!({ "valid": true, "fleet": fleet, "diagnostics": diags })
                }
                Err(diags) => serde_json::json!({ "valid": false, "diagnostics": diags }),
            };
            if let Some((reports, _)) = &kube {
                value["kubernetes"] = check_kube::to_json(reports);
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        }
        Output::Text => match &result {
            Ok((fleet, diags)) => {
                write_fleet(&mut out, fleet)?;
                write_diags(&mut out, diags)?;
                if let Some((reports, _)) = &kube {
                    check_kube::write_text(&mut out, reports)?;
                }
            }
            Err(diags) => {
                write_diags(&mut out, diags)?;
                let n = diags.errors().count();
                writeln!(
                    out,
                    "{}: {n} error(s); nothing would be served",
                    args.config.display()
                )?;
            }
        },
    }
    Ok(match (&result, &kube) {
        (Err(_), _) => ExitCode::from(check_kube::EXIT_INVALID),
        (Ok(_), Some((_, code))) if *code != 0 => ExitCode::from(*code),
        _ => ExitCode::SUCCESS,
    })
}

fn write_diags(out: &mut impl Write, diags: &Diagnostics) -> std::io::Result<()> {
    for d in diags.iter() {
        writeln!(out, "{d}")?;
    }
    Ok(())
}

fn write_fleet(out: &mut impl Write, fleet: &Fleet) -> std::io::Result<()> {
    let z = &fleet.zone;
    writeln!(
        out,
        "zone {}.  serial {}  SOA {}. {}.  negative TTL {}s",
        z.apex,
        z.soa.serial,
        z.soa.mname,
        z.soa.rname,
        z.soa.negative_ttl()
    )?;
    for ns in &z.name_servers {
        let glue: Vec<String> = ns.addresses.iter().map(ToString::to_string).collect();
        writeln!(out, "  NS {}.  {}", ns.name, glue.join(" "))?;
    }
    let listen: Vec<String> = fleet.listen.iter().map(ToString::to_string).collect();
    writeln!(out, "listen {}", listen.join(" "))?;
    for p in &fleet.profiles {
        let m = &p.monitor;
        writeln!(
            out,
            "\nprofile {}/{}  →  {}.  TTL {}s{}  {}",
            p.namespace,
            p.name,
            p.owner,
            p.ttl,
            if p.fail_closed { "  fail-closed" } else { "" },
            p.routing
        )?;
        writeln!(
            out,
            "  monitor {} port {} path {} every {}s timeout {}s tolerated {}{}",
            match m.protocol {
                Protocol::Http => "HTTP",
                Protocol::Https => "HTTPS",
                Protocol::Tcp => "TCP",
            },
            m.port,
            m.path,
            m.interval_seconds,
            m.timeout_seconds,
            m.tolerated_failures,
            if m.expected_status == [(200, 200)] {
                String::new()
            } else {
                let ranges: Vec<String> = m
                    .expected_status
                    .iter()
                    .map(|(lo, hi)| format!("{lo}-{hi}"))
                    .collect();
                format!(" expect {}", ranges.join(","))
            }
        )?;
        let total: u64 = p.endpoints.iter().map(|e| u64::from(e.weight)).sum();
        if p.endpoints.is_empty() {
            writeln!(out, "  (no endpoints: answers are NODATA)")?;
        }
        for e in &p.endpoints {
            let share = if total == 0 {
                0.0
            } else {
                100.0 * f64::from(e.weight) / total as f64
            };
            writeln!(
                out,
                "  endpoint {:<40} cluster {:<12} target {:<24} weight {:>4} (export {}) {:>5.1}%{}{}",
                e.id,
                e.cluster,
                e.target.to_string(),
                e.weight,
                e.export_weight,
                share,
                if e.always_serve { "  always-serve" } else { "" },
                if p.routing == fleetdns_config::RoutingMethod::Priority {
                    format!("  priority {}", e.priority)
                } else {
                    String::new()
                }
            )?;
        }
    }
    Ok(())
}
