// stage: referral_loop, loop instances
// Per patient, a referral that brings them back to an institution that referred them
// away within $loop_days closes a loop; its legs are the patient's referrals from that
// departure to this return. Loops whose legs form a simple cycle of 2..$max_cycle
// institutions are returned, one row per leg, keyed by their cycle (its directed edges,
// sorted, "from<US>to" joined by <RS>) so that the same cycle travelled by other
// patients, or again, has the same key. The referral_loop detector scores these rows.
MATCH (a)-[r:REFERRED]->(b)
WHERE a <> b
WITH r.person_id AS pid,
     collect({id: r.referral_id, f: coalesce(a.institution_id, a.pharmacy_id),
              t: coalesce(b.institution_id, b.pharmacy_id), d: r.date,
              doctor: r.doctor_id}) AS refs
WHERE size(refs) >= 2
UNWIND refs AS back
WITH pid, refs, back,
     [x IN refs WHERE x.f = back.t AND x.d < back.d
                  AND x.d >= back.d - duration({days: $loop_days}) | x.d] AS departs
WHERE size(departs) > 0
WITH pid, refs, back,
     reduce(m = departs[0], x IN departs | CASE WHEN x > m THEN x ELSE m END) AS d1
WITH pid, back.id AS inst, [l IN refs WHERE l.d >= d1 AND l.d <= back.d] AS legs
WHERE size(legs) >= 2 AND size(legs) <= $max_cycle
CALL (legs) {
  UNWIND legs AS l
  WITH l.f + $us + l.t AS edge
  ORDER BY edge
  RETURN collect(edge) AS edges
}
WITH pid, inst, legs, edges,
     reduce(s = [], l IN legs | CASE WHEN l.f IN s THEN s ELSE s + l.f END) AS fs,
     reduce(s = [], l IN legs | CASE WHEN l.t IN s THEN s ELSE s + l.t END) AS ts
WHERE size(fs) = size(legs) AND size(ts) = size(legs) AND all(x IN fs WHERE x IN ts)
UNWIND legs AS l
RETURN inst, pid, l.id AS referral_id, l.f AS f, l.t AS t, toString(l.d) AS d,
       l.doctor AS doctor_id, size(legs) AS len,
       reduce(s = head(edges), e IN tail(edges) | s + $rs + e) AS cycle
ORDER BY inst, referral_id
