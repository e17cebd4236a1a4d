// phrase: co-admission days at $hospital
// description: Days on which several patients were admitted together to one hospital, busiest first
// param: $hospital string Institution institution_id
// sample: MATCH (l:Lead)-[:INVOLVES]->(h:Institution) WHERE l.pattern CONTAINS 'co_admission' RETURN h.institution_id AS hospital LIMIT 1
MATCH (h:Institution {institution_id: $hospital})<-[:AT]-(c:Claim {visit_type: 'inpatient'})
WITH h, date(c.start_time) AS day, collect(c) AS claims
WHERE size(claims) >= 3
ORDER BY size(claims) DESC
LIMIT 20
UNWIND claims AS c
MATCH path = (h)<-[:AT]-(c)-[:BY_PERSON]->(:Person)
RETURN path
