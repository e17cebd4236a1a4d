// phrase: referral loops through $institution
// description: Referral cycles of two to four hops that start and end at one institution
// param: $institution string Institution institution_id
// sample: MATCH (a:Institution)-[:REFERRED]->(b:Institution)-[:REFERRED]->(a) RETURN a.institution_id AS institution LIMIT 1
MATCH (i:Institution {institution_id: $institution})
MATCH path = (i)-[:REFERRED]->(j)-[:REFERRED*1..3]->(i)
WHERE j <> i
RETURN path
LIMIT 300
