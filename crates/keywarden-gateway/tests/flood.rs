//! Flood control on loopback: a client sending thousands of requests meets 429s with
//! `Retry-After`; a flood of distinct addresses (forwarded by a trusted loopback proxy) meets
//! 429s in the shared overflow bucket with memory bounded by `max_tracked`; a legitimate client
//! keeps passing throughout. The clock is frozen, so buckets never refill: deterministic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod support;

use support::*;

#[test]
fn a_flood_of_distinct_addresses_is_bounded_and_legitimate_traffic_passes() {
    let k = keys();
    let log = k.dir.path().join("d.jsonl");
    let gw = start(
        &k.policy,
        "[flood]\nmax_tracked = 256",
        Some(keywarden_gateway::LogTarget::File(log.clone())),
    );
    let legit = format!("Bearer {}", k.valid("legit"));
    let mut legit_conn = KeepAlive::connect(gw.addr);
    let legit_req = |c: &mut KeepAlive| {
        c.request(
            "/",
            &[
                ("Authorization", legit.as_str()),
                ("X-Forwarded-For", "192.0.2.10"),
            ],
        )
    };
    assert_eq!(legit_req(&mut legit_conn).status, 200);

    // One client hammering alone meets its own bucket after its burst.
    let mut one = KeepAlive::connect(gw.addr);
    let statuses: Vec<u16> = (0..300)
        .map(|_| {
            one.request("/", &[("X-Forwarded-For", "192.0.2.99")])
                .status
        })
        .collect();
    assert!(statuses[..100].iter().all(|s| *s == 401));
    assert!(statuses[100..].iter().all(|s| *s == 429));

    const FLOOD: u32 = 3000;
    let mut flood = KeepAlive::connect(gw.addr);
    let (mut limited, mut other) = (0, 0);
    for i in 0..FLOOD {
        // Distinct addresses in distinct /24s: 10.x.y.1
        let ip = format!("10.{}.{}.1", (i >> 8) & 0xff, i & 0xff);
        let r = flood.request("/", &[("X-Forwarded-For", &ip)]);
        match r.status {
            429 => {
                limited += 1;
                assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
            }
            401 => other += 1,
            s => panic!("unexpected {s}"),
        }
        if i % 100 == 0 {
            assert_eq!(legit_req(&mut legit_conn).status, 200, "legit at {i}");
        }
    }
    // 255 addresses get buckets of their own, the overflow bucket admits its burst (400).
    assert!(
        limited >= FLOOD as usize - 256 - 400,
        "{limited} limited, {other} not"
    );
    let s = gw.gateway.flood_stats();
    assert!(
        s.tracked_clients <= 256 && s.tracked_networks <= 256,
        "{s:?}"
    );
    assert!(s.overflow_uses > 0);

    let m = http(gw.addr, "GET", "/.keywarden/metrics", &[]);
    assert!(
        m.body.contains(
            "keywarden_gateway_decisions_total{status=\"429\",reason=\"rate-limited-client\"}"
        ),
        "{}",
        m.body
    );
    assert!(m.body.contains("keywarden_gateway_flood_tracked_clients "));
    // 429s are logged too.
    let total = 1 + FLOOD as usize + (FLOOD as usize / 100) + 300;
    let lines = log_lines(&log, total);
    assert_eq!(lines.len(), total);
    assert!(
        lines
            .iter()
            .any(|l| l["status"] == 429 && l["reason"] == "rate-limited-client")
    );
}
