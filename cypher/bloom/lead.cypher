// phrase: lead $id
// description: One lead and every member it involves, with their roles
// param: $id string Lead lead_id
// sample: MATCH (l:Lead) RETURN l.lead_id AS id ORDER BY l.score DESC LIMIT 1
MATCH path = (l:Lead {lead_id: $id})-[:INVOLVES]->(m)
RETURN path
