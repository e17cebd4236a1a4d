// stage: referral_loop, candidate cycles
// Institution referral cycles of 2 to 4 hops on the referral graph pruned to routes
// that carry at least $min_patients patients, weighted by the patients who travelled
// every route of the cycle (at least $min_patients). A ring's cycle is always among
// them, so an empty answer means the referral_loop detector has nothing to score.
// Each cycle is listed once, from its smallest institution id.
MATCH (a)-[r:REFERRED]->(b)
WHERE a <> b
WITH coalesce(a.institution_id, a.pharmacy_id) AS f,
     coalesce(b.institution_id, b.pharmacy_id) AS t, collect(DISTINCT r.person_id) AS pats
WHERE size(pats) >= $min_patients
WITH collect({f: f, t: t, pats: pats}) AS routes
CALL (routes) {
  UNWIND routes AS r1
  UNWIND [r IN routes WHERE r.f = r1.t AND r.t = r1.f] AS r2
  WITH r1, r2 WHERE r1.f < r1.t
  RETURN [r1.f, r1.t] AS cycle, [p IN r1.pats WHERE p IN r2.pats] AS shared
  UNION ALL
  UNWIND routes AS r1
  UNWIND [r IN routes WHERE r.f = r1.t AND r.t > r1.f AND r.t <> r1.t] AS r2
  UNWIND [r IN routes WHERE r.f = r2.t AND r.t = r1.f] AS r3
  WITH r1, r2, r3 WHERE r1.f < r1.t
  RETURN [r1.f, r1.t, r2.t] AS cycle,
         [p IN r1.pats WHERE p IN r2.pats AND p IN r3.pats] AS shared
  UNION ALL
  UNWIND routes AS r1
  UNWIND [r IN routes WHERE r.f = r1.t AND r.t > r1.f AND r.t <> r1.t] AS r2
  UNWIND [r IN routes WHERE r.f = r2.t AND r.t > r1.f AND NOT r.t IN [r1.t, r2.t]] AS r3
  UNWIND [r IN routes WHERE r.f = r3.t AND r.t = r1.f] AS r4
  WITH r1, r2, r3, r4 WHERE r1.f < r1.t
  RETURN [r1.f, r1.t, r2.t, r3.t] AS cycle,
         [p IN r1.pats WHERE p IN r2.pats AND p IN r3.pats AND p IN r4.pats] AS shared
}
WITH cycle, shared
WHERE size(shared) >= $min_patients
RETURN cycle, size(cycle) AS hops, size(shared) AS patients, shared
ORDER BY patients DESC, cycle
