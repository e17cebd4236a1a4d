// table: claims
// Settlements: the claim node with its person, card, provider, doctor and terminal.
MATCH (c:Claim)-[:BY_PERSON]->(p:Person)
MATCH (c)-[:AT]->(h)
OPTIONAL MATCH (c)-[:WITH_CARD]->(k:Card)
OPTIONAL MATCH (c)-[:TREATED_BY]->(d:Doctor)
OPTIONAL MATCH (c)-[:ON_TERMINAL]->(t:Terminal)
RETURN c.claim_id AS claim_id, p.person_id AS person_id, k.card_id AS card_id,
       coalesce(h.institution_id, h.pharmacy_id) AS provider_id, d.doctor_id AS doctor_id,
       c.visit_type AS visit_type, toString(c.start_time) AS start_time,
       toString(c.end_time) AS end_time, c.diagnosis_code AS diagnosis_code,
       c.total_amount AS total_amount, c.fund_amount AS fund_amount, t.key AS terminal_id
