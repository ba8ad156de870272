//! Tests of `Pick`: records read back, draws by weight, uniform draws, layouts.

use super::*;
use hickory_proto::rr::rdata::{A, CNAME};

#[test]
fn records_read_back_with_their_endpoints_and_weights() {
    let owner = Name::from_ascii("p.tm.test.").unwrap();
    let a = Record::from_rdata(owner.clone(), 60, RData::A(A::new(192, 0, 2, 1)));
    let host = Name::from_ascii("svc.example.").unwrap();
    let c = Record::from_rdata(owner.clone(), 30, RData::CNAME(CNAME(host)));
    let p = Pick::new(vec![(a.clone(), 5, 7), (c.clone(), 0, 9)], 1);
    assert_eq!(p.len(), 2);
    assert_eq!(
        (p.endpoints(), p.weights(), p.total()),
        (&[7, 9][..], &[5, 0][..], 5)
    );
    assert_eq!(p.record(0, &owner), a);
    assert_eq!(p.record(1, &owner), c);
    assert_eq!(p.wire(1), &*wire::record(&c, true).unwrap());
    assert_eq!(p.record_type(1), RecordType::CNAME);
    for _ in 0..100 {
        assert_eq!(p.pick_index(), Some(0), "a zero weight is never drawn");
    }
    let one = Pick::new(vec![(a.clone(), 3, 1)], 1);
    assert_eq!(one.pick_index(), Some(0));
    // Groups: each range draws among its own records only.
    let (g, ranges) = Pick::grouped(vec![
        vec![(c.clone(), 1, 1)],
        vec![(a.clone(), 0, 2), (c.clone(), 2, 3), (a.clone(), 2, 4)],
        vec![],
    ]);
    assert_eq!(
        ranges.iter().map(|r| (r.start, r.len)).collect::<Vec<_>>(),
        [(0, 1), (1, 3), (4, 0)]
    );
    assert_eq!((g.total_of(ranges[1]), g.total_of(ranges[2])), (4, 0));
    assert_eq!(g.pick_in(ranges[0], 1), Some(0));
    assert_eq!(g.pick_in(ranges[2], 0), None);
    let mut seen = [0; 5];
    for _ in 0..1000 {
        seen[g.pick_in(ranges[1], 4).unwrap()] += 1;
    }
    assert_eq!(
        (seen[0], seen[1]),
        (0, 0),
        "only its own, never a zero weight"
    );
    assert!(seen[2] > 350 && seen[3] > 350, "{seen:?}");
    assert_eq!(Pick::new(vec![(a, 0, 1)], 1).pick_index(), None);
    assert_eq!(Pick::new(Vec::new(), 1).pick_index(), None);
}

#[test]
fn equal_weights_draw_uniformly_without_an_alias_table() {
    let owner = Name::from_ascii("p.tm.test.").unwrap();
    let a = |d| Record::from_rdata(owner.clone(), 60, RData::A(A::new(192, 0, 2, d)));
    // A CNAME of odd length: the records after it still read back whole.
    let host = Name::from_ascii("abc.example.").unwrap();
    let c = Record::from_rdata(owner.clone(), 30, RData::CNAME(CNAME(host)));
    let p = Pick::new(vec![(a(1), 4, 10), (c.clone(), 4, 11), (a(3), 4, 12)], 1);
    assert!(!p.sampled, "equal weights need no alias table");
    assert_eq!(p.total(), 12);
    assert_eq!(
        (
            p.record(0, &owner),
            p.record(1, &owner),
            p.record(2, &owner)
        ),
        (a(1), c.clone(), a(3))
    );
    let mut seen = [0; 3];
    for _ in 0..3000 {
        seen[p.pick_index().unwrap()] += 1;
    }
    assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    // One set uniform, one not: the pick keeps alias tables, and each set
    // still draws among its own records by weight.
    let (g, r) = Pick::grouped(vec![
        vec![(a(1), 2, 1), (a(2), 2, 2)],
        vec![(c, 1, 3), (a(4), 3, 4)],
    ]);
    assert!(g.sampled);
    let mut seen = [0; 4];
    for _ in 0..4000 {
        seen[g.pick_in(r[0], g.total_of(r[0])).unwrap()] += 1;
        seen[g.pick_in(r[1], g.total_of(r[1])).unwrap()] += 1;
    }
    assert!(seen[0] > 1700 && seen[1] > 1700, "{seen:?}");
    assert!(
        seen[2] > 700 && seen[2] < 1300 && seen[3] > 2700,
        "{seen:?}"
    );
    assert_eq!(g.record(3, &owner), a(4));
}

#[test]
fn records_read_back_past_the_walk_with_and_without_alias_tables() {
    let owner = Name::from_ascii("p.tm.test.").unwrap();
    let record = |i: u8| match i % 3 {
        0 => Record::from_rdata(owner.clone(), 60, RData::A(A::new(192, 0, 2, i))),
        _ => {
            let host =
                Name::from_ascii(format!("h{}.example.", "x".repeat(usize::from(i)))).unwrap();
            Record::from_rdata(owner.clone(), 60, RData::CNAME(CNAME(host)))
        }
    };
    for equal in [true, false] {
        for n in [1u8, WALK as u8, WALK as u8 + 1, 20] {
            let entries: Vec<Entry> = (0..n)
                .map(|i| {
                    (
                        record(i),
                        if equal { 2 } else { u32::from(i) + 1 },
                        u32::from(i) * 7,
                    )
                })
                .collect();
            let p = Pick::new(entries.clone(), 1);
            assert_eq!(p.sampled, !equal && n > 1, "n={n}");
            assert_eq!(
                p.total(),
                entries.iter().map(|e| u64::from(e.1)).sum::<u64>()
            );
            for (i, (r, w, e)) in entries.iter().enumerate() {
                assert_eq!(&p.record(i, &owner), r, "n={n} i={i}");
                assert_eq!((p.weights()[i], p.endpoints()[i]), (*w, *e));
                assert_eq!(p.wire(i), &*wire::record(r, true).unwrap());
            }
            let drawn = p.pick_index().unwrap();
            assert!(drawn < usize::from(n));
        }
    }
}
