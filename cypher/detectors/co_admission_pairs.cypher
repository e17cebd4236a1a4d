// stage: co_admission, same-day co-occurrence
// Pairs of persons admitted (inpatient) to the same provider on the same day on at
// least $k distinct days. Only persons with $k or more admission days at a provider are
// paired, and a day with more than $cap such persons adds no pairs (an
// institution-wide day, and the cost bound). The co_admission detector weighs each
// pair against chance at the hospital's rhythm and groups them.
MATCH (c:Claim {visit_type: 'inpatient'})-[:AT]->(h)
MATCH (c)-[:BY_PERSON]->(p:Person)
WITH h, p, collect(DISTINCT date(c.start_time)) AS days
WHERE size(days) >= $k
UNWIND days AS d
WITH h, d, collect(p.person_id) AS ps
WHERE size(ps) >= 2 AND size(ps) <= $cap
UNWIND ps AS a
UNWIND ps AS b
WITH h, a, b
WHERE a < b
WITH coalesce(h.institution_id, h.pharmacy_id) AS h, a, b, count(*) AS days
WHERE days >= $k
RETURN h, a, b, days
ORDER BY h, a, b
