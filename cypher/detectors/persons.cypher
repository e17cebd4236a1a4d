// table: persons
// The canonical persons rows, rebuilt from the graph: the phone, address and bank
// account are shared-identifier nodes (keyed pseudonyms), the name a pseudonym.
// id_number is not loaded into Neo4j and comes back empty.
MATCH (p:Person)
OPTIONAL MATCH (p)-[:HAS_PHONE]->(ph:Phone)
OPTIONAL MATCH (p)-[:HAS_ADDRESS]->(ad:Address)
OPTIONAL MATCH (p)-[:HAS_ACCOUNT]->(ac:Account)
RETURN p.person_id AS person_id, p.name_pseudonym AS name, null AS id_number,
       p.gender AS gender, toString(p.birth_date) AS birth_date, ph.key AS phone,
       ad.key AS address, p.region_code AS region_code, p.insurance_type AS insurance_type,
       p.employer_id AS employer_id, ac.key AS bank_account,
       toString(p.death_date) AS death_date
