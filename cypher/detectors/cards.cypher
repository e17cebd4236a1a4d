// table: cards
// Cards and their holders.
MATCH (p:Person)-[:HOLDS]->(k:Card)
RETURN k.card_id AS card_id, p.person_id AS person_id, toString(k.issued_date) AS issued_date,
       k.status AS status, toString(k.status_date) AS status_date
